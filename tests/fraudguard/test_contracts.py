"""Tests for fraudguard/contracts.py: the pandera contract for raw transactions, validated lazily."""

from __future__ import annotations

import pandas as pd
import pytest
from fraudguard.contracts import (
    ROW_RULE,
    ContractViolation,
    Transactions,
    failure_table,
    failures_by_rule,
    validate_transactions,
)
from fraudguard.errors import DataError

from ds2mle.data import inject_fault


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    from ds2mle.data import generate_transactions

    return generate_transactions(n_rows=1_500, seed=21, start="2026-03-02", days=1)


def test_a_clean_batch_meets_the_contract(day: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(validate_transactions(day), day)


def test_unlabelled_traffic_meets_the_contract(day: pd.DataFrame) -> None:
    """Is new traffic (no label columns) accepted? Labels are optional."""
    validate_transactions(day.drop(columns=["is_fraud", "label_available_at"]))


def test_validation_is_lazy_and_names_every_broken_rule(day: pd.DataFrame) -> None:
    """Does one run report the nulls, the duplicates and the negative amounts together?"""
    stacked = inject_fault(inject_fault(inject_fault(day, "null_burst", seed=1), "duplicates", seed=2), "out_of_range", seed=3)
    with pytest.raises(ContractViolation) as caught:
        validate_transactions(stacked)
    message = str(caught.value)
    for rule in ("device not_nullable", "transaction_id field_uniqueness", "amount_cents greater_than(0)",
                 "label_not_before_payment"):
        assert rule in message
    assert isinstance(caught.value, DataError)


def test_validation_does_not_coerce_text_amounts(day: pd.DataFrame) -> None:
    with pytest.raises(ContractViolation, match=r"amount_cents dtype\('int64'\)"):
        validate_transactions(day.assign(amount_cents=day["amount_cents"].astype(str)))


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("merchant_category", "crypto_exchange", "merchant_category isin"),
        ("currency", "JPY", "currency isin"),
        ("amount_cents", 0, "amount_cents greater_than(0)"),
        ("transaction_id", "TX-1", "transaction_id str_matches"),
        ("device", "ios", "device_matches_channel"),  # the first rows are in store
    ],
)
def test_each_rule_rejects_its_bad_value(day: pd.DataFrame, column: str, value: object, rule: str) -> None:
    bad = day.copy()
    in_store = bad.index[bad["channel"] == "in_store"][0]
    bad.loc[in_store, column] = value
    with pytest.raises(ContractViolation, match=rule.replace("(", r"\(").replace(")", r"\)")):
        validate_transactions(bad)


def test_timestamps_must_be_utc(day: pd.DataFrame) -> None:
    """Is an aware timestamp in another zone refused? The contract says UTC."""
    with pytest.raises(ContractViolation, match="timestamp"):
        validate_transactions(day.assign(timestamp=day["timestamp"].dt.tz_convert("Europe/Warsaw")))


def test_device_rule_passes_missing_values_and_missing_columns() -> None:
    rows = pd.DataFrame({"channel": ["in_store", None, "moto"], "device": ["ios", "chip", "chip"]}, index=[5, 6, 7])
    assert Transactions.device_matches_channel(rows).tolist() == [False, True, False]
    assert Transactions.device_matches_channel(rows.drop(columns=["device"])).all()


def test_failure_table_gives_one_line_per_row_for_rules_about_whole_rows() -> None:
    cases = pd.DataFrame({
        "schema_context": ["DataFrameSchema", "DataFrameSchema", "Column", "DataFrameSchema"],
        "column": ["channel", "device", "device", "Transactions"],
        "check": ["device_matches_channel", "device_matches_channel", "not_nullable", "column_in_dataframe"],
        "failure_case": ["online", "chip", None, "card_id"],
        "index": [4, 4, 9, None],
    })
    table = failure_table(cases)
    assert table.values.tolist() == [
        [4, ROW_RULE, "device_matches_channel", ""],
        [9, "device", "not_nullable", "missing"],
        [None, "card_id", "column_in_dataframe", "card_id"],
    ]


def test_failures_by_rule_counts_rows_not_lines() -> None:
    tidy = pd.DataFrame({
        "row": [1, 2, 3], "column": ["transaction_id"] * 3, "rule": ["field_uniqueness"] * 3,
        "value": ["tx_1", "tx_1", "tx_2"],
    })
    summary = failures_by_rule(tidy, examples=5)
    assert summary[["rows", "examples"]].values.tolist() == [[3, "tx_1, tx_2"]]
