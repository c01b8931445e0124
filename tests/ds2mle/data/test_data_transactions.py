"""Tests for ds2mle.data.transactions: the seeded Paylane generator."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ds2mle.data import (
    CHANNEL_DEVICES,
    COLUMN_DTYPES,
    COLUMNS,
    CURRENCY_BY_COUNTRY,
    FRAUD_PATTERNS,
    MERCHANT_CATEGORIES,
    default_days,
    fraud_patterns,
    generate_transactions,
    read_transactions,
    write_parquet,
)
from ds2mle.errors import DataError

# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames() -> None:
    """Do the same arguments give exactly the same DataFrame?"""
    a = generate_transactions(n_rows=3_000, seed=42)
    b = generate_transactions(n_rows=3_000, seed=42)
    pd.testing.assert_frame_equal(a, b)


def test_same_seed_gives_byte_identical_parquet(tmp_path: Path) -> None:
    """Are two Parquet files of the same seed byte-for-byte identical?"""
    first = write_parquet(generate_transactions(n_rows=3_000, seed=42), tmp_path / "a.parquet")
    second = write_parquet(generate_transactions(n_rows=3_000, seed=42), tmp_path / "b.parquet")
    assert first.read_bytes() == second.read_bytes()


def test_different_seeds_give_different_frames() -> None:
    """Does another seed give other data (not just other ids)?"""
    a = generate_transactions(n_rows=3_000, seed=1)
    b = generate_transactions(n_rows=3_000, seed=2)
    assert not a["amount_cents"].equals(b["amount_cents"])
    assert not a["timestamp"].equals(b["timestamp"])


def test_generation_leaves_global_random_state_alone() -> None:
    """Does the generator avoid numpy's global random state?"""
    np.random.seed(123)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    generate_transactions(n_rows=500, seed=0)
    after = np.random.get_state()[1]  # type: ignore[index]
    assert np.array_equal(before, after)


# --------------------------------------------------------------------------- schema


def test_columns_and_dtypes_are_the_documented_ones(small_batch: pd.DataFrame) -> None:
    """Are the columns exactly COLUMNS, in order, with COLUMN_DTYPES?"""
    assert tuple(small_batch.columns) == COLUMNS
    assert set(COLUMN_DTYPES) == set(COLUMNS)
    for col in COLUMNS:
        assert small_batch[col].dtype == COLUMN_DTYPES[col], col
    assert isinstance(small_batch.index, pd.RangeIndex)
    assert small_batch.notna().all().all()


def test_timestamps_are_utc_sorted_and_inside_the_window() -> None:
    """Are timestamps tz-aware UTC, sorted and within [start, start + days)?"""
    df = generate_transactions(n_rows=5_000, seed=3, start="2026-03-01", days=10)
    ts = df["timestamp"]
    assert str(ts.dt.tz) == "UTC"
    assert ts.is_monotonic_increasing
    start = pd.Timestamp("2026-03-01", tz="UTC")
    assert ts.min() >= start
    assert ts.max() < start + pd.Timedelta(days=10)


def test_transaction_ids_are_unique_and_follow_time_order(small_batch: pd.DataFrame) -> None:
    """Is transaction_id "tx_" + a zero-padded sequence in time order?"""
    ids = small_batch["transaction_id"]
    assert ids.is_unique
    assert ids.iloc[0] == "tx_000000000"
    assert list(ids) == sorted(ids)
    assert ids.str.fullmatch(r"tx_\d{9}").all()


def test_ids_have_the_documented_formats(small_batch: pd.DataFrame) -> None:
    """Do customer, card and merchant ids follow cus_/card_/mer_ and cards belong to their customer?"""
    assert small_batch["customer_id"].str.fullmatch(r"cus_\d{6}").all()
    assert small_batch["merchant_id"].str.fullmatch(r"mer_\d{5}").all()
    parts = small_batch["card_id"].str.extract(r"^card_(\d{6})_([123])$")
    assert parts.notna().all().all()
    assert ("cus_" + parts[0]).equals(small_batch["customer_id"].rename(0))
    cards_per_customer = small_batch.groupby("customer_id")["card_id"].nunique()
    assert cards_per_customer.between(1, 3).all()


@pytest.mark.parametrize("n_rows", [1, 7, 999, 20_001])
def test_row_count_is_exactly_n_rows(n_rows: int) -> None:
    """Does n_rows give exactly that many rows, even when tiny?"""
    assert len(generate_transactions(n_rows=n_rows, seed=0)) == n_rows


