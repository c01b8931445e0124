"""Tests for fraudguard/data.py: explicit dtypes, UTC timestamps, every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fraudguard.data import REQUIRED_COLUMNS, coerce_transactions, load_transactions
from fraudguard.errors import DataError

from ds2mle.data import write_parquet


def test_parquet_round_trip_keeps_values_with_declared_dtypes(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    write_parquet(transactions, tmp_path / "tx.parquet")
    loaded = load_transactions(tmp_path / "tx.parquet", require_labels=True)
    assert str(loaded["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert loaded["amount_cents"].dtype == "int64" and loaded["is_fraud"].dtype == "int8"
    assert loaded["customer_id"].dtype == "string"
    assert (loaded["timestamp"].to_numpy() == transactions["timestamp"].dt.as_unit("ns").to_numpy()).all()


def test_csv_with_local_offsets_is_converted_to_the_same_utc_instants(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    local = transactions.assign(
        timestamp=transactions["timestamp"].dt.tz_convert("Europe/Warsaw").map(pd.Timestamp.isoformat)
    )
    local.to_csv(tmp_path / "tx.csv", index=False)
    loaded = load_transactions(tmp_path / "tx.csv")
    assert (loaded["timestamp"] == transactions["timestamp"]).all()
    assert (loaded["timestamp"].dt.hour == transactions["timestamp"].dt.hour).all()


def test_naive_timestamps_are_refused_with_the_fix(transactions: pd.DataFrame, tmp_path: Path) -> None:
    transactions.assign(timestamp=transactions["timestamp"].dt.tz_localize(None)).to_csv(
        tmp_path / "naive.csv", index=False
    )
    with pytest.raises(DataError, match=r"without a time zone; expected an offset"):
        load_transactions(tmp_path / "naive.csv")


def test_missing_columns_are_all_named(transactions: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"missing columns: card_id, currency \(2 of"):
        coerce_transactions(transactions.drop(columns=["card_id", "currency"]))


def test_labels_are_required_only_for_training(transactions: pd.DataFrame) -> None:
    unlabelled = transactions.drop(columns=["is_fraud", "label_available_at"])
    assert len(coerce_transactions(unlabelled)) == len(transactions)
    with pytest.raises(DataError, match="is_fraud"):
        coerce_transactions(unlabelled, require_labels=True)


def test_every_bad_value_is_reported_at_once(transactions: pd.DataFrame) -> None:
    broken = transactions.head(20).astype({"amount_cents": "float64"})
    broken.loc[broken.index[:3], "amount_cents"] = 12.5
    broken["timestamp"] = broken["timestamp"].dt.tz_localize(None)
    with pytest.raises(DataError) as caught:
        coerce_transactions(broken)
    assert "timestamp has no time zone" in str(caught.value)
    assert "amount_cents has 3 missing or non-integer values" in str(caught.value)


@pytest.mark.parametrize("name", ["missing.parquet", "transactions.xlsx"])
def test_unreadable_paths_are_user_errors(tmp_path: Path, name: str) -> None:
    (tmp_path / "transactions.xlsx").write_text("not a spreadsheet")
    with pytest.raises(DataError):
        load_transactions(tmp_path / name)


def test_input_frame_is_not_modified(transactions: pd.DataFrame) -> None:
    before = transactions.copy()
    coerce_transactions(transactions)
    pd.testing.assert_frame_equal(transactions, before)
    assert set(REQUIRED_COLUMNS) <= set(transactions.columns)


def _truncated(path: Path, good: bytes) -> None:
    path.write_bytes(good[: len(good) // 2])


def _garbage(path: Path, good: bytes) -> None:
    path.write_bytes(b"\x00garbage, not a Parquet file\xff" * 40)


def _bad_footer(path: Path, good: bytes) -> None:
    """Keep the magic bytes and the footer length, scramble the footer itself (a thrift error)."""
    length = int.from_bytes(good[-8:-4], "little")
    path.write_bytes(good[: -8 - length] + bytes(range(256)) * (length // 256) + b"\x07" * (length % 256) + good[-8:])


@pytest.mark.parametrize("damage", [_truncated, _garbage, _bad_footer], ids=["truncated", "garbage", "bad-footer"])
def test_a_corrupted_parquet_file_is_a_data_error_naming_the_file(
    transactions: pd.DataFrame, tmp_path: Path, damage: object
) -> None:
    """Is a damaged Parquet file reported as fraudguard's DataError, not pyarrow's ArrowInvalid or OSError?"""
    write_parquet(transactions.head(200), tmp_path / "good.parquet")
    damage(tmp_path / "bad.parquet", (tmp_path / "good.parquet").read_bytes())  # type: ignore[operator]
    with pytest.raises(DataError, match=r"bad\.parquet is truncated or corrupted \(.+\); regenerate it"):
        load_transactions(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    "text",
    ['transaction_id,timestamp\n1,2,3,4\n"unclosed,5\n', ""],
    ids=["ragged", "empty"],
)
def test_a_broken_csv_is_a_data_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "broken.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.csv is truncated or corrupted"):
        load_transactions(tmp_path / "broken.csv")
