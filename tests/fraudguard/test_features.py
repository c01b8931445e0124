"""Tests for fraudguard/features.py: point-in-time rules, a reference implementation, the estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.errors import FeatureError, UnsupportedCurrencyError
from fraudguard.features import EUR_RATES, History, TransactionFeatures, amount_in_eur, past_activity
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

START = pd.Timestamp("2026-01-01", tz="UTC")
NOW = "2026-01-02 10:00:00"


def pair(earlier: str) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["a", "a"], "timestamp": pd.to_datetime([earlier, NOW], utc=True)})


@pytest.mark.parametrize(
    ("earlier", "counted"),
    [
        ("2026-01-01 10:00:00", 1),
        ("2026-01-01 10:00:01", 1),
        ("2026-01-01 09:59:59", 0),
        (NOW, 0),
        ("2026-01-02 10:00:01", 0),
    ],
    ids=["boundary", "inside", "outside", "tie", "future"],
)
def test_window_is_half_open_and_excludes_ties(earlier: str, counted: int) -> None:
    """Does the 24-hour window count exactly the payments in [t - 24h, t)?"""
    assert past_activity(pair(earlier), by="customer_id", window="24h")["count"].iloc[1] == counted


def reference_past_activity(rows: pd.DataFrame, *, window: str) -> pd.DataFrame:
    """A slow, obviously correct version: pandas' time-based rolling window, closed on the left."""
    out = pd.DataFrame({"count": 0, "total": 0.0}, index=rows.index)
    for _, group in rows.groupby("customer_id"):
        ordered = group.sort_values("timestamp", kind="stable")
        series = pd.Series(ordered["amount"].to_numpy(), index=ordered["timestamp"])
        rolling = series.rolling(window, closed="left")
        out.loc[ordered.index, "count"] = rolling.count().fillna(0).to_numpy().astype(int)
        out.loc[ordered.index, "total"] = rolling.sum().fillna(0.0).to_numpy()
    return out


@st.composite
def payments(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 40 payments of 3 customers over 3 days, on a 10-minute grid so that ties are common."""
    n = draw(st.integers(min_value=0, max_value=40))
    seconds = draw(st.lists(st.integers(0, 3 * 86_400).map(lambda s: s - s % 600), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "transaction_id": [f"tx{i}" for i in range(n)],
            "customer_id": draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n)),
            "card_id": draw(st.lists(st.sampled_from(["k1", "k2", "k3"]), min_size=n, max_size=n)),
            "timestamp": START + pd.to_timedelta(seconds, unit="s"),
            "amount": draw(st.lists(st.floats(0.5, 500.0), min_size=n, max_size=n)),
        }
    ).sample(frac=1.0, random_state=draw(st.integers(0, 2**16)))


@settings(max_examples=150, deadline=None)
@given(rows=payments())
def test_matches_a_reference_implementation_whatever_the_order(rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    ours = past_activity(rows, by="customer_id", window="6h", values=rows["amount"])
    expected = reference_past_activity(rows, window="6h")
    assert ours["count"].tolist() == expected["count"].tolist()
    np.testing.assert_allclose(ours["total"].to_numpy(), expected["total"].to_numpy(), rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(rows=payments(), cutoff=st.integers(0, 3 * 86_400))
def test_features_never_depend_on_future_rows(rows: pd.DataFrame, cutoff: int) -> None:
    """Does dropping every row at or after a cutoff leave every earlier row's features unchanged?"""
    earlier = rows[rows["timestamp"] < START + pd.Timedelta(seconds=cutoff)]
    for by, window in (("customer_id", "24h"), ("card_id", "1h")):
        full = past_activity(rows, by=by, window=window, values=rows["amount"]).loc[earlier.index]
        pd.testing.assert_frame_equal(
            past_activity(earlier, by=by, window=window, values=earlier["amount"]), full
        )


def test_transformer_output_is_point_in_time_on_paylane_data(transactions: pd.DataFrame) -> None:
    features = TransactionFeatures().fit(transactions)
    cutoff = transactions["timestamp"].min() + pd.Timedelta(days=3)
    early = transactions[transactions["timestamp"] < cutoff]
    np.testing.assert_array_equal(features.transform(early), features.transform(transactions)[: len(early)])


def test_time_zone_and_row_order_do_not_change_features(transactions: pd.DataFrame) -> None:
    features = TransactionFeatures().set_output(transform="pandas").fit(transactions)
    expected = features.transform(transactions)
    moved = transactions.assign(timestamp=transactions["timestamp"].dt.tz_convert("America/New_York"))
    pd.testing.assert_frame_equal(
        features.transform(moved.sample(frac=1.0, random_state=2)).loc[expected.index], expected
    )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"timestamp": "naive"}, FeatureError, "time-zone aware"),
        ({"currency": "XYZ"}, UnsupportedCurrencyError, "no exchange rate for currency XYZ"),
        ({"customer_id": None}, FeatureError, "customer_id is missing"),
    ],
)
def test_unscorable_rows_raise_feature_errors(
    transactions: pd.DataFrame, change: dict, error: type, message: str
) -> None:
    features = TransactionFeatures().fit(transactions)
    rows = transactions.head(5).copy()
    for column, value in change.items():
        if value == "naive":
            rows[column] = rows[column].dt.tz_localize(None)
        else:
            rows[column] = rows[column].astype(object)
            rows.loc[rows.index[0], column] = value
    with pytest.raises(error, match=message):
        features.transform(rows)