def test_currency_follows_merchant_country(small_batch: pd.DataFrame) -> None:
    """Is every amount in the currency of its merchant's country?"""
    expected = small_batch["merchant_country"].map(CURRENCY_BY_COUNTRY)
    assert (small_batch["currency"] == expected).all()


def test_device_is_consistent_with_channel(large_batch: pd.DataFrame) -> None:
    """Does each channel report only its own devices (chip/contactless/swipe only in store)?"""
    for channel, devices in CHANNEL_DEVICES.items():
        seen = set(large_batch.loc[large_batch["channel"] == channel, "device"].unique())
        assert seen <= set(devices), (channel, seen)
    assert set(large_batch["channel"].unique()) == set(CHANNEL_DEVICES)


def test_categories_come_from_the_fixed_list(large_batch: pd.DataFrame) -> None:
    """Are merchant categories exactly the documented ten?"""
    assert set(large_batch["merchant_category"].unique()) == set(MERCHANT_CATEGORIES)


def test_amounts_are_positive_integer_minor_units(large_batch: pd.DataFrame) -> None:
    """Are amounts positive int64 cents, with a plausible median?"""
    amounts = large_batch["amount_cents"]
    assert amounts.dtype == np.int64
    assert (amounts > 0).all()
    eur = large_batch.loc[large_batch["currency"] == "EUR", "amount_cents"]
    assert 500 < eur.median() < 10_000


# --------------------------------------------------------------------------- labels


def test_legit_labels_arrive_sixty_days_later(small_batch: pd.DataFrame) -> None:
    """Is a legitimate row confirmed exactly 60 days after its timestamp?"""
    legit = small_batch[small_batch["is_fraud"] == 0]
    assert ((legit["label_available_at"] - legit["timestamp"]) == pd.Timedelta(days=60)).all()


def test_fraud_labels_arrive_with_a_skewed_chargeback_delay(large_batch: pd.DataFrame) -> None:
    """Do chargebacks arrive 3-90 days later, median 2-3 weeks, with a long right tail?"""
    fraud = large_batch[large_batch["is_fraud"] == 1]
    days = (fraud["label_available_at"] - fraud["timestamp"]).dt.total_seconds() / 86_400
    assert days.min() >= 3
    assert days.max() <= 90.25
    assert 12 <= days.median() <= 24
    assert days.mean() > days.median()  # right-skewed


# --------------------------------------------------------------------------- fraud


def test_fraud_rate_is_about_one_percent(large_batch: pd.DataFrame) -> None:
    """Is fraud the rare class, 0.5-2% of rows?"""
    assert 0.005 <= large_batch["is_fraud"].mean() <= 0.02


def test_every_fraud_pattern_is_present_and_labelled(
    large_batch: pd.DataFrame, large_patterns: pd.Series
) -> None:
    """Are the four normal patterns present, and is is_fraud 1 exactly on their rows?"""
    counts = large_patterns.value_counts()
    for pattern in ("card_testing", "account_takeover", "high_risk_merchant", "stolen_card"):
        assert counts.get(pattern, 0) >= 200, pattern
    assert "app_takeover" not in counts  # only under the fraud_pattern_shift drift
    assert set(large_patterns.unique()) <= set(FRAUD_PATTERNS)
    assert ((large_patterns != "none").astype(int) == large_batch["is_fraud"]).all()


def test_fraud_is_clustered_by_card_and_time(large_batch: pd.DataFrame) -> None:
    """Does most fraud share its card with another fraud within a day (bursts), unlike random rows?"""
    fraud = large_batch[large_batch["is_fraud"] == 1].sort_values(["card_id", "timestamp"])
    gap = fraud.groupby("card_id")["timestamp"].diff()
    gap_next = fraud.groupby("card_id")["timestamp"].diff(-1).abs()
    clustered = (gap <= pd.Timedelta(days=1)) | (gap_next <= pd.Timedelta(days=1))
    assert clustered.mean() > 0.75
    # same test on a random sample of legitimate rows of the same size
    legit = large_batch[large_batch["is_fraud"] == 0].sample(len(fraud), random_state=0)
    legit = legit.sort_values(["card_id", "timestamp"])
    gap = legit.groupby("card_id")["timestamp"].diff()
    assert (gap <= pd.Timedelta(days=1)).mean() < 0.05


