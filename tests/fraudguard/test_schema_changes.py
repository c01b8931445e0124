"""Tests for fraudguard/schema_changes.py: hard rules that refuse a batch whole, naming the column and the fix."""

from __future__ import annotations

import pandas as pd
import pytest
from fraudguard.errors import DataError
from fraudguard.schema_changes import (
    BatchRefused,
    find_column_changes,
    find_type_changes,
    refuse_breaking_changes,
)

from ds2mle.data import generate_transactions, inject_fault


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    return generate_transactions(n_rows=1_000, seed=8, start="2026-03-02", days=1)


@pytest.mark.parametrize(
    ("fault", "column", "kind"),
    [
        ("renamed_column", "merchant_category", "renamed"),
        ("dropped_column", "device", "missing"),
        ("dtype_change", "amount_cents", "retyped"),
        ("amount_in_units", "amount_cents", "unit"),
    ],
)
def test_breaking_faults_refuse_the_batch_naming_the_column(day: pd.DataFrame, fault: str, column: str, kind: str) -> None:
    """Is each breaking fault of the catalogue refused whole, with its column, its kind and a fix?"""
    with pytest.raises(BatchRefused, match=f"{column} {kind}") as caught:
        refuse_breaking_changes(inject_fault(day, fault, seed=2))
    assert [(c.column, c.kind) for c in caught.value.changes] == [(column, kind)]
    assert caught.value.changes[0].fix
    assert isinstance(caught.value, DataError)


@pytest.mark.parametrize("fault", ["null_burst", "duplicates", "late_events", "timezone_shift", "noise", "label_noise"])
def test_row_level_faults_pass_the_gate(day: pd.DataFrame, fault: str) -> None:
    damaged = inject_fault(day, fault, seed=2)
    assert len(refuse_breaking_changes(damaged)) == len(damaged)


def test_an_added_column_is_compatible_and_dropped(day: pd.DataFrame) -> None:
    out = refuse_breaking_changes(inject_fault(day, "added_column"))
    assert list(out.columns) == list(day.columns)


def test_every_breaking_change_is_reported_at_once(day: pd.DataFrame) -> None:
    broken = day.drop(columns=["card_id"]).rename(columns={"merchant_category": "mcc_category"})
    broken["timestamp"] = broken["timestamp"].dt.tz_localize(None)
    with pytest.raises(BatchRefused) as caught:
        refuse_breaking_changes(broken)
    assert {(c.column, c.kind) for c in caught.value.changes} == {
        ("card_id", "missing"),
        ("merchant_category", "renamed"),
        ("timestamp", "retyped"),
    }


def test_renames_are_matched_by_values_not_position(day: pd.DataFrame) -> None:
    moved = day.rename(columns={"channel": "sales_channel"})
    moved = moved[["sales_channel", *[c for c in moved.columns if c != "sales_channel"]]]
    changes = find_column_changes(moved)
    assert [(c.kind, c.column, c.found) for c in changes] == [("renamed", "channel", "sales_channel")]


def test_labels_are_optional(day: pd.DataFrame) -> None:
    assert find_column_changes(day.drop(columns=["is_fraud", "label_available_at"])) == []


def test_whole_float_amounts_are_a_retype_and_fractions_a_unit_change(day: pd.DataFrame) -> None:
    assert [c.kind for c in find_type_changes(day.assign(amount_cents=day["amount_cents"] * 1.0))] == ["retyped"]
    assert [c.kind for c in find_type_changes(day.assign(amount_cents=day["amount_cents"] / 100))] == ["unit"]


def test_aware_timestamps_in_any_zone_come_back_in_utc(day: pd.DataFrame) -> None:
    warsaw = day.assign(timestamp=day["timestamp"].dt.tz_convert("Europe/Warsaw").dt.as_unit("us"))
    before = warsaw.copy()
    out = refuse_breaking_changes(warsaw)
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (out["timestamp"] == day["timestamp"]).all()
    pd.testing.assert_frame_equal(warsaw, before)
