"""The sandbox's limits: defaults, nbgrader_config.py, command-line options."""

from __future__ import annotations

from pathlib import Path

import pytest

from _helpers import REPO
from autograder.sandbox import SandboxPolicy, size


def test_the_defaults_are_the_issues_limits() -> None:
    policy = SandboxPolicy()
    assert (policy.memory_bytes, policy.processes, policy.file_bytes) == (2 * 1024**3, 64, 100 * 1024**2)
    assert policy.scratch_bytes == 512 * 1024**2
    assert policy.rlimits()["RLIMIT_NPROC"] == 64 and policy.rlimits()["RLIMIT_FSIZE"] == 100 * 1024**2


def test_the_course_config_states_the_defaults() -> None:
    assert SandboxPolicy.from_config(REPO) == SandboxPolicy(cell_timeout=120, budget=600)


def test_nbgrader_config_sets_limits_and_an_option_overrides_it(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.SandboxPolicy.memory_bytes = 1024**3\nc.SandboxPolicy.processes = 32\n", encoding="utf-8")
    assert SandboxPolicy.from_config(tmp_path).memory_bytes == 1024**3
    policy = SandboxPolicy.from_config(tmp_path, processes=16, memory_bytes=None)
    assert (policy.memory_bytes, policy.processes) == (1024**3, 16)


@pytest.mark.parametrize(("config", "message"), [
    ("c.SandboxPolicy.memroy_bytes = 1", "no setting 'memroy_bytes'"),
    ("c.SandboxPolicy.processes = 0", "processes must be a positive number"),
])
def test_a_bad_limit_in_the_config_is_refused(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\n{config}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        SandboxPolicy.from_config(tmp_path)


def test_limits_are_named_in_binary_units() -> None:
    assert [size(2 * 1024**3), size(100 * 1024**2), size(256 * 1024)] == ["2 GiB", "100 MiB", "256 KiB"]
