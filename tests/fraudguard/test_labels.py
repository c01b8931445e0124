"""Tests for fraudguard/labels.py (module 02): labels as they were known, and point-in-time label features."""

from __future__ import annotations

import pandas as pd
import pytest
from fraudguard.labels import LabelError, label_maturity, labels_as_of, past_fraud_count, training_set


def _past_fraud_count_by_loop(rows: pd.DataFrame, by: str) -> list[int]:
    """The definition, one row at a time: a slow reference to compare the fast one against."""
    counts = []
    for _, row in rows.iterrows():
        same = rows[by] == row[by]
        known = (rows["is_fraud"] == 1) & (rows["timestamp"] < row["timestamp"]) & (rows["label_available_at"] <= row["timestamp"])
        counts.append(int((same & known).sum()))
    return counts


def test_label_maturity_reaches_every_fraud_label_by_90_days(transactions: pd.DataFrame) -> None:
    curve = label_maturity(transactions, days=[0, 30, 59, 60, 91])
    assert curve.loc[0, "fraud"] == 0 and curve.loc[91, "fraud"] == 1
    assert curve.loc[59, "legitimate"] == 0 and curve.loc[60, "legitimate"] == 1
    assert curve["fraud"].is_monotonic_increasing


def test_labels_as_of_does_not_show_a_chargeback_before_it_arrives(transactions: pd.DataFrame) -> None:
    frauds = transactions[transactions["is_fraud"] == 1]
    arrival = frauds["label_available_at"].iloc[0]
    known = labels_as_of(frauds, as_of=arrival)
    assert known.iloc[0] == 1
    assert pd.isna(labels_as_of(frauds.iloc[[0]], as_of=arrival - pd.Timedelta(1, "ns")).iloc[0])


def test_labels_as_of_refuses_a_naive_moment(transactions: pd.DataFrame) -> None:
    with pytest.raises(LabelError, match="no time zone"):
        labels_as_of(transactions, as_of="2026-01-05")


def test_training_set_keeps_old_enough_rows_with_the_labels_known_then(transactions: pd.DataFrame) -> None:
    as_of = transactions["timestamp"].max()
    kept = training_set(transactions, as_of=as_of, min_age="2D")
    assert kept["timestamp"].max() <= as_of - pd.Timedelta(days=2)
    truth = transactions.loc[kept.index]
    arrived = truth["label_available_at"] <= as_of
    assert (kept["is_fraud"] == (truth["is_fraud"] * arrived).astype("int8")).all()
    assert transactions["is_fraud"].sum() > 0 and kept["is_fraud"].sum() < truth["is_fraud"].sum()


def test_training_set_refuses_a_negative_min_age(transactions: pd.DataFrame) -> None:
    with pytest.raises(LabelError, match="min_age"):
        training_set(transactions, as_of=transactions["timestamp"].max(), min_age="-1D")


@pytest.mark.parametrize("by", ["card_id", "merchant_id"])
def test_past_fraud_count_matches_its_definition_row_by_row(month: pd.DataFrame, by: str) -> None:
    busy = month[month[by].isin(month.loc[month["is_fraud"] == 1, by].unique()[:15])].sample(frac=1.0, random_state=0)
    assert past_fraud_count(busy, by=by).tolist() == _past_fraud_count_by_loop(busy, by)


def test_past_fraud_count_without_label_delay_would_count_within_the_event(month: pd.DataFrame) -> None:
    """Does the honest feature stay far below the peeking one on fraud rows (the leak the lesson measures)?"""
    frauds = month["is_fraud"].to_numpy() == 1
    honest = past_fraud_count(month, by="card_id").to_numpy()[frauds]
    peeking = past_fraud_count(month.assign(label_available_at=month["timestamp"]), by="card_id").to_numpy()[frauds]
    assert (honest <= peeking).all() and peeking.sum() > 3 * max(honest.sum(), 1)


def test_past_fraud_count_refuses_missing_entities(transactions: pd.DataFrame) -> None:
    broken = transactions.copy()
    broken.loc[broken.index[3], "card_id"] = None
    with pytest.raises(LabelError, match="card_id is missing"):
        past_fraud_count(broken, by="card_id")