def test_window_must_be_positive(transactions: pd.DataFrame) -> None:
    with pytest.raises(FeatureError, match="window must be positive"):
        past_activity(transactions, by="customer_id", window="0h")


def test_amounts_are_converted_with_one_rate_table() -> None:
    rows = pd.DataFrame({"amount_cents": [1_000, 4_300, 1_120], "currency": ["EUR", "PLN", "SEK"]})
    assert amount_in_eur(rows).tolist() == [10.0, 10.0, 1.0]
    assert set(EUR_RATES) == {"EUR", "CHF", "GBP", "NOK", "PLN", "SEK", "USD"}


def test_estimator_contract(transactions: pd.DataFrame) -> None:
    features = TransactionFeatures(spend_window="12h")
    assert features.get_params() == {"eur_rates": None, "spend_window": "12h", "velocity_window": "1h"}
    assert clone(features).get_params() == features.get_params()
    with pytest.raises(NotFittedError):
        features.transform(transactions)
    assert features.fit(transactions) is features
    assert features.transform(transactions).shape == (
        len(transactions),
        len(features.get_feature_names_out()),
    )


def test_unseen_categories_are_encoded_as_zeros(transactions: pd.DataFrame) -> None:
    features = TransactionFeatures().set_output(transform="pandas").fit(transactions)
    encoded = features.transform(transactions.head(3).assign(device="smart_fridge")).filter(like="device=")
    assert (encoded.to_numpy() == 0).all()


def test_history_gives_online_rows_their_offline_features(transactions: pd.DataFrame) -> None:
    """Are features of new rows scored with History identical to features computed on the whole table?"""
    features = TransactionFeatures().fit(transactions)
    cutoff = transactions["timestamp"].max() - pd.Timedelta(days=1)
    past, new = (
        transactions[transactions["timestamp"] < cutoff],
        transactions[transactions["timestamp"] >= cutoff],
    )
    frame, is_new = History(past).context(new)
    np.testing.assert_array_equal(
        features.transform(frame)[is_new], features.transform(transactions)[len(past) :]
    )
    assert History(past).n_rows == len(past)


def test_history_never_counts_a_transaction_as_its_own_past(transactions: pd.DataFrame) -> None:
    frame, is_new = History(transactions).context(transactions.tail(10))
    assert frame["transaction_id"].is_unique
    assert is_new.sum() == 10
