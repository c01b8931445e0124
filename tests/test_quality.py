"""The whole tree's quality gates, as CI runs them: `ruff check .` (notebooks included) and mypy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from _helpers import REPO


@pytest.mark.slow
def test_ruff_passes_on_the_whole_tree_notebooks_included() -> None:
    """Is every Python file and notebook of the repository lint-clean under the pinned rule set?"""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_mypy_passes_on_ds2mle_the_grader_and_fraudguard() -> None:
    """Do ds2mle, autograder and the reference fraudguard pass mypy --strict (files from pyproject.toml)?"""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
