"""Rebuild a submission into the notebook that is actually graded.

A learner can delete, retype, duplicate, split or edit any cell. Grading
never trusts their copy of a cell it owns. The policy, applied in the order
of the **source** notebook (``solutions/``):

1. **Test cells and locked cells** are always taken from the source, hidden
   tests included. Edited, deleted or retyped copies do not matter.
2. **Answer cells** (nbgrader ``solution`` cells) take the learner's text from
   the *first* learner cell with the same ``grade_id`` and the same cell type.
   If there is none (deleted or retyped), the unanswered cell from the student
   version (``assignments/``) is used, so the tests that need it fail cleanly.
3. **The learner's own cells** (no nbgrader id, an id the source does not
   know, or a later duplicate of an id) are kept, as plain cells, right after
   the source cell they followed in the learner's notebook.

The result is deterministic: the same submission always grades the same way.
"""

from __future__ import annotations

import copy

from nbformat import NotebookNode
from nbformat.corpus.words import generate_corpus_id
from nbformat.v4 import new_notebook

__all__ = ["grade_id", "merge_submission", "is_answer_cell", "is_test_cell", "is_manual_cell"]


def grade_id(cell: NotebookNode) -> str | None:
    """The nbgrader ``grade_id`` of a cell, or ``None`` for an ordinary cell."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict):
        return None
    value = meta.get("grade_id")
    return value if isinstance(value, str) and value else None


def _flag(cell: NotebookNode, name: str) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(isinstance(meta, dict) and meta.get(name))


def is_answer_cell(cell: NotebookNode) -> bool:
    """Is this a cell the learner is meant to write in?"""
    return _flag(cell, "solution")


def is_test_cell(cell: NotebookNode) -> bool:
    """Is this an autograded test: a graded code cell that is not an answer?"""
    return cell.cell_type == "code" and _flag(cell, "grade") and not _flag(cell, "solution")


def is_manual_cell(cell: NotebookNode) -> bool:
    """Is this a written answer, graded by hand?"""
    return _flag(cell, "grade") and _flag(cell, "solution") and cell.cell_type == "markdown"


def merge_submission(
    *, submission: NotebookNode, source: NotebookNode, release: NotebookNode
) -> NotebookNode:
    """Apply the policy above and return the notebook to execute.

    Parameters
    ----------
    submission : NotebookNode
        The learner's notebook, possibly altered.
    source : NotebookNode
        The nbgrader source, with solutions and hidden tests.
    release : NotebookNode
        The student version the learner started from.

    Returns
    -------
    NotebookNode
        A new notebook; the inputs are not modified.
    """
    release_by_id = {gid: cell for cell in release.cells if (gid := grade_id(cell))}
    source_ids = {gid for cell in source.cells if (gid := grade_id(cell))}

    answers: dict[str, NotebookNode] = {}
    extras: dict[str | None, list[NotebookNode]] = {}
    anchor: str | None = None
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid in source_ids and gid not in answers:
            answers[gid] = cell
            anchor = gid
            continue
        plain = copy.deepcopy(cell)
        plain.metadata.pop("nbgrader", None)
        if plain.cell_type == "code":
            plain.outputs = []
            plain.execution_count = None
        extras.setdefault(anchor, []).append(plain)

    cells: list[NotebookNode] = list(extras.get(None, []))
    for src_cell in source.cells:
        gid = grade_id(src_cell)
        if gid is None:
            cells.append(copy.deepcopy(src_cell))
            continue
        if is_answer_cell(src_cell):
            theirs = answers.get(gid)
            if theirs is not None and theirs.cell_type == src_cell.cell_type:
                cell = copy.deepcopy(src_cell)
                cell.source = theirs.source
            else:
                cell = copy.deepcopy(release_by_id.get(gid, src_cell))
                if gid not in release_by_id:  # never hand the solution to the grader's run
                    cell.source = ""
            cells.append(cell)
        else:
            cells.append(copy.deepcopy(src_cell))
        cells.extend(extras.get(gid, []))
    seen: set[str] = set()
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "id" in cell and cell.id in seen:
            cell.id = generate_corpus_id()
        seen.add(cell.get("id", ""))
    merged: NotebookNode = new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    return merged
