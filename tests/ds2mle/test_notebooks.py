"""Tests for ds2mle/notebooks.py: reading and cleanliness."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ds2mle.errors import NotebookError
from ds2mle.notebooks import clean, cleanliness_problems, read_notebook

from _helpers import REPO, write_nb


def test_every_committed_notebook_is_clean() -> None:
    """Do the notebooks in git carry no outputs, counts or machine paths?"""
    problems = {
        str(path.relative_to(REPO)): cleanliness_problems(read_notebook(path))
        for top in ("course", "solutions", "assignments")
        for path in (REPO / top).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    }
    assert problems and not {k: v for k, v in problems.items() if v}


def test_clean_removes_outputs_and_counts(tmp_path: Path) -> None:
    path = write_nb(tmp_path / "n.ipynb", "print(1)")
    nb = read_notebook(path)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].execution_count = 7
    assert cleanliness_problems(nb) == ["cell 1 has outputs", "cell 1 has an execution count"]
    assert cleanliness_problems(clean(nb)) == []
    assert nb.cells[0].execution_count == 7, "clean returns a copy"


@pytest.mark.parametrize("source", ["df = pd.read_csv('/home/ana/data.csv')", "open('/tmp/tmpab12cd/x')"])
def test_machine_paths_are_flagged(tmp_path: Path, source: str) -> None:
    nb = read_notebook(write_nb(tmp_path / "n.ipynb", source))
    assert "machine path" in cleanliness_problems(nb)[0]


def test_a_deliberate_example_path_can_be_allowed(tmp_path: Path) -> None:
    nb = read_notebook(write_nb(tmp_path / "n.ipynb", "PATH = '/Users/dana/x.csv'  # ds2mle: allow-path"))
    assert cleanliness_problems(nb) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", r"not valid JSON"), ('{"cells": 3}', r"not a Jupyter notebook"), (None, r"does not exist")],
)
def test_unreadable_notebooks_give_one_line_errors(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(NotebookError, match=message):
        read_notebook(path)
