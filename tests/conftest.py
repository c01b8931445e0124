"""Shared fixtures: small, throw-away courses built in a temporary folder."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from _helpers import REPO, WHOLE_COURSE_VERIFY, start_whole_course_verify, stop_whole_course_verify, write_nb


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The whole-course verify's test goes last: it only waits for the verify started in the background."""
    items.sort(key=lambda item: item.name == WHOLE_COURSE_VERIFY)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the whole-course verify as soon as its test is selected, to run alongside the other tests."""
    if not session.config.option.collectonly and any(item.name == WHOLE_COURSE_VERIFY for item in session.items):
        start_whole_course_verify()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_whole_course_verify()

MINI_MANIFEST = """
[course]
title = "mini"
package = "fraudguard"

[[modules]]
id = "00"
slug = "00-intro"
title = "Intro"
skill_gap = "orientation"

  [[modules.lessons]]
  notebook = "00-lesson.ipynb"
  exports = ["features.py"]

[[modules]]
id = "01"
slug = "01-next"
title = "Next"
skill_gap = "1. engineering foundations"
"""


@pytest.fixture
def mini_course(tmp_path: Path) -> Path:
    """A one-lesson course whose lesson exports fraudguard/features.py."""
    (tmp_path / "course.toml").write_text(textwrap.dedent(MINI_MANIFEST), encoding="utf-8")
    write_nb(
        tmp_path / "solutions" / "course" / "00-intro" / "00-lesson.ipynb",
        "#| export\n\"\"\"Features.\"\"\"\n\ndef double(x: int) -> int:\n    return 2 * x",
        "double(2)",
        "#| export\nTRIPLE = 3",
    )
    pkg = tmp_path / "src" / "fraudguard"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""skeleton"""\n', encoding="utf-8")
    return tmp_path


@pytest.fixture
def repo_copy(tmp_path: Path) -> Callable[[], Path]:
    """Copy the real course (manifest, notebooks, package, config) into tmp_path."""

    def make() -> Path:
        dest = tmp_path / "repo"
        shutil.copytree(
            REPO,
            dest,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".ds2mle", "gradebook.db",
                "*.egg-info", "tests", "benchmarks", ".pytest_cache", ".mypy_cache",
            ),
        )
        return dest

    return make
