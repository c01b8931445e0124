"""A checkout (and its virtual environment) under /tmp, as CI may clone it: the sandbox still builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import jobs, sandbox
from autograder.sandbox import SandboxPolicy, worker_command


def test_python_under_tmp_gets_a_real_tmp_and_no_zygote(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With Python under /tmp, is /tmp a tmpfs to bind it into (not the symlink into /submission), and the zygote off?"""
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [Path("/tmp/ci-main/.venv")])
    monkeypatch.setattr(jobs, "_python_roots", lambda: [Path("/tmp/ci-main/.venv")])
    command, _, _ = worker_command(bwrap="/usr/bin/bwrap", work=tmp_path, reference=None, policy=SandboxPolicy(), uid=None)
    joined = " ".join(command)
    assert "--tmpfs /tmp" in joined and "--symlink /submission/.tmp /tmp" not in joined
    assert "--ro-bind /tmp/ci-main/.venv /tmp/ci-main/.venv" in joined
    assert not jobs.use_zygote()
