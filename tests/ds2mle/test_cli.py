"""Tests for ds2mle/cli.py: every user error is one line that names the fix, exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ds2mle.cli import main

from _helpers import REPO


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, pattern: str) -> None:
    import re

    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    monkeypatch.chdir(REPO)
    return REPO


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (("grade", "--self", "42"), r"unknown module '42'; known modules: 00-start-here, "),
        (("catch-up", "nope"), r"'nope' is neither a module nor a package file; give a module id"),
        (("verify", "--module", "99"), r"unknown module '99'"),
        (("grade", "--self", "07"), r"has no graded assignment yet"),  # the capstone: not written yet
        (("no-such-command",), r"invalid choice.*see `ds2mle --help`"),
        (("export", "missing.ipynb"), r"missing.ipynb does not exist"),
    ],
)
def test_user_errors_in_the_repo(in_repo: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], pattern: str) -> None:
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, pattern)


def test_malformed_manifest_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "course.toml").write_text("[course\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    code, _, err = run(capsys, "status")
    assert_one_line_error(code, err, r"course.toml is not valid TOML .* fix the syntax")


def test_export_of_invalid_json_notebook_is_one_line(repo_copy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = repo_copy()
    notebook = root / "assignments/00-start-here/split-by-time.ipynb"
    notebook.write_text('{"cells": [', encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    code, _, err = run(capsys, "export", str(notebook))
    assert_one_line_error(code, err, r"split-by-time.ipynb is not valid JSON .* restore it from git")


def test_status_before_any_progress(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "00-start-here" in out and "07-capstone" in out and "coming soon" in out


def test_console_script_is_installed_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    """Does the real `ds2mle` executable exit 1 with one line outside a course?"""
    exe = shutil.which("ds2mle") or str(Path(sys.executable).with_name("ds2mle"))
    proc = subprocess.run([exe, "status"], cwd=tmp_path, capture_output=True, text=True, check=False,
                          env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no course.toml found" in proc.stderr


@pytest.mark.parametrize("argv", [("status",), ("data", "faults"), ("data", "drifts")])
def test_a_closed_pipe_ends_the_command_quietly(argv: tuple[str, ...]) -> None:
    """Does `ds2mle status | head -4` stop without a BrokenPipeError when the reader has gone?

    The reader's end of a real pipe is closed before the command writes, which is what `head` does
    once it has its lines; the command must print nothing on stderr and exit 141 (128 + SIGPIPE).
    """
    exe = shutil.which("ds2mle") or str(Path(sys.executable).with_name("ds2mle"))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([exe, *argv], cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              check=False, env={k: v for k, v in os.environ.items() if k != "DS2MLE_ROOT"})
    finally:
        os.close(write_end)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 141


@pytest.mark.parametrize("command", ["start", "status", "build", "verify", "clean"])
def test_help_of_each_command_has_a_description_with_what_it_writes_and_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does `ds2mle COMMAND --help` explain the command (more than its one-line help), what it writes, and
    show an example?"""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    usage, _, rest = out.partition("\n\n")
    description = " ".join(rest.partition("\noptions:")[0].split())
    assert usage.startswith(f"usage: ds2mle {command}")
    assert len(description) > 200, f"no description paragraph in `ds2mle {command} --help`:\n{out}"
    assert "writ" in description.lower(), description  # what it writes (or that it writes nothing)
    assert f"`ds2mle {command}" in description, description  # an example
