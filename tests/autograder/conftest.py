"""Fixtures for the grading tests: a tiny nbgrader course that needs no simulator."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

TINY_MANIFEST = """
[course]
title = "tiny"
package = "fraudguard"

[[modules]]
id = "00"
slug = "00-tiny"
title = "Tiny"
skill_gap = "orientation"

  [[modules.assignments]]
  notebook = "double.ipynb"
  points = 7
  exports = ["doubling.py"]

[[modules]]
id = "01"
slug = "01-next"
title = "Next"
skill_gap = "1. engineering foundations"
"""

NBGRADER_CONFIG = """
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "tiny"
c.CourseDirectory.source_directory = "solutions/assignments"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
"""

RIGHT = "def double(x):\n    return 2 * x"
WRONG = "def double(x):\n    return x + 2"  # right for 2 only


def _cell(kind: str, gid: str, source: str, **flags: object) -> NotebookNode:
    meta = {"nbgrader": {"grade_id": gid, "grade": False, "solution": False, "locked": False,
                         "schema_version": 3, "task": False, **flags}}
    return (new_markdown_cell if kind == "markdown" else new_code_cell)(source, metadata=meta)


def tiny_source() -> NotebookNode:
    """The nbgrader source: an answer, a visible test (2), a hidden test (3), a written answer (2)."""
    return new_notebook(
        cells=[
            _cell("markdown", "intro", "# Double it", locked=True),
            _cell("code", "imports", "import math", locked=True),
            _cell("code", "double", "### BEGIN SOLUTION\n" + RIGHT + "\n### END SOLUTION", solution=True),
            _cell("code", "test_visible", 'assert double(2) == 4, "double(2) should be 4"', grade=True, locked=True, points=2),
            _cell("code", "test_hidden",
                  "# hidden tests\n### BEGIN HIDDEN TESTS\n_secret_cases = [(0, 0), (-3, -6), (10, 20)]\n"
                  "for _x, _y in _secret_cases:\n"
                  '    assert double(_x) == _y, f"double({_x}) should be {_y}"\n'
                  "### END HIDDEN TESTS",
                  grade=True, locked=True, points=3),
            _cell("markdown", "explain", "### BEGIN SOLUTION\nBecause.\n### END SOLUTION", grade=True, solution=True, points=2),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )


@pytest.fixture
def tiny_course(tmp_path: Path) -> Path:
    """A one-assignment course at ``tmp_path / "course"``, student version built."""
    root = tmp_path / "course"
    (root / "solutions" / "assignments" / "00-tiny").mkdir(parents=True)
    (root / "course.toml").write_text(textwrap.dedent(TINY_MANIFEST), encoding="utf-8")
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    nbformat.write(tiny_source(), str(root / "solutions" / "assignments" / "00-tiny" / "double.ipynb"))
    ref = root / "solutions" / "fraudguard"
    ref.mkdir()
    (ref / "__init__.py").write_text('"""reference"""\n', encoding="utf-8")
    (ref / "doubling.py").write_text("SECRET = 'module 00 owns this file'\n", encoding="utf-8")
    from ds2mle.build import generate_student_versions
    from ds2mle.manifest import load_course

    generate_student_versions(load_course(root), root / "assignments")
    return root


def student_version(root: Path) -> NotebookNode:
    """The generated student version of the tiny assignment."""
    return nbformat.read(str(root / "assignments" / "00-tiny" / "double.ipynb"), as_version=4)


def answered(root: Path, code: str, written: str | None = None) -> NotebookNode:
    """The student version with ``code`` in the answer cell (and a written answer)."""
    nb = student_version(root)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "double":
            cell.source = code
        elif gid == "explain" and written is not None:
            cell.source = written
    return nb


@pytest.fixture
def submit(tiny_course: Path) -> Callable[..., Path]:
    """Put a submission in submitted/<student>/00-tiny/ (a notebook, raw bytes, or nothing)."""

    def put(student: str, nb: NotebookNode | bytes | None, *, timestamp: str | None = "2026-01-30 15:00:00 UTC",
            files: dict[str, bytes] | None = None) -> Path:
        folder = tiny_course / "submitted" / student / "00-tiny"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if isinstance(nb, bytes):
            (folder / "double.ipynb").write_bytes(nb)
        elif nb is not None:
            (folder / "double.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        if timestamp:
            (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")
        for rel, data in (files or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        return folder

    return put
