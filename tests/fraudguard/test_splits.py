"""Tests for fraudguard/splits.py (module 00): a train/test split by time."""

from __future__ import annotations

import pandas as pd
import pytest
from fraudguard.splits import split_by_time


def test_every_training_row_is_earlier_than_every_test_row(transactions: pd.DataFrame) -> None:
    train, test = split_by_time(transactions.sample(frac=1.0, random_state=0), test_fraction=0.25)
    assert train["timestamp"].max() < test["timestamp"].min()
    assert len(train) + len(test) == len(transactions)
    assert sorted(train.index.tolist() + test.index.tolist()) == transactions.index.tolist()


def test_rows_sharing_the_cutoff_timestamp_all_go_to_test() -> None:
    stamps = pd.to_datetime(["2026-01-01"] * 3 + ["2026-01-02"] * 3 + ["2026-01-03"] * 4, utc=True)
    rows = pd.DataFrame({"timestamp": stamps, "x": range(10)})
    train, test = split_by_time(rows, test_fraction=0.5)
    assert set(test["timestamp"]) == {stamps[3], stamps[6]}
    assert len(train) == 3


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fractions_outside_zero_one_are_refused(transactions: pd.DataFrame, fraction: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_by_time(transactions, test_fraction=fraction)


def test_missing_timestamps_are_refused_not_dropped(transactions: pd.DataFrame) -> None:
    broken = transactions.copy()
    broken.loc[broken.index[5], "timestamp"] = pd.NaT
    with pytest.raises(ValueError, match="no timestamp"):
        split_by_time(broken, test_fraction=0.2)


def test_empty_input_gives_two_empty_frames_with_the_columns(transactions: pd.DataFrame) -> None:
    train, test = split_by_time(transactions.iloc[0:0], test_fraction=0.2)
    assert train.empty and test.empty
    assert list(train.columns) == list(transactions.columns)
