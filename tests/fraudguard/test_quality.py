"""The package's quality gates, as CI and pre-commit run them: ruff, mypy --strict, and their configuration."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _helpers import REPO

import fraudguard

PACKAGE = Path(fraudguard.__file__).parent  # the package under test (see conftest.py)


@pytest.mark.slow
def test_ruff_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(PACKAGE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(PACKAGE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_package_code_never_prints() -> None:
    offenders = [
        p.name for p in PACKAGE.glob("*.py") if re.search(r"\bprint\(", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_ci_workflow_runs_the_three_gates_on_the_package() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "fraudguard.yml").read_text(encoding="utf-8"))
    runs = [step.get("run", "") for step in workflow["jobs"]["check"]["steps"]]
    assert any(r.startswith("ruff check") for r in runs)
    assert any(r.startswith("mypy --strict") for r in runs)
    assert any("pytest tests/fraudguard" in r for r in runs)
    assert workflow["env"]["FRAUDGUARD_UNDER_TEST"] in ("reference", "src")


def test_pre_commit_hooks_are_local_and_refuse_pickles() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"]), "hooks must work offline"
    assert {"ruff", "mypy", "clean-notebooks", "no-pickles"} <= set(hooks)
    assert hooks["no-pickles"]["language"] == "fail" and "pkl" in hooks["no-pickles"]["files"]
