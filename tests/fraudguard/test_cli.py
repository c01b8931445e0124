"""Tests for fraudguard/cli.py: help, exit codes, one-line errors, and the commands end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from fraudguard.cli import main

from ds2mle.data import write_parquet


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "serve", "score-batch", "promote"):
        assert command in out


@pytest.mark.parametrize("command", ["train", "serve", "score-batch", "promote"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage: fraudguard " + command in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score-batch"]) == 2
    assert "Missing option '--input'" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2


def test_user_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "missing.parquet")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fraudguard: error: no transactions file at")
    assert not any("Traceback" in line for line in err)


def test_invalid_settings_are_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUDGUARD_PORT", "70000")
    assert main(["serve"]) == 1
    assert (
        "fraudguard: error: invalid settings: port: Input should be less than or equal to 65535"
        in capsys.readouterr().err
    )


@pytest.mark.slow
def test_train_promote_and_score_batch_through_the_console_script(
    fraudguard_command: str, package_env: dict[str, str], month: pd.DataFrame, tmp_path: Path
) -> None:
    """The daily routine: train and promote, score a day; promoting a missing version is a one-line error."""
    last = month["timestamp"].max().floor("D")
    write_parquet(month[month["timestamp"] < last], tmp_path / "labelled.parquet")
    write_parquet(month[month["timestamp"] >= last].drop(columns=["is_fraud"]), tmp_path / "today.parquet")
    env = {
        **package_env,
        "FRAUDGUARD_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "FRAUDGUARD_LOG_LEVEL": "WARNING",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [fraudguard_command, *args], env=env, capture_output=True, text=True, cwd=tmp_path, check=False
        )

    trained = run(
        "train", "--data", str(tmp_path / "labelled.parquet"), "--max-iter", "40", "--promote", "production"
    )
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("registered fraudguard version 1, alias production: ROC AUC")
    scored = run(
        "score-batch",
        "--input",
        str(tmp_path / "today.parquet"),
        "--output",
        str(tmp_path / "scores.parquet"),
    )
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith(
        f"scored {int((month['timestamp'] >= last).sum())} transactions with model "
    )
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == int((month["timestamp"] >= last).sum())
    missing = run("promote", "7")
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "fraudguard: error: fraudguard has no version '7'; register one with `fraudguard train` first"
    )
