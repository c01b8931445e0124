"""Tests for fraudguard/data_commands.py: `fraudguard validate` and `fraudguard ingest`, exit codes by severity.

The commands are registered on an app built here (``register(app)``), as fraudguard's CLI does through the
``fraudguard.commands`` entry point.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from fraudguard.batch_checks import BatchThresholds, learn_thresholds, measure
from fraudguard.data_commands import register
from typer.testing import CliRunner

from ds2mle.data import corrupt_file, generate_transactions, inject_fault, write_parquet


def _job_time(day: pd.DataFrame) -> pd.Timestamp:
    first: pd.Timestamp = day["timestamp"].dt.floor("D").mode().iloc[0]
    return first + pd.Timedelta(hours=25)


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    register(application)
    return application


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    week = generate_transactions(n_rows=14_000, seed=77, start="2026-03-02", days=7)
    days = week["timestamp"].dt.floor("D")
    return week[days == days.unique()[2]].reset_index(drop=True)


@pytest.fixture(scope="module")
def thresholds_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    window = generate_transactions(n_rows=28_000, seed=100, start="2026-01-05", days=14)
    days = [d for _, d in window.groupby(window["timestamp"].dt.floor("D"))]
    thresholds = learn_thresholds(pd.DataFrame([measure(d, as_of=_job_time(d)) for d in days]))
    path = tmp_path_factory.mktemp("thresholds") / "thresholds.json"
    path.write_text(thresholds.to_json(), encoding="utf-8")
    return path


def _validate(app: typer.Typer, batch: Path, *options: str) -> tuple[int, list[str], dict[str, object]]:
    result = CliRunner().invoke(app, ["validate", str(batch), *options])
    report_path = batch.with_suffix("").with_name(batch.with_suffix("").name + ".report.json")
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return result.exit_code, result.output.strip().splitlines(), report


def test_both_commands_are_registered_with_help(app: typer.Typer) -> None:
    runner = CliRunner()
    for command in ("validate", "ingest"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "exit 0 ok / 1 warnings / 2 refused" in " ".join(result.output.split())


def test_a_clean_batch_exits_0(app: typer.Typer, day: pd.DataFrame, tmp_path: Path, thresholds_file: Path) -> None:
    write_parquet(day, tmp_path / "day.parquet")
    code, lines, report = _validate(
        app, tmp_path / "day.parquet", "--thresholds", str(thresholds_file), "--as-of", _job_time(day).isoformat()
    )
    assert code == 0, lines
    assert report["rows_in"] == report["rows_accepted"] == len(day) and len(report["checks"]) == 5  # type: ignore[arg-type]


def test_quarantined_rows_exit_1(app: typer.Typer, day: pd.DataFrame, tmp_path: Path) -> None:
    write_parquet(inject_fault(day, "duplicates", seed=1), tmp_path / "dups.parquet")
    code, lines, report = _validate(app, tmp_path / "dups.parquet")
    assert code == 1 and lines[0].startswith("partial:")
    assert (tmp_path / "dups.quarantine.parquet").is_file() and report["balanced"] is True


def test_a_failed_batch_check_exits_2(app: typer.Typer, day: pd.DataFrame, tmp_path: Path, thresholds_file: Path) -> None:
    write_parquet(inject_fault(day, "late_events", seed=1), tmp_path / "late.parquet")
    code, lines, _ = _validate(
        app, tmp_path / "late.parquet", "--thresholds", str(thresholds_file), "--as-of", _job_time(day).isoformat()
    )
    assert code == 2 and any(line.startswith("fail: outside_day_share") for line in lines)


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("missing.parquet", None, "no batch file"),
        ("empty.csv", "empty", "is empty"),
        ("notes.txt", "text", "not a Parquet or CSV file"),
        ("cut.parquet", "truncated", "truncated or corrupted"),
        ("zero.parquet", "zero", "has no rows"),
        ("bad_rows.parquet", "bad_rows", "every one of its 30 rows"),
        ("renamed.parquet", "renamed", "merchant_category renamed"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_the_accounting_holds(
    app: typer.Typer, day: pd.DataFrame, tmp_path: Path, name: str, make: str | None, words: str
) -> None:
    """Is each kind of bad input refused with one line, exit 2, and a balanced report?"""
    target = tmp_path / name
    if make == "empty":
        target.write_bytes(b"")
    elif make == "text":
        target.write_text("not a batch", encoding="utf-8")
    elif make == "truncated":
        write_parquet(day, tmp_path / "whole.parquet")
        target.write_bytes(corrupt_file(tmp_path / "whole.parquet", seed=2))
    elif make == "zero":
        write_parquet(day.iloc[:0], target)
    elif make == "bad_rows":
        write_parquet(day.head(30).assign(amount_cents=-100), target)
    elif make == "renamed":
        write_parquet(inject_fault(day, "renamed_column"), target)
    code, lines, report = _validate(app, target)
    assert code == 2
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in lines[0]
    assert report["status"] == "refused" and report["balanced"] is True
    assert report["rows_in"] == report["rows_accepted"] + report["rows_quarantined"]  # type: ignore[operator]


def test_ingest_writes_accepted_quarantine_and_report(app: typer.Typer, day: pd.DataFrame, tmp_path: Path) -> None:
    write_parquet(inject_fault(day, "null_burst", seed=1), tmp_path / "batch.parquet")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "batch.parquet"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    accepted = pd.read_parquet(tmp_path / "out" / "accepted.parquet")
    quarantined = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert len(accepted) + len(quarantined) == len(day) == report["rows_in"]


def test_an_unreadable_thresholds_file_is_one_error_line(app: typer.Typer, day: pd.DataFrame, tmp_path: Path) -> None:
    write_parquet(day, tmp_path / "day.parquet")
    code, lines, _ = _validate(app, tmp_path / "day.parquet", "--thresholds", str(tmp_path / "none.json"))
    assert code == 2 and lines == [f"fraudguard: error: cannot read thresholds {tmp_path / 'none.json'} (No such file or directory)"]


def test_as_of_needs_a_time_zone(app: typer.Typer, day: pd.DataFrame, tmp_path: Path, thresholds_file: Path) -> None:
    write_parquet(day, tmp_path / "day.parquet")
    result = CliRunner().invoke(
        app, ["validate", str(tmp_path / "day.parquet"), "--thresholds", str(thresholds_file), "--as-of", "2026-03-05"]
    )
    assert result.exit_code == 2


def test_thresholds_json_is_what_learn_thresholds_wrote(thresholds_file: Path) -> None:
    assert BatchThresholds.from_json(thresholds_file.read_text(encoding="utf-8")).bands