def test_card_testing_is_bursts_of_tiny_online_payments(
    large_batch: pd.DataFrame, large_patterns: pd.Series
) -> None:
    """Is card testing several tiny online payments on one card within minutes?"""
    ct = large_batch[large_patterns == "card_testing"]
    small = ct["amount_cents"] < 100 * 15  # under ~EUR 10 (any currency but SEK/NOK/PLN is below)
    assert small.mean() > 0.6
    assert (ct["channel"] != "in_store").all()
    per_card_minutes = ct.groupby("card_id")["timestamp"].agg(
        lambda s: (s.max() - s.min()).total_seconds() / 60
    )
    tests_per_card = ct.groupby("card_id").size()
    assert tests_per_card.median() >= 4
    assert (per_card_minutes[tests_per_card >= 3] > 0).all()


def test_account_takeover_spends_far_above_habit_abroad(
    large_batch: pd.DataFrame, large_patterns: pd.Series
) -> None:
    """Does account takeover spend well above the customer's usual amount, often abroad?"""
    df = large_batch.assign(pattern=large_patterns.to_numpy())
    # compare within customer and currency, so exchange rates do not matter
    habit = df[df["pattern"] == "none"].groupby(["customer_id", "currency"])["amount_cents"].median()
    ato = df[df["pattern"] == "account_takeover"].join(habit.rename("habit"), on=["customer_id", "currency"])
    ato = ato.dropna(subset=["habit"])
    assert (ato["amount_cents"] / ato["habit"]).median() > 2.0
    abroad = df["merchant_country"] != df["customer_country"]
    assert abroad[df["pattern"] == "account_takeover"].mean() > 3 * abroad[df["pattern"] == "none"].mean()


def test_high_risk_merchants_have_a_much_higher_fraud_rate(
    large_batch: pd.DataFrame, large_patterns: pd.Series
) -> None:
    """Do the high-risk merchants carry a fraud rate many times the overall one?"""
    risky = set(large_batch.loc[large_patterns == "high_risk_merchant", "merchant_id"])
    at_risky = large_batch["merchant_id"].isin(risky)
    assert risky <= set(
        large_batch.loc[large_batch["merchant_category"].isin(["digital_goods", "gambling"]), "merchant_id"]
    )
    rate_risky = large_batch.loc[at_risky, "is_fraud"].mean()
    assert rate_risky > 5 * large_batch["is_fraud"].mean()
    assert large_batch.loc[at_risky, "is_fraud"].eq(0).sum() > 0  # they have real customers too


def test_fraud_patterns_lines_up_with_the_batch(small_batch: pd.DataFrame) -> None:
    """Does fraud_patterns return one named string per row, aligned with the same batch?"""
    patterns = fraud_patterns(n_rows=4_000, seed=11)
    assert patterns.name == "fraud_pattern"
    assert patterns.index.equals(small_batch.index)
    assert ((patterns != "none").astype("int8") == small_batch["is_fraud"]).all()


# --------------------------------------------------------------------------- rhythms and habits


def test_daily_rhythm_has_quiet_nights_and_lunch_and_evening_peaks(large_batch: pd.DataFrame) -> None:
    """Are 3-5 am (local) quiet and lunch and evening busy?"""
    hour_utc = large_batch["timestamp"].dt.hour
    share = hour_utc.value_counts(normalize=True)
    night = share.reindex([2, 3, 4]).sum()  # 3-5 am in Central Europe
    lunch = share.reindex([11, 12]).sum()
    evening = share.reindex([16, 17]).sum()
    assert night < 0.2 * lunch
    assert night < 0.2 * evening


def test_weekends_have_another_merchant_mix(large_batch: pd.DataFrame) -> None:
    """Do weekends bring more restaurants and online payments, and less commuting?"""
    weekend = large_batch["timestamp"].dt.day_of_week >= 5
    mix = pd.crosstab(large_batch["merchant_category"], weekend, normalize="columns")
    assert mix.loc["restaurants", True] > 1.15 * mix.loc["restaurants", False]
    assert mix.loc["transport", True] < 0.8 * mix.loc["transport", False]
    online = large_batch["channel"] != "in_store"
    assert online[weekend].mean() > online[~weekend].mean()


def test_most_payments_are_domestic(large_batch: pd.DataFrame) -> None:
    """Do most customers pay merchants of their home country?"""
    domestic = large_batch["merchant_country"] == large_batch["customer_country"]
    assert 0.85 <= domestic.mean() <= 0.98
    assert large_batch.groupby("customer_id")["customer_country"].nunique().eq(1).all()


