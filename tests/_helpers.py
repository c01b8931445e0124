"""Helpers shared by tests (importable because pyproject puts tests/ on pythonpath)."""

from __future__ import annotations

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
