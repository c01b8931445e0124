"""Tests for autograder/merge.py: the cell-restoring policy, without running anything."""

from __future__ import annotations

import copy

import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.merge import grade_id, merge_submission


def cell(kind: str, gid: str, source: str, **flags: bool) -> NotebookNode:
    meta = {"nbgrader": {"grade_id": gid, "grade": False, "solution": False, "locked": False, "schema_version": 3, **flags}}
    if kind == "markdown":
        return new_markdown_cell(source, metadata=meta)
    return new_code_cell(source, metadata=meta)


@pytest.fixture
def source() -> NotebookNode:
    return new_notebook(cells=[
        cell("markdown", "intro", "Task", locked=True),
        cell("code", "answer", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", solution=True),
        cell("code", "test_visible", "assert f() == 1", grade=True, locked=True),
        cell("code", "test_hidden", "### BEGIN HIDDEN TESTS\nassert f() + 1 == 2\n### END HIDDEN TESTS", grade=True, locked=True),
    ])


@pytest.fixture
def release(source: NotebookNode) -> NotebookNode:
    nb = copy.deepcopy(source)
    nb.cells[1].source = "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    nb.cells[3].source = ""
    return nb


def sources(nb: NotebookNode) -> list[str]:
    return [c.source for c in nb.cells]


def test_answer_is_kept_and_tests_come_from_the_source(source: NotebookNode, release: NotebookNode) -> None:
    submission = copy.deepcopy(release)
    submission.cells[1].source = "def f():\n    return 1"
    submission.cells[2].source = "pass  # learner 'fixed' the test"
    merged = merge_submission(submission=submission, source=source, release=release)
    assert sources(merged)[1] == "def f():\n    return 1"
    assert sources(merged)[2] == "assert f() == 1", "an edited test cell is restored"
    assert "HIDDEN TESTS" in sources(merged)[3], "hidden tests are restored from the source"


def test_deleted_test_cells_are_added_back(source: NotebookNode, release: NotebookNode) -> None:
    submission = copy.deepcopy(release)
    del submission.cells[2:]
    merged = merge_submission(submission=submission, source=source, release=release)
    assert [grade_id(c) for c in merged.cells] == ["intro", "answer", "test_visible", "test_hidden"]


def test_a_retyped_answer_falls_back_to_the_unanswered_stub(source: NotebookNode, release: NotebookNode) -> None:
    submission = copy.deepcopy(release)
    submission.cells[1] = cell("markdown", "answer", "def f(): return 1", solution=True)
    merged = merge_submission(submission=submission, source=source, release=release)
    assert merged.cells[1].cell_type == "code"
    assert "NotImplementedError" in merged.cells[1].source


def test_the_solution_never_leaks_into_a_deleted_answer(source: NotebookNode) -> None:
    """If neither learner nor release has the answer cell, is it empty rather than the solution?"""
    empty = new_notebook(cells=[])
    merged = merge_submission(submission=empty, source=source, release=empty)
    assert merged.cells[1].source == ""
    assert all("return 1" not in c.source for c in merged.cells)


def test_duplicates_and_extra_cells_are_kept_in_place_as_plain_cells(source: NotebookNode, release: NotebookNode) -> None:
    submission = copy.deepcopy(release)
    submission.cells[1].source = "def f():\n    return 1"
    duplicate = copy.deepcopy(submission.cells[1])
    duplicate.source = "def f():\n    return 2"
    helper = new_code_cell("x = 42")
    submission.cells[2:2] = [duplicate, helper]
    merged = merge_submission(submission=submission, source=source, release=release)
    assert sources(merged)[:4] == [source.cells[0].source, "def f():\n    return 1", "def f():\n    return 2", "x = 42"]
    assert grade_id(merged.cells[2]) is None, "a duplicate loses its grade id: it earns nothing"
    assert all(c.get("outputs", []) == [] for c in merged.cells if c.cell_type == "code")


def test_merging_is_deterministic(source: NotebookNode, release: NotebookNode) -> None:
    submission = copy.deepcopy(release)
    submission.cells.reverse()
    first = merge_submission(submission=submission, source=source, release=release)
    second = merge_submission(submission=submission, source=source, release=release)
    assert first == second