def test_customers_have_stable_spending_habits(large_batch: pd.DataFrame) -> None:
    """Is a customer's typical amount in the first half of the window a good guide to the second half?"""
    legit = large_batch[(large_batch["is_fraud"] == 0) & (large_batch["currency"] == "EUR")]
    half = legit["timestamp"] < legit["timestamp"].median()
    first = legit[half].groupby("customer_id")["amount_cents"].median()
    second = legit[~half].groupby("customer_id")["amount_cents"].median()
    both = pd.concat([first, second], axis=1, join="inner")
    assert np.log(both).corr().iloc[0, 1] > 0.4


# --------------------------------------------------------------------------- window, start


def test_default_days_is_about_2000_rows_a_day() -> None:
    """Does days=None give max(7, ceil(n_rows / 2000)) days?"""
    assert default_days(50_000) == 25
    assert default_days(1_000_000) == 500
    assert default_days(10) == 7
    df = generate_transactions(n_rows=30_000, seed=0)
    span = df["timestamp"].max() - df["timestamp"].min()
    assert pd.Timedelta(days=14) <= span < pd.Timedelta(days=15)


def test_start_accepts_timestamps_in_any_timezone() -> None:
    """Is an aware start converted to UTC, and a naive one read as UTC?"""
    aware = generate_transactions(
        n_rows=200, seed=1, start=pd.Timestamp("2026-01-01 01:00", tz="Europe/Warsaw")
    )
    naive = generate_transactions(n_rows=200, seed=1, start="2026-01-01")
    pd.testing.assert_frame_equal(aware, naive)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rows": 0}, r"n_rows was 0; expected an integer >= 1"),
        ({"n_rows": -5}, r"n_rows was -5; expected an integer >= 1"),
        ({"n_rows": 10.5}, r"n_rows was 10.5 \(float\); expected an integer"),
        ({"n_rows": 10, "days": 0}, r"days was 0; expected an integer >= 1"),
        ({"n_rows": 10, "seed": -1}, r"seed was -1; expected an integer >= 0"),
        ({"n_rows": 10, "start": "not a date"}, r"start='not a date' is not a date"),
        (
            {"n_rows": 10, "drift": "solar_flare"},
            r"Unknown drift scenario 'solar_flare'. Expected one of: .*merchant_mix",
        ),
        ({"n_rows": 10, "drift": "merchant_mix", "drift_strength": -1.0}, r"drift_strength was -1.0"),
    ],
)
def test_impossible_requests_raise_a_helpful_data_error(kwargs: dict[str, object], match: str) -> None:
    """Does a bad argument raise DataError saying what was found and expected?"""
    with pytest.raises(DataError, match=match):
        generate_transactions(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_transactions_round_trips(small_batch: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    """Does a batch written to Parquet or CSV read back equal, with the house dtypes?"""
    path = tmp_path / f"batch{suffix}"
    if suffix == ".parquet":
        write_parquet(small_batch, path)
    else:
        small_batch.to_csv(path, index=False)
    back = read_transactions(path)
    pd.testing.assert_frame_equal(back, small_batch)


def test_read_transactions_rejects_missing_and_unknown_files(tmp_path: Path) -> None:
    """Is a missing file or a .json file a DataError that names the fix?"""
    with pytest.raises(DataError, match="no such file"):
        read_transactions(tmp_path / "nope.parquet")
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=r"expected a \.parquet or \.csv file"):
        read_transactions(tmp_path / "x.json")


# --------------------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(n_rows=st.integers(min_value=1, max_value=3_000), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_batch_keeps_the_invariants(n_rows: int, seed: int) -> None:
    """For any size and seed: exact length, sorted, unique ids, labels after events, valid devices."""
    df = generate_transactions(n_rows=n_rows, seed=seed)
    assert len(df) == n_rows
    assert df["timestamp"].is_monotonic_increasing
    assert df["transaction_id"].is_unique
    assert (df["label_available_at"] >= df["timestamp"]).all()
    assert df["is_fraud"].isin([0, 1]).all()
    valid = df["channel"].map(lambda c: set(CHANNEL_DEVICES[c]))
    assert all(d in ok for d, ok in zip(df["device"], valid, strict=True))
    assert re.fullmatch(r"tx_0+", df["transaction_id"].iloc[0])
