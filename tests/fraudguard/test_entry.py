"""Tests for fraudguard/_entry.py: the `fraudguard` console script before and after cli.py exists.

Each test builds a package folder in tmp_path from the package under test and puts it first on the
console script's PYTHONPATH, as a learner's src/fraudguard would be at that point of the course.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import fraudguard
import pytest
from _helpers import REPO

PACKAGE = Path(fraudguard.__file__).resolve().parent


def fraudguard_script(package_root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `fraudguard` console script with ``package_root`` first on PYTHONPATH."""
    script = Path(sys.executable).with_name("fraudguard")
    assert script.is_file(), f"{script} is missing: run `python -m pip install -e .`"
    return subprocess.run(
        [str(script), *args], cwd=package_root, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(package_root), "MLFLOW_DISABLE_TELEMETRY": "true", **env},
    )


def skeleton(root: Path) -> Path:
    """The package as the learner gets it: __init__.py and the entry point, no cli.py."""
    package = root / "fraudguard"
    package.mkdir(parents=True)
    for name in ("__init__.py", "_entry.py"):
        shutil.copyfile(PACKAGE / name, package / name)
    return package


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_help_before_cli_py_exists_names_the_lesson_that_writes_it(tmp_path: Path) -> None:
    """Does `fraudguard --help` on the skeleton say which lesson writes cli.py, instead of a traceback?"""
    skeleton(tmp_path)
    proc = fraudguard_script(tmp_path, "--help")
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("fraudguard: error: ")
    assert "module 01, lesson 03-logging-and-a-cli writes fraudguard/cli.py" in line
    assert "`ds2mle catch-up 01`" in line


def test_the_lesson_named_for_cli_py_is_the_one_the_manifest_says_owns_it() -> None:
    """Does the entry point's message still agree with course.toml about who writes cli.py?"""
    from ds2mle.manifest import load_course

    owners = [nb for nb in load_course(REPO).notebooks if "cli.py" in nb.exports]
    assert len(owners) == 1
    module_id = owners[0].module_slug.split("-")[0]
    message = (PACKAGE / "_entry.py").read_text(encoding="utf-8")
    assert f"module {module_id}, lesson {owners[0].stem} writes fraudguard/cli.py" in message
    assert f"`ds2mle catch-up {module_id}`" in message


@pytest.fixture
def full_copy(tmp_path: Path) -> Path:
    """A copy of the whole package under test (cli.py included)."""
    shutil.copytree(PACKAGE, tmp_path / "fraudguard", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_an_unfinished_exercise_is_one_line_with_its_file_and_line(full_copy: Path) -> None:
    """Does a command that reaches a NotImplementedError stub print the stub's message and place, no traceback?"""
    if not (full_copy / "fraudguard" / "cli.py").is_file():
        pytest.skip("the package under test has no cli.py yet")
    stub = (
        "def promote(version, *, settings, alias):\n"
        '    """Point a registry alias at a model version."""\n'
        '    raise NotImplementedError("write promote(): point the alias at the version with MlflowClient")\n'
    )
    (full_copy / "fraudguard" / "registry.py").write_text(stub, encoding="utf-8")
    proc = fraudguard_script(full_copy, "promote", "3")
    assert proc.returncode == 1
    assert one_line(proc.stderr) == (
        "fraudguard: error: an exercise is unfinished: write promote(): point the alias at the version with "
        "MlflowClient (registry.py:3 of fraudguard)"
    )


def test_the_clis_own_error_handling_and_help_still_work_through_the_entry_point(full_copy: Path) -> None:
    """Do `fraudguard --help` and the CLI's own one-line errors pass through the entry point unchanged?"""
    if not (full_copy / "fraudguard" / "cli.py").is_file():
        pytest.skip("the package under test has no cli.py yet")
    helped = fraudguard_script(full_copy, "--help")
    assert helped.returncode == 0 and re.search(r"Usage: fraudguard ", helped.stdout), helped.stderr
    refused = fraudguard_script(full_copy, "serve", FRAUDGUARD_PORT="99999")
    assert refused.returncode == 1
    line = one_line(refused.stderr)  # the CLI's own message for a bad setting, passed through as it is
    assert line.startswith("fraudguard: error: invalid settings:") and "PORT" in line.upper() and "65535" in line


def test_later_modules_add_their_commands_and_a_missing_one_is_simply_absent(tmp_path: Path) -> None:
    """Are the `fraudguard.commands` entry points wired in, and skipped while their module is not written?"""
    full = tmp_path / "full"
    shutil.copytree(PACKAGE, full / "fraudguard", ignore=shutil.ignore_patterns("__pycache__"))
    listed = fraudguard_script(full, "--help")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^\s+validate\s", listed.stdout, re.MULTILINE), listed.stdout
    partial = tmp_path / "partial"
    shutil.copytree(PACKAGE, partial / "fraudguard", ignore=shutil.ignore_patterns("__pycache__", "data_commands.py"))
    without = fraudguard_script(partial, "--help")
    assert without.returncode == 0, without.stderr
    assert "train" in without.stdout and not re.search(r"^\s+validate\s", without.stdout, re.MULTILINE)
