"""Tests for fraudguard/cli.py: help, exit codes, one-line errors, and the commands end to end."""

from __future__ import annotations

import subprocess
import types
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
    assert capsys.readouterr().err == (
        "fraudguard: error: invalid settings: FRAUDGUARD_PORT='70000': Input should be less than or equal to 65535\n"
    )


def test_a_bad_variable_does_not_break_help_and_is_named_by_the_command_that_needs_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With FRAUDGUARD_PORT=abc, does --help still work, and does serve name the variable in one line?"""
    monkeypatch.setenv("FRAUDGUARD_PORT", "abc")
    assert main(["--help"]) == 0
    assert main(["serve", "--help"]) == 0
    capsys.readouterr()
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fraudguard: error: invalid settings: FRAUDGUARD_PORT='abc': Input should be a valid integer")


def test_a_bad_option_is_named_as_an_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "day.csv").write_text("", encoding="utf-8")
    args = ["score-batch", "--input", str(tmp_path / "day.csv"), "--output", str(tmp_path / "out.parquet")]
    assert main([*args, "--threshold", "1.5"]) == 1
    assert capsys.readouterr().err == (
        "fraudguard: error: invalid settings: threshold=1.5 (argument): Input should be less than 1\n"
    )


def test_help_shows_each_settings_variable_and_its_default_value(capsys: pytest.CaptureFixture[str]) -> None:
    """Does --help say `[env var: FRAUDGUARD_PORT; default: 8000]`, not the variable's name as the default?"""
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # click wraps long help lines
    assert "[env var: FRAUDGUARD_PORT; default: 8000]" in out
    assert "[env var: FRAUDGUARD_HOST; default: 127.0.0.1]" in out
    assert "[default: FRAUDGUARD_" not in out
    assert main(["score-batch", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[env var: FRAUDGUARD_THRESHOLD; default: the threshold stored with the model]" in out


@pytest.mark.parametrize("fraction", ["1.5", "0", "1", "-0.2"])
def test_an_out_of_range_test_fraction_is_a_usage_error_naming_the_flag(
    fraction: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--data", str(tmp_path / "x.parquet"), "--test-fraction", fraction]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--test-fraction': must be between 0 and 1 (exclusive)" in err
    assert "Traceback" not in err


@pytest.fixture
def damaged_files(transactions: pd.DataFrame, tmp_path: Path) -> dict[str, Path]:
    write_parquet(transactions.head(300), tmp_path / "good.parquet")
    good = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all" * 50)
    (tmp_path / "broken.csv").write_text('transaction_id,timestamp\n1,2,3,4\n"unclosed,5\n', encoding="utf-8")
    return {name: tmp_path / name for name in ("truncated.parquet", "garbage.parquet", "broken.csv")}


@pytest.mark.parametrize("name", ["truncated.parquet", "garbage.parquet", "broken.csv"])
def test_train_on_a_corrupted_file_is_one_line_and_exit_1(
    name: str, damaged_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Does `fraudguard train` on a damaged file print one line naming it, with no ArrowInvalid traceback?"""
    assert main(["train", "--data", str(damaged_files[name])]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fraudguard: error: {damaged_files[name]} is truncated or corrupted (")


@pytest.mark.parametrize("name", ["truncated.parquet", "broken.csv"])
def test_score_batch_on_a_corrupted_file_is_one_line_and_exit_1(
    name: str, damaged_files: dict[str, Path], saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["score-batch", "--input", str(damaged_files[name]), "--output", str(tmp_path / "scores.parquet")]
    assert main([*args, "--model-uri", str(saved_model)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fraudguard: error: {damaged_files[name]} is truncated or corrupted (")


def test_score_batch_leaves_the_threshold_to_the_model_unless_one_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Is threshold=None (the model's cost-chosen threshold) passed on when neither option nor variable sets it?"""
    import fraudguard.batch
    import fraudguard.cli

    seen: list[float | None] = []

    def score_file(*, threshold: float | None, output_path: Path, **_: object) -> object:
        seen.append(threshold)
        return types.SimpleNamespace(rows=3, flagged=1, model_version="2", rows_per_second=10.0, output=output_path)

    monkeypatch.setattr(fraudguard.batch, "score_file", score_file)
    monkeypatch.setattr(fraudguard.cli, "load_model_from_uri", lambda uri, *, settings: object())
    monkeypatch.delenv("FRAUDGUARD_THRESHOLD", raising=False)
    args = ["score-batch", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.parquet")]
    assert main(args) == 0
    assert "at the model's threshold" in capsys.readouterr().out
    assert main([*args, "--threshold", "0.3"]) == 0
    monkeypatch.setenv("FRAUDGUARD_THRESHOLD", "0.25")
    assert main(args) == 0
    assert seen == [None, 0.3, 0.25]


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
