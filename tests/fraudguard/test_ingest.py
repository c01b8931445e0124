"""Tests for fraudguard/ingest.py: reading, quarantine with a reason per row, and row accounting on every batch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fraudguard.errors import DataError
from fraudguard.ingest import (
    REASON_COLUMN,
    AccountingError,
    check_accounting,
    ingest_batch,
    read_batch,
    split_batch,
)
from fraudguard.schema_changes import BatchRefused

from ds2mle.data import corrupt_file, generate_transactions, inject_fault, write_parquet


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    return generate_transactions(n_rows=800, seed=31, start="2026-03-04", days=1)


def _ingest(tmp_path: Path, name: str) -> tuple[dict[str, object], pd.DataFrame]:
    report, _ = ingest_batch(
        tmp_path / name, quarantine_path=tmp_path / "q.parquet", report_path=tmp_path / "report.json"
    )
    assert report.balanced
    return json.loads((tmp_path / "report.json").read_text(encoding="utf-8")), pd.read_parquet(tmp_path / "q.parquet")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("missing.parquet", None, "no batch file"),
        ("empty.csv", b"", "is empty"),
        ("batch.json", b"{}", "not a Parquet or CSV file"),
        ("garbage.parquet", b"PAR1 this is not parquet", "truncated or corrupted"),
    ],
)
def test_bad_files_are_refused_with_one_line_and_zero_rows(
    tmp_path: Path, name: str, content: bytes | None, words: str
) -> None:
    """Is a file that cannot be read a 'refused' report with one line and balanced (zero) accounting?"""
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=words):
        read_batch(tmp_path / name)
    report, quarantine = _ingest(tmp_path, name)
    assert report["status"] == "refused" and report["rows_in"] == 0 and report["balanced"] is True
    assert words in str(report["message"]) and "\n" not in str(report["message"])
    assert len(quarantine) == 0


def test_a_truncated_parquet_file_is_refused(tmp_path: Path, day: pd.DataFrame) -> None:
    write_parquet(day, tmp_path / "good.parquet")
    (tmp_path / "cut.parquet").write_bytes(corrupt_file(tmp_path / "good.parquet", seed=4))
    report, _ = _ingest(tmp_path, "cut.parquet")
    assert report["status"] == "refused" and "truncated or corrupted" in str(report["message"])


def test_zero_rows_is_refused(tmp_path: Path, day: pd.DataFrame) -> None:
    write_parquet(day.iloc[:0], tmp_path / "zero.parquet")
    report, _ = _ingest(tmp_path, "zero.parquet")
    assert (report["status"], report["rows_in"]) == ("refused", 0)
    assert "no rows" in str(report["message"])


def test_only_bad_rows_are_all_quarantined(tmp_path: Path, day: pd.DataFrame) -> None:
    write_parquet(day.head(25).assign(currency="JPY"), tmp_path / "bad.parquet")
    report, quarantine = _ingest(tmp_path, "bad.parquet")
    assert (report["status"], report["rows_accepted"], report["rows_quarantined"]) == ("refused", 0, 25)
    assert (quarantine[REASON_COLUMN] == "currency isin(('CHF', 'EUR', 'GBP', 'NOK', 'PLN', 'SEK', 'USD'))").all()


def test_a_hard_rule_break_quarantines_every_row_with_the_refusal(tmp_path: Path, day: pd.DataFrame) -> None:
    write_parquet(inject_fault(day, "dropped_column"), tmp_path / "no_device.parquet")
    report, quarantine = _ingest(tmp_path, "no_device.parquet")
    assert (report["status"], report["rows_quarantined"]) == ("refused", len(day))
    assert quarantine[REASON_COLUMN].str.contains("device missing").all()


@pytest.mark.parametrize("fault", ["null_burst", "duplicates", "out_of_range", "unseen_category"])
def test_row_faults_are_quarantined_and_accounted_for(tmp_path: Path, day: pd.DataFrame, fault: str) -> None:
    damaged = inject_fault(day, fault, seed=5)
    write_parquet(damaged, tmp_path / "batch.parquet")
    report, quarantine = _ingest(tmp_path, "batch.parquet")
    assert report["status"] == "partial"
    assert report["rows_in"] == len(damaged) == report["rows_accepted"] + report["rows_quarantined"]
    assert (quarantine[REASON_COLUMN] != "").all()


def test_duplicates_keep_their_first_copy(day: pd.DataFrame) -> None:
    """Is the original of a re-sent payment accepted, and only its repeats quarantined?"""
    resent = inject_fault(day, "duplicates", seed=6)
    accepted, quarantined = split_batch(resent)
    assert sorted(accepted["transaction_id"]) == sorted(day["transaction_id"])
    assert len(quarantined) == len(resent) - len(day)


def test_a_csv_batch_reads_like_its_parquet_twin(tmp_path: Path, day: pd.DataFrame) -> None:
    day.to_csv(tmp_path / "day.csv", index=False)
    from_csv = read_batch(tmp_path / "day.csv")
    assert str(from_csv["timestamp"].dtype) == "datetime64[ns, UTC]"
    accepted, quarantined = split_batch(from_csv)
    assert len(accepted) == len(day) and len(quarantined) == 0


def test_a_batch_level_failure_refuses_instead_of_splitting(day: pd.DataFrame) -> None:
    with pytest.raises(BatchRefused):
        split_batch(day.drop(columns=["currency"]))


def test_check_accounting_catches_a_lost_row(day: pd.DataFrame) -> None:
    with pytest.raises(AccountingError, match="1 rows lost"):
        check_accounting(10, day.head(5), day.head(4))
    check_accounting(9, day.head(5), day.head(4))
