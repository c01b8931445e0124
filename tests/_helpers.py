"""Helpers shared by tests (importable because pyproject puts tests/ on pythonpath)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


def write_nb(path: Path, *cells: str, markdown: str | None = None) -> Path:
    """Write a notebook whose code cells have the given sources."""
    nb = new_notebook(
        cells=([new_markdown_cell(markdown)] if markdown else []) + [new_code_cell(src) for src in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


_SOLUTION_MARKS = re.compile(r"\n?[ \t]*### (BEGIN|END) SOLUTION[ \t]*")


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Grade id to code of each answer cell of an nbgrader source, without its solution markers."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: _SOLUTION_MARKS.sub("", cell.source)
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    }


def reference_answers(notebook: str) -> dict[str, str]:
    """The reference answers of ``solutions/assignments/<notebook>`` (``"<slug>/<name>.ipynb"``)."""
    return answer_cells(nbformat.read(str(REPO / "solutions" / "assignments" / notebook), as_version=4))


def swap(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced once; fails loudly if a variant's anchor is gone."""
    assert text.count(old) == 1, f"the variant's anchor is gone or ambiguous: {old!r}"
    return text.replace(old, new)
