"""Tests for ds2mle.data.cli: the `ds2mle data` subcommands, through a parser built here."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from ds2mle.cli import main
from ds2mle.data import DRIFT_SCENARIOS, FAULTS, generate_transactions, read_transactions, write_parquet
from ds2mle.data.cli import register
from ds2mle.errors import DataError

from _helpers import REPO


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ds2mle")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", *argv])
    result: int = args.func(args)
    return result


def test_generate_writes_the_same_batch_as_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does `data generate` write exactly what generate_transactions returns, and say so?"""
    out = tmp_path / "sub" / "batch.parquet"
    assert run(["generate", "--rows", "2000", "--seed", "3", "--start", "2026-02-01", "--out", str(out)]) == 0
    expected = generate_transactions(n_rows=2_000, seed=3, start="2026-02-01")
    pd.testing.assert_frame_equal(read_transactions(out), expected)
    line = capsys.readouterr().out
    assert "wrote 2,000 transactions" in line and str(out) in line


def test_generate_csv_with_drift(tmp_path: Path) -> None:
    out = tmp_path / "batch.csv"
    assert (
        run(
            [
                "generate",
                "--rows",
                "1500",
                "--drift",
                "amount_inflation",
                "--strength",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    expected = generate_transactions(n_rows=1_500, drift="amount_inflation", drift_strength=2.0)
    pd.testing.assert_frame_equal(read_transactions(out), expected)


def test_faults_and_drifts_list_every_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["faults"]) == 0
    listed = capsys.readouterr().out
    for name, fault in FAULTS.items():
        assert f"{name} " in listed and fault.description in listed
    assert run(["drifts"]) == 0
    listed = capsys.readouterr().out
    for name, scenario in DRIFT_SCENARIOS.items():
        assert name in listed and scenario.statistic.description in listed


def test_damage_applies_a_frame_fault(small_batch: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "clean.csv"
    small_batch.to_csv(source, index=False)
    out = tmp_path / "dup.parquet"
    assert run(["damage", str(source), "--fault", "duplicates", "--rate", "0.1", "--out", str(out)]) == 0
    damaged = read_transactions(out)
    assert len(damaged) == len(small_batch) + 400
    assert not damaged["transaction_id"].is_unique


def test_damage_corrupts_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "clean.parquet"
    run(["generate", "--rows", "1000", "--out", str(source)])
    out = tmp_path / "broken.parquet"
    assert (
        run(["damage", str(source), "--fault", "corrupted_file", "--mode", "truncate", "--out", str(out)])
        == 0
    )
    assert out.stat().st_size < source.stat().st_size
    assert "corrupted bytes (truncate)" in capsys.readouterr().out
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_transactions(out)


# The Python API's argument names: a command-line error must name the flag instead (--rows, not n_rows).
API_WORDING = re.compile(r"n_rows|drift_strength|\b(rate|seed|days|start|drift)=|drift=None|DataFrame")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["generate", "--rows", "0", "--out", "x.parquet"], r"^--rows was 0; expected an integer >= 1, e\.g\. --rows"),
        (["generate", "--rows", "-3", "--out", "x.parquet"], r"^--rows was -3"),
        (["generate", "--rows", "10", "--seed", "-1", "--out", "x.parquet"], r"^--seed was -1; .* --seed 0"),
        (["generate", "--rows", "10", "--days", "0", "--out", "x.parquet"], r"^--days was 0; .*leave --days out"),
        (["generate", "--rows", "10", "--start", "someday", "--out", "x.parquet"], r"^--start 'someday' is not a date"),
        (
            ["generate", "--rows", "10", "--drift", "nope", "--out", "x.parquet"],
            r"Unknown drift scenario 'nope' for --drift\. .*`ds2mle data drifts`",
        ),
        (
            ["generate", "--rows", "10", "--strength", "2", "--out", "x.parquet"],
            r"--strength was given without --drift",
        ),
        (
            ["generate", "--rows", "10", "--drift", "amount_inflation", "--strength", "-1", "--out", "x.parquet"],
            r"^--strength was -1; expected a number >= 0",
        ),
        (["generate", "--rows", "10", "--out", "x.json"], r"expected \.parquet or \.csv"),
        (
            ["damage", "in.parquet", "--fault", "gremlins", "--out", "y.parquet"],
            r"Unknown fault 'gremlins'. Expected one of",
        ),
        (["damage", "missing.parquet", "--fault", "noise", "--out", "y.parquet"], r"no such file"),
        (["damage", "clean.parquet", "--fault", "noise", "--seed", "-2", "--out", "y.parquet"], r"^--seed was -2"),
        (
            ["damage", "clean.parquet", "--fault", "noise", "--rate", "5", "--out", "y.parquet"],
            r"^--rate was 5; expected a share of rows in \(0, 1\], e\.g\. --rate 0\.5",
        ),
        (
            ["damage", "clean.parquet", "--fault", "renamed_column", "--rate", "0.1", "--out", "y.parquet"],
            r"takes no --rate; leave --rate out",
        ),
        (["damage", "empty.parquet", "--fault", "noise", "--out", "y.parquet"], r"empty.parquet has no rows"),
    ],
)
def test_user_errors_raise_data_error_that_names_the_flag(
    argv: list[str], match: str, small_batch: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does each user error raise DataError (one line from the main CLI) that names the flag, not the API?"""
    monkeypatch.chdir(tmp_path)
    write_parquet(small_batch, tmp_path / "clean.parquet")
    write_parquet(small_batch.iloc[:0], tmp_path / "empty.parquet")
    with pytest.raises(DataError, match=match) as raised:
        run(argv)
    assert not API_WORDING.search(str(raised.value)), str(raised.value)
    assert not (tmp_path / "x.parquet").exists() and not (tmp_path / "y.parquet").exists()


def test_generate_rows_0_through_the_main_cli_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """Does `ds2mle data generate --rows 0` answer in one line about --rows (the learner's report)?"""
    assert main(["data", "generate", "--rows", "0", "--out", "x.parquet"]) == 1
    err = capsys.readouterr().err
    assert err == "error: --rows was 0; expected an integer >= 1, e.g. --rows 50000.\n"


def test_day_writes_consecutive_days_of_one_simulation(tmp_path: Path) -> None:
    """Do two --day runs with the same options split one window into consecutive days, sharing cards?"""
    common = ["generate", "--rows", "4000", "--start", "2026-03-01", "--days", "2"]
    assert run([*common, "--day", "2026-03-01", "--out", str(tmp_path / "yesterday.parquet")]) == 0
    assert run([*common, "--day", "2026-03-02", "--out", str(tmp_path / "today.parquet")]) == 0
    yesterday, today = read_transactions(tmp_path / "yesterday.parquet"), read_transactions(tmp_path / "today.parquet")
    assert set(yesterday["timestamp"].dt.strftime("%Y-%m-%d")) == {"2026-03-01"}
    assert set(today["timestamp"].dt.strftime("%Y-%m-%d")) == {"2026-03-02"}
    whole = generate_transactions(n_rows=4_000, start="2026-03-01", days=2)
    pd.testing.assert_frame_equal(pd.concat([yesterday, today], ignore_index=True), whole)
    assert not set(yesterday["transaction_id"]) & set(today["transaction_id"])
    assert len(set(yesterday["card_id"]) & set(today["card_id"])) > 100  # yesterday is history for today


def test_day_outside_the_window_names_the_window() -> None:
    with pytest.raises(DataError, match=r"^--day 2026-03-05 is outside the simulated window, 2026-03-01 to 2026-03-02"):
        run(["generate", "--rows", "100", "--start", "2026-03-01", "--days", "2", "--day", "2026-03-05",
             "--out", "x.parquet"])


def test_the_readmes_yesterday_and_today_commands_make_a_consecutive_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Do the README's commands for the score-batch example make yesterday.parquet and today.parquet?"""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines()
                if line.startswith("ds2mle data generate") and ("yesterday.parquet" in line or "today.parquet" in line)]
    assert len(commands) == 2, commands
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    yesterday, today = read_transactions("yesterday.parquet"), read_transactions("today.parquet")
    assert yesterday["timestamp"].max() < today["timestamp"].min()
    assert (today["timestamp"].min().normalize() - yesterday["timestamp"].min().normalize()) == pd.Timedelta(days=1)
    assert not set(yesterday["transaction_id"]) & set(today["transaction_id"])
