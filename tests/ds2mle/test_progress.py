"""Tests for ds2mle/progress.py: `ds2mle status` before any progress and after some, on a course copy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from ds2mle.cli import main
from ds2mle.manifest import load_course
from ds2mle.progress import module_progress, record_self_grade, render_table, status_frame

START_PAGE = "course/00-start-here/00-how-this-course-works.ipynb"
SECOND_LESSON = "course/00-start-here/01-setup-check.ipynb"


def run_all_cells(path: Path, *, upto: int | None = None) -> None:
    """Mark code cells as run, as JupyterLab saves them (JupyterLab skips empty cells)."""
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    for count, cell in enumerate(code[:upto], start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, str(path))


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    """`ds2mle status` as printed: {module slug or "  lesson": {column: value}}, cut at the dashes' columns."""
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[1])]
    headers = [lines[0][a:b].strip() for a, b in spans]
    rows = {}
    for line in lines[2:]:
        cells = [line[a:b if i < len(spans) - 1 else None].strip() for i, (a, b) in enumerate(spans)]
        key = cells[0] if not line.startswith("  ") else f"  {cells[0]}"
        rows[key] = dict(zip(headers, cells, strict=True))
    return rows


@pytest.fixture
def course_root(repo_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    root = repo_copy()
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    return root


def test_status_before_any_progress_shows_every_module_at_zero(
    course_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does a fresh clone show every module, nothing run, nothing exported and no score?"""
    course = load_course(course_root)
    rows = status(capsys)
    assert [k for k in rows if not k.startswith("  ")] == [m.slug for m in course.modules]
    start = course.module("00")
    assert rows["00-start-here"]["title"] == "Start here"
    assert rows["00-start-here"]["lessons run"] == f"0/{len(start.lessons)}"
    assert rows["00-start-here"]["package files"] == f"0/{sum(len(nb.exports) for nb in start.notebooks)}"
    assert rows["00-start-here"]["self-grade"] == "-"
    assert rows["  00-how-this-course-works"]["lessons run"] == "no"
    assert rows["07-capstone"]["lessons run"] == "coming soon"
    rows_as_data = module_progress(course)
    assert all(p.lessons_run == 0 and p.files_exported == 0 and p.score is None for p in rows_as_data)


def test_status_after_some_progress_counts_lessons_files_and_the_last_self_grade(
    course_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Are a lesson run to its end, an exported file and the latest self-grade all counted?"""
    course = load_course(course_root)
    run_all_cells(course_root / START_PAGE)
    run_all_cells(course_root / SECOND_LESSON, upto=1)  # tried one cell: not run yet
    (course.package_dir / "splits.py").write_text('"""Exported."""\n', encoding="utf-8")
    record_self_grade(course, module_slug="00-start-here", score=4, max_score=10)
    record_self_grade(course, module_slug="00-start-here", score=7.5, max_score=10)

    start = course.module("00")
    files = sum(len(nb.exports) for nb in start.notebooks)
    rows = status(capsys)
    assert rows["00-start-here"]["lessons run"] == f"1/{len(start.lessons)}"
    assert rows["00-start-here"]["package files"] == f"1/{files}"
    assert rows["00-start-here"]["self-grade"] == f"7.5/{start.points:g} auto"
    assert rows["  00-how-this-course-works"]["lessons run"] == "yes"
    assert rows["  01-setup-check"]["lessons run"] == "no"

    frame = status_frame(course)
    assert frame.loc["00-start-here", "lessons run"] == f"1/{len(start.lessons)}"
    assert frame.loc["00-start-here", "self-grade"] == f"7.5/{start.points:g} auto"
    assert frame.loc["07-capstone", "lessons run"] == "coming soon"


def test_status_shows_autograded_and_hand_graded_points_apart_and_the_best_attempt(
    course_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After 8/8 autograded with 2 points left to a person, is it "8/8 auto + 2 by hand", not "8/10"?"""
    course = load_course(course_root)
    record_self_grade(course, module_slug="00-start-here", score=8, max_score=10, manual_points=2)
    assert status(capsys)["00-start-here"]["self-grade"] == "8/8 auto + 2 by hand"
    record_self_grade(course, module_slug="00-start-here", score=5, max_score=10, manual_points=2)
    assert status(capsys)["00-start-here"]["self-grade"] == "5/8 auto + 2 by hand (best 8/8)"


def test_an_exercise_is_done_while_the_code_its_check_passed_on_is_in_the_package(
    course_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Is an exercise counted once its check passed and the same code is exported, and no longer once it changes?"""
    import linecache

    from ds2mle.checks import check

    course = load_course(course_root)
    lesson = course.module("01").lessons[0]
    copy = lesson.student_path(course_root)
    nb = nbformat.read(str(copy), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('@check("tiny_exercise", module="fraudguard.tiny")\ndef _(f):\n    pass'))
    nbformat.write(nb, str(copy))
    total = len(__import__("ds2mle.lessons", fromlist=["check_ids"]).check_ids(nb))
    code = "def f(x):\n    return x + 1\n"
    linecache.cache["<cell tiny>"] = (len(code), None, code.splitlines(True), "<cell tiny>")
    namespace: dict[str, object] = {"check": check}
    exec(compile(code, "<cell tiny>", "exec"), namespace)  # noqa: S102 - the test plays the kernel
    monkeypatch.setenv("DS2MLE_ROOT", str(course_root))
    exec(compile('@check("tiny_exercise", module="fraudguard.tiny")\ndef _(f):\n    pass', "<c>", "exec"), namespace)  # noqa: S102
    capsys.readouterr()
    row = f"  {lesson.stem}"
    assert status(capsys)[row]["exercises done"] == f"0/{total}", "passed in the notebook, not exported yet"
    (course.package_dir / "tiny.py").write_text('"""Tiny."""\n\n\n' + code, encoding="utf-8")
    assert status(capsys)[row]["exercises done"] == f"1/{total}"
    (course.package_dir / "tiny.py").write_text("def f(x):\n    return x + 2\n", encoding="utf-8")
    assert status(capsys)[row]["exercises done"] == f"0/{total}", "the package no longer has the code that passed"


def test_a_lesson_saved_without_running_every_cell_is_not_run(course_root: Path) -> None:
    """Is a lesson where the learner ran only its first cell still shown as not run?"""
    course = load_course(course_root)
    run_all_cells(course_root / START_PAGE, upto=1)
    assert module_progress(course)[0].lessons_run == 0
    run_all_cells(course_root / START_PAGE)
    assert module_progress(course)[0].lessons_run == 1


@pytest.mark.parametrize(
    "stored",
    [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"self_grades": ["not", "a", "table"]}),
        json.dumps({"self_grades": {"00-start-here": {"score": "lots"}}}),
        json.dumps({"self_grades": {"00-start-here": {"max_score": 10}}}),
    ],
)
def test_a_damaged_progress_file_shows_no_score_and_is_repaired_by_the_next_grade(
    course_root: Path, stored: str
) -> None:
    """Does a hand-edited .ds2mle/progress.json give "-" instead of a traceback, until the next self-grade?"""
    course = load_course(course_root)
    store = course_root / ".ds2mle" / "progress.json"
    store.parent.mkdir()
    store.write_text(stored, encoding="utf-8")
    assert module_progress(course)[0].score is None
    assert "Traceback" not in render_table(module_progress(course))
    record_self_grade(course, module_slug="00-start-here", score=3, max_score=10)
    assert module_progress(course)[0].score == 3
