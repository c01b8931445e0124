"""Tests for fraudguard/slices.py (module 03, lesson 02): amount bands, slice metrics, the fairness ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.evaluation import EvaluationError
from fraudguard.slices import MISSING_SLICE, amount_bands, fpr_ratio, slice_metrics, wilson_interval
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats


@pytest.mark.parametrize(
    ("amount", "band"),
    [(0.01, "< €10"), (9.999, "< €10"), (10.0, "€10-50"), (50.0, "€50-200"), (199.99, "€50-200"),
     (200.0, "€200-1000"), (1000.0, ">= €1000"), (1e7, ">= €1000")],
)
def test_a_band_includes_its_lower_edge(amount: float, band: str) -> None:
    assert amount_bands(pd.Series([amount]))[0] == band


def test_bands_are_ordered_named_and_keep_the_index() -> None:
    bands = amount_bands(pd.Series([500.0, 5.0, np.nan], index=[7, 8, 9]))
    assert bands.name == "amount_band" and list(bands.index) == [7, 8, 9]
    assert bands.dtype.ordered and bands.isna().tolist() == [False, False, True]
    assert bands.sort_values().tolist()[:2] == ["< €10", "€200-1000"]


@pytest.mark.parametrize("edges", [(), (50.0, 10.0), (0.0, 10.0), (10.0, 10.0)])
def test_bad_edges_are_refused(edges: tuple[float, ...]) -> None:
    with pytest.raises(EvaluationError, match="strictly increasing"):
        amount_bands(pd.Series([1.0]), edges=edges)


@settings(max_examples=60, deadline=None)
@given(k_n=st.integers(0, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_matches_scipy(k_n: tuple[int, int], level: float) -> None:
    """A simple reference: scipy's binomtest(...).proportion_ci(method="wilson")."""
    k, n = k_n
    low, high = wilson_interval([k], [n], level=level)
    if n == 0:
        assert np.isnan(low[0]) and np.isnan(high[0])
        return
    reference = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert low[0] == pytest.approx(reference.low, abs=1e-9) and high[0] == pytest.approx(reference.high, abs=1e-9)
    assert 0 <= low[0] <= k / n + 1e-12 and k / n - 1e-12 <= high[0] <= 1


def test_wilson_refuses_a_level_outside_zero_one() -> None:
    with pytest.raises(EvaluationError, match="level"):
        wilson_interval([1], [2], level=1.0)


@pytest.fixture
def toy() -> pd.DataFrame:
    return pd.DataFrame({
        "fraud_probability": [0.9, 0.5, 0.1, 0.5, 0.2, 0.7, 0.3, 0.8],
        "is_fraud": [1, 1, 1, 0, 0, 0, 0, 1],
        "amount_eur": [100.0, 20.0, 300.0, 5.0, 5.0, 5.0, 5.0, 40.0],
        "channel": ["online", "online", "online", "online", "in_store", "in_store", "mobile_app", None],
    })


def test_slice_metrics_counts_flags_at_or_above_the_threshold(toy: pd.DataFrame) -> None:
    table = slice_metrics(toy, by="channel", threshold=0.5)
    online = table.loc["online"]
    assert (online["rows"], online["frauds"], online["alerts"]) == (4, 3, 3)
    assert online["recall"] == pytest.approx(2 / 3) and online["precision"] == pytest.approx(2 / 3)
    assert online["false_positive_rate"] == 1.0 and online["missed_eur"] == 300.0
    assert table["rows"].sum() == len(toy)


def test_a_slice_without_fraud_has_no_recall_and_missing_values_are_a_slice(toy: pd.DataFrame) -> None:
    table = slice_metrics(toy, by="channel", threshold=0.5)
    assert np.isnan(table.loc["in_store", "recall"]) and np.isnan(table.loc["in_store", "recall_low"])
    assert table.loc[MISSING_SLICE, "frauds"] == 1
    assert np.isnan(table.loc["mobile_app", "precision"])  # no alerts


def test_categorical_slices_keep_their_order(toy: pd.DataFrame) -> None:
    banded = toy.assign(band=amount_bands(toy["amount_eur"]))
    table = slice_metrics(banded, by="band", threshold=0.5)
    assert list(table.index) == ["< €10", "€10-50", "€50-200", "€200-1000"]


def test_slice_metrics_refuses_a_missing_column(toy: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="merchant_category"):
        slice_metrics(toy, by="merchant_category", threshold=0.5)


@pytest.fixture(scope="module")
def countries() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 20_000
    country = rng.choice(["A", "B", "C"], size=n, p=[0.6, 0.35, 0.05])
    base = np.where(country == "B", 0.10, 0.05)
    return pd.DataFrame({
        "fraud_probability": np.where(rng.random(n) < base, 0.9, 0.1),
        "is_fraud": (rng.random(n) < 0.01).astype(int),
        "country": country,
        "customer": rng.integers(0, 4_000, n),
    })


def test_fpr_ratio_finds_a_group_held_twice_as_often(countries: pd.DataFrame) -> None:
    table = fpr_ratio(countries, by="country", threshold=0.5, n_boot=100, seed=0)
    legit = countries[countries["is_fraud"] == 0]
    overall = (legit["fraud_probability"] >= 0.5).mean()
    for name, row in table.iterrows():
        rate = (legit.loc[legit["country"] == name, "fraud_probability"] >= 0.5).mean()
        assert row["ratio"] == pytest.approx(rate / overall)
        assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"]
    assert table.loc["B", "verdict"] == "higher" and table.loc["A", "verdict"] == "lower"


def test_fpr_ratio_on_equal_groups_finds_no_evidence() -> None:
    rng = np.random.default_rng(7)
    n = 10_000
    frame = pd.DataFrame({"fraud_probability": rng.random(n), "is_fraud": 0, "country": rng.choice(["A", "B"], n)})
    table = fpr_ratio(frame, by="country", threshold=0.9, n_boot=100)
    assert set(table["verdict"]) == {"no evidence"}


def test_fpr_ratio_is_reproducible_and_groups_change_the_interval(countries: pd.DataFrame) -> None:
    a = fpr_ratio(countries, by="country", threshold=0.5, n_boot=60, seed=2)
    assert a.equals(fpr_ratio(countries, by="country", threshold=0.5, n_boot=60, seed=2))
    grouped = fpr_ratio(countries, by="country", threshold=0.5, n_boot=60, seed=2, groups="customer")
    assert not np.allclose(a["ratio_low"], grouped["ratio_low"])
    assert np.allclose(a["ratio"], grouped["ratio"])


@pytest.mark.parametrize("kwargs", [{"n_boot": 0}, {"level": 0.0}, {"max_ratio": 1.0}, {"threshold": 2.0}])
def test_fpr_ratio_refuses_bad_arguments(countries: pd.DataFrame, kwargs: dict[str, float]) -> None:
    arguments: dict[str, object] = {"by": "country", "threshold": 0.5, **kwargs}
    with pytest.raises(EvaluationError):
        fpr_ratio(countries, **arguments)  # type: ignore[arg-type]
