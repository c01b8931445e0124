"""Reading notebooks safely and checking that committed notebooks are clean.

A committed notebook carries no outputs, no execution counts and no machine
paths. :func:`cleanliness_problems` says what is wrong with one;
:func:`clean` returns a clean copy.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ds2mle.errors import NotebookError

__all__ = ["clean", "cleanliness_problems", "read_notebook", "write_notebook"]

# Home folders and temp folders that betray the machine a notebook was run on.
_MACHINE_PATH = re.compile(r"(/Users/[^/\s\"']+/|/home/[^/\s\"']+/|/tmp/[\w.-]+|[A-Z]:\\\\Users\\\\)")


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook as nbformat v4, with a one-line error if it cannot be.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file.

    Returns
    -------
    NotebookNode

    Raises
    ------
    NotebookError
        If the file is missing, is not JSON, or is not a valid notebook.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path} does not exist; check the path or run `ds2mle build`") from None
    except UnicodeDecodeError:
        raise NotebookError(f"{path} is not UTF-8 text; restore it from git") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "restore it from git or fix it in a text editor"
        ) from None
    try:
        nb: NotebookNode = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad notebooks
        raise NotebookError(f"{path} is JSON but not a Jupyter notebook ({exc}); restore it from git") from None
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` atomically, in nbformat's canonical layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def cleanliness_problems(nb: NotebookNode) -> list[str]:
    """List why ``nb`` is not clean enough to commit; empty if it is.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> cleanliness_problems(nb)
    []
    >>> nb.cells[0].execution_count = 3
    >>> cleanliness_problems(nb)
    ['cell 1 has an execution count']
    """
    problems: list[str] = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code":
            if cell.get("outputs"):
                problems.append(f"cell {index} has outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"cell {index} has an execution count")
        match = _MACHINE_PATH.search(cell.source)
        if match and "# ds2mle: allow-path" not in cell.source:
            problems.append(f"cell {index} contains a machine path {match.group(0)!r}")
    return problems


def clean(nb: NotebookNode) -> NotebookNode:
    """Return a copy of ``nb`` without outputs, execution counts or run metadata."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    out.metadata.pop("papermill", None)
    return out
