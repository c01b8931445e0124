"""Tests for ds2mle/build.py: generated files are in sync, and drift is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ds2mle.build import build, check
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
