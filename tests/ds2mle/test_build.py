"""Tests for ds2mle/build.py: generated files are in sync, and drift is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ds2mle.build import build, check, render_reference_package
from ds2mle.manifest import load_course

from _helpers import REPO


def test_committed_course_is_in_sync() -> None:
    """Is `ds2mle build --check` green on the repository as committed?"""
    assert check(load_course(REPO)) == []


def test_check_reports_a_stale_student_version(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    source = root / "solutions/assignments/00-start-here/split-by-time.ipynb"
    nb = json.loads(source.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "# A changed introduction\n"
    source.write_text(json.dumps(nb), encoding="utf-8")
    problems = check(load_course(root))
    assert any("assignments/00-start-here/split-by-time.ipynb is out of date" in p for p in problems)


def test_check_reports_outputs_in_a_committed_notebook(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    lesson = root / "course/00-start-here/00-how-this-course-works.ipynb"
    nb = json.loads(lesson.read_text(encoding="utf-8"))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 1
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    lesson.write_text(json.dumps(nb), encoding="utf-8")
    problems = check(load_course(root))
    assert any("00-how-this-course-works.ipynb: cell" in p and "has outputs" in p for p in problems)


def test_check_reports_a_hand_edited_reference_file(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    build(load_course(root))  # in sync first, whatever the working tree holds
    ref = root / "solutions/fraudguard/splits.py"
    ref.write_text(ref.read_text(encoding="utf-8") + "\n# hand edit\n", encoding="utf-8")
    problems = check(load_course(root))
    assert problems == ["solutions/fraudguard/splits.py differs from the export of its notebook; run `ds2mle build`"]


def test_check_reports_points_that_disagree_with_the_manifest(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    manifest = root / "course.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("points = 10", "points = 12"), encoding="utf-8")
    problems = check(load_course(root))
    assert any("says 12 points but its grade cells add up to 10" in p for p in problems)


def test_build_regenerates_what_check_wants(repo_copy: Callable[[], Path]) -> None:
    """After build, is check green again, and are stale reference files removed?"""
    root = repo_copy()
    build(load_course(root))
    (root / "assignments/00-start-here/split-by-time.ipynb").unlink()
    (root / "solutions/fraudguard/orphan.py").write_text("x = 1\n", encoding="utf-8")
    course = load_course(root)
    assert len(check(course)) == 2
    build(course)
    assert check(course) == []
    assert not (root / "solutions/fraudguard/orphan.py").exists()


@pytest.mark.parametrize("hidden", ["BEGIN HIDDEN TESTS", "_refuses(lambda"])
def test_student_version_has_no_hidden_tests_or_solutions(hidden: str) -> None:
    text = (REPO / "assignments/00-start-here/split-by-time.ipynb").read_text(encoding="utf-8")
    assert hidden not in text
    assert "math.ceil" not in text and "raise NotImplementedError()" in text


def test_a_learners_mine_and_bak_files_are_not_part_of_the_reference_package(
    repo_copy: Callable[[], Path],
) -> None:
    """Do `catch-up`'s *.mine and export's *.bak copies stay out of the reference package and its check?"""
    root = repo_copy()
    course = load_course(root)
    for name in ("splits.py.mine", "splits.py.mine.1", "features.py.bak"):
        (course.package_dir / name).write_text("MINE = 1\n", encoding="utf-8")
    reference = render_reference_package(course)
    assert not [name for name in reference if ".mine" in name or ".bak" in name]


def test_check_reports_a_stale_learner_copy_of_a_lesson(repo_copy: Callable[[], Path]) -> None:
    """Is a hand-edited course/ lesson (the learner's copy, generated from solutions/course/) reported?"""
    root = repo_copy()
    build(load_course(root))
    lesson = root / "course/00-start-here/01-setup-check.ipynb"
    nb = json.loads(lesson.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "# edited by hand"
    lesson.write_text(json.dumps(nb), encoding="utf-8")
    assert check(load_course(root)) == [
        "course/00-start-here/01-setup-check.ipynb is out of date with "
        "solutions/course/00-start-here/01-setup-check.ipynb; run `ds2mle build`"
    ]
