"""The learner's copy of a lesson, and what its exercises are.

A lesson is written once, with its solutions, in ``solutions/course/``
(``docs/authoring-lessons.md``). The learner's copy in ``course/`` is made by
nbgrader's own preprocessors: ``ClearSolutions`` replaces each solution
region with ``raise NotImplementedError()``, and ``ClearOutput`` empties the
outputs. The one thing added here is the stub's sentence: the exercise's
``# TODO:`` line just above the region becomes the stub's message, so a
learner who runs the unfinished code is told what to write.

:func:`exercises` lists a notebook's exercises: each exercise cell (one with
a solution region) and the check cell that follows it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nbformat import NotebookNode

__all__ = ["Exercise", "check_ids", "exercises", "learner_copy"]

_BEGIN = "BEGIN SOLUTION"
_TODO = re.compile(r"^(?P<indent>\s*)# TODO: (?P<text>.*\S)\s*$")
_STUB = "raise NotImplementedError()"
_CHECK = re.compile(r"^@check\(\s*[\"'](?P<id>[^\"']+)[\"']", re.MULTILINE)
_WRITEFILE = re.compile(r"^%%writefile\s+(?:-a\s+)?(?P<path>\S+)")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: where the learner writes, and where it is checked.

    Attributes
    ----------
    id : str
        The check's id (the first argument of ``@check``).
    cell : int
        0-based index of the exercise cell.
    check_cell : int
        0-based index of the check cell that follows it.
    """

    id: str
    cell: int
    check_cell: int


def learner_copy(source: NotebookNode) -> NotebookNode:
    """Generate the learner's copy of a lesson from its source.

    Parameters
    ----------
    source : NotebookNode
        The lesson with its solutions (``solutions/course/...``).

    Returns
    -------
    NotebookNode
        A new notebook: solution regions replaced by stubs that raise
        ``NotImplementedError("TODO: ...")`` (in ``%%writefile`` cells of
        other languages, the ``# TODO:`` line alone), outputs cleared.

    Examples
    --------
    >>> import nbformat
    >>> code = "def f():\\n    # TODO: return 1.\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    >>> print(learner_copy(nb).cells[0].source)
    def f():
        raise NotImplementedError("TODO: return 1.")
    """
    import copy

    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb: NotebookNode = copy.deepcopy(source)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata["kernelspec"].setdefault("language", "python")
    clear = ClearSolutions(enforce_metadata=False, code_stub={"python": _STUB}, text_stub="YOUR ANSWER HERE")
    nb, resources = clear.preprocess(nb, {})
    ClearOutput().preprocess(nb, resources)  # in place
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _name_the_stubs(cell.source)
    return nb


def _name_the_stubs(source: str) -> str:
    """Turn ``# TODO: text`` + ``raise NotImplementedError()`` into one line that says what to write."""
    writefile = _WRITEFILE.match(source)
    python = writefile is None or writefile.group("path").endswith(".py")
    lines = source.split("\n")
    out: list[str] = []
    for line in lines:
        todo = _TODO.match(out[-1]) if out else None
        if line.strip() == _STUB and todo is not None and len(line) - len(line.lstrip()) == len(todo.group("indent")):
            if python:  # a double-quoted literal (JSON's escapes are Python's): what `_is_exercise` and export look for
                out[-1] = f"{todo.group('indent')}raise NotImplementedError({json.dumps('TODO: ' + todo.group('text'), ensure_ascii=False)})"
            continue  # non-Python file: the TODO comment stays, the Python stub goes
        out.append(line)
    return "\n".join(out)


def exercises(nb: NotebookNode) -> list[Exercise]:
    """The exercises of a lesson source or learner copy, in order.

    An exercise cell has a solution region (source) or a TODO stub (copy);
    its check is the next code cell that applies ``@check``. Several exercise
    cells may share one check.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not _is_exercise(cell.source):
            continue
        for later in range(index + 1, len(nb.cells)):
            nxt = nb.cells[later]
            if nxt.cell_type == "code" and _is_exercise(nxt.source):
                break
            match = _CHECK.search(nxt.source) if nxt.cell_type == "code" else None
            if match:
                found.append(Exercise(match.group("id"), index, later))
                break
    return found


def check_ids(nb: NotebookNode) -> list[str]:
    """Every check id a notebook applies, in order (for ``ds2mle status``)."""
    return [m.group("id") for cell in nb.cells if cell.cell_type == "code" for m in _CHECK.finditer(cell.source)]


def _is_exercise(source: str) -> bool:
    return _BEGIN in source or 'NotImplementedError("TODO: ' in source or "NotImplementedError('TODO: " in source
