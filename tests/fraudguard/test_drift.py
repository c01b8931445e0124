"""Tests for fraudguard/drift.py (module 03, lesson 03): PSI, KS and chi-square drift detectors.

The detectors are the contract the monitor (lessons 04-06) builds on: ``__init__`` stores its arguments,
``fit(reference)`` returns ``self`` with learned state ending in ``_``, and ``score(window)`` returns one row
per column with ``column``, ``statistic``, ``value``, ``p_value`` (NaN for PSI) and ``drifted``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fraudguard.drift import (
    OTHER,
    RESULT_COLUMNS,
    ChiSquareDetector,
    DriftError,
    KSDetector,
    PSIDetector,
    population_stability_index,
)
from fraudguard.errors import FraudguardError
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

DETECTORS = [PSIDetector, KSDetector, ChiSquareDetector]


def naive_psi(expected: list[float], actual: list[float], epsilon: float = 1e-4) -> float:
    """The textbook formula, one bin at a time: the reference implementation."""
    total_e, total_a = sum(expected), sum(actual)
    psi = 0.0
    for e, a in zip(expected, actual, strict=True):
        e_share, a_share = max(e / total_e, epsilon), max(a / total_a, epsilon)
        psi += (a_share - e_share) * math.log(a_share / e_share)
    return psi


def naive_ks(a: np.ndarray, b: np.ndarray) -> float:
    """The largest gap between the two empirical CDFs, evaluated at every observed value."""
    points = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), points, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 6_000
    return pd.DataFrame({
        "amount_eur": rng.lognormal(3, 1, n),
        "fraud_probability": np.where(rng.random(n) < 0.6, 0.001, rng.beta(1, 30, n)),
        "merchant_category": rng.choice(["grocery", "fuel", "travel", "digital_goods"], n, p=[0.5, 0.2, 0.2, 0.1]),
        "is_fraud": (rng.random(n) < 0.01).astype("int8"),
    })


def same_distribution(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount_eur": rng.lognormal(3, 1, n),
        "fraud_probability": np.where(rng.random(n) < 0.6, 0.001, rng.beta(1, 30, n)),
        "merchant_category": rng.choice(["grocery", "fuel", "travel", "digital_goods"], n, p=[0.5, 0.2, 0.2, 0.1]),
        "is_fraud": (rng.random(n) < 0.01).astype("int8"),
    })


def test_drift_error_is_a_fraudguard_value_error() -> None:
    assert issubclass(DriftError, FraudguardError) and issubclass(DriftError, ValueError)


@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=12).filter(
        lambda p: sum(e for e, _ in p) > 0 and sum(a for _, a in p) > 0
    ),
    epsilon=st.sampled_from([1e-6, 1e-4, 1e-2]),
)
def test_psi_matches_the_textbook_formula_and_is_never_negative(pairs: list[tuple[int, int]], epsilon: float) -> None:
    expected, actual = [float(e) for e, _ in pairs], [float(a) for _, a in pairs]
    psi = population_stability_index(expected, actual, epsilon=epsilon)
    assert psi == pytest.approx(naive_psi(expected, actual, epsilon), rel=1e-9, abs=1e-12)
    assert math.isfinite(psi) and psi >= -1e-12


def test_psi_of_an_empty_bin_is_large_but_finite() -> None:
    assert 1 < population_stability_index([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]) < 10


@pytest.mark.parametrize(("expected", "actual"), [([1, 2], [1, 2, 3]), ([0, 0], [1, 1]), ([1, 1], [0, 0])])
def test_psi_refuses_mismatched_or_empty_distributions(expected: list[int], actual: list[int]) -> None:
    with pytest.raises(DriftError):
        population_stability_index(expected, actual)


@pytest.mark.parametrize("detector", DETECTORS)
def test_init_only_stores_its_arguments(detector: type) -> None:
    instance = detector(columns=["amount_eur"], threshold=0.5)
    assert instance.columns == ["amount_eur"] and instance.threshold == 0.5
    assert not [name for name in vars(instance) if name.endswith("_")]


@pytest.mark.parametrize("detector", DETECTORS)
def test_score_before_fit_is_a_drift_error(detector: type, reference: pd.DataFrame) -> None:
    with pytest.raises(DriftError, match="not fitted"):
        detector().score(reference)


@pytest.mark.parametrize(
    ("detector", "columns", "statistic"),
    [
        (PSIDetector, ["amount_eur", "fraud_probability", "merchant_category", "is_fraud"], "psi"),
        (KSDetector, ["amount_eur", "fraud_probability", "is_fraud"], "ks"),
        (ChiSquareDetector, ["merchant_category"], "chi2"),
    ],
)
def test_default_columns_and_the_result_frame(
    detector: type, columns: list[str], statistic: str, reference: pd.DataFrame
) -> None:
    fitted = detector().fit(reference)
    assert fitted.columns_ == columns
    result = fitted.score(same_distribution(2_000, seed=1))
    assert tuple(result.columns) == RESULT_COLUMNS
    assert result["column"].tolist() == columns and set(result["statistic"]) == {statistic}
    assert result["drifted"].dtype == bool and result["value"].dtype == "float64"
    assert result["p_value"].isna().all() == (statistic == "psi")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_clean_window_is_not_flagged(reference: pd.DataFrame, seed: int) -> None:
    """Is drift flagged on a window drawn from the reference's own distribution? It must not be."""
    window = same_distribution(2_000, seed=seed)
    psi = PSIDetector().fit(reference).score(window)
    assert psi["value"].max() < 0.05 and not psi["drifted"].any()
    assert not KSDetector(columns=["amount_eur"], threshold=0.001).fit(reference).score(window)["drifted"].any()
    chi = ChiSquareDetector(columns=["merchant_category", "is_fraud"], threshold=0.001)
    assert not chi.fit(reference).score(window)["drifted"].any()


def test_shifts_are_flagged_by_the_right_detectors(reference: pd.DataFrame) -> None:
    window = same_distribution(2_000, seed=9)
    window["amount_eur"] *= 2
    window["merchant_category"] = np.where(np.arange(2_000) % 3 == 0, "digital_goods", window["merchant_category"])
    window["is_fraud"] = (np.arange(2_000) % 20 == 0).astype("int8")
    psi = PSIDetector().fit(reference).score(window).set_index("column")
    assert psi.loc["amount_eur", "drifted"] and psi.loc["merchant_category", "drifted"]
    assert not psi.loc["fraud_probability", "drifted"]
    assert KSDetector(columns=["amount_eur"]).fit(reference).score(window)["drifted"].all()
    assert ChiSquareDetector(columns=["merchant_category", "is_fraud"]).fit(reference).score(window)["drifted"].all()


def test_psi_bins_are_the_reference_quantiles() -> None:
    reference = pd.DataFrame({"x": np.arange(1_000.0)})
    detector = PSIDetector(bins=4).fit(reference)
    np.testing.assert_allclose(detector.edges_["x"], np.quantile(np.arange(1_000.0), [0.25, 0.5, 0.75]))
    np.testing.assert_allclose(detector.expected_["x"], [0.25, 0.25, 0.25, 0.25])


def test_psi_merges_repeated_edges_of_a_tied_score() -> None:
    reference = pd.DataFrame({"score": np.r_[np.zeros(900), np.linspace(0.1, 1, 100)]})
    detector = PSIDetector(bins=10).fit(reference)
    assert len(detector.edges_["score"]) == len(np.unique(detector.edges_["score"])) < 9
    assert detector.score(reference)["value"].iloc[0] == pytest.approx(0.0)


def test_a_new_category_goes_to_the_other_bin(reference: pd.DataFrame) -> None:
    detector = PSIDetector(columns=["merchant_category"]).fit(reference)
    assert detector.categories_["merchant_category"] == ["digital_goods", "fuel", "grocery", "travel"]
    assert detector.expected_["merchant_category"][-1] == 0  # OTHER is empty in the reference
    window = reference.assign(merchant_category=np.where(np.arange(len(reference)) % 4 == 0, "crypto_exchange",
                                                         reference["merchant_category"]))
    result = detector.score(window)
    assert result["drifted"].iloc[0] and math.isfinite(result["value"].iloc[0])
    assert OTHER == "(other)"


@settings(max_examples=25, deadline=None)
@given(
    a=st.lists(st.integers(-20, 20), min_size=2, max_size=60),
    b=st.lists(st.integers(-20, 20), min_size=2, max_size=60),
)
def test_ks_statistic_matches_the_empirical_cdfs(a: list[int], b: list[int]) -> None:
    """Property: KSDetector's value is the largest CDF gap (a hand-written reference), its p-value scipy's."""
    result = KSDetector().fit(pd.DataFrame({"x": np.array(a, dtype=float)})).score(pd.DataFrame({"x": np.array(b, dtype=float)}))
    assert result["value"].iloc[0] == pytest.approx(naive_ks(np.array(a, float), np.array(b, float)))
    method = "exact" if len(a) * len(b) <= 10_000 else "asymp"
    assert result["p_value"].iloc[0] == pytest.approx(stats.ks_2samp(a, b, method=method).pvalue)


def test_ks_refuses_a_categorical_column(reference: pd.DataFrame) -> None:
    with pytest.raises(DriftError, match="ChiSquareDetector"):
        KSDetector(columns=["merchant_category"]).fit(reference)
    fitted = KSDetector(columns=["amount_eur"]).fit(reference)
    with pytest.raises(DriftError, match="not numeric"):
        fitted.score(reference.assign(amount_eur=reference["amount_eur"].astype(str)))


def test_chi_square_matches_scipy_on_the_table_of_counts(reference: pd.DataFrame) -> None:
    window = same_distribution(1_500, seed=7)
    result = ChiSquareDetector(columns=["merchant_category"]).fit(reference).score(window).iloc[0]
    table = pd.crosstab(np.r_[np.zeros(len(reference)), np.ones(len(window))],
                        np.r_[reference["merchant_category"], window["merchant_category"]])
    expected = stats.chi2_contingency(table.to_numpy())
    assert result["value"] == pytest.approx(expected.statistic) and result["p_value"] == pytest.approx(expected.pvalue)


def test_chi_square_refuses_floats_and_accepts_labels_and_flags(reference: pd.DataFrame) -> None:
    with pytest.raises(DriftError, match="KSDetector"):
        ChiSquareDetector(columns=["amount_eur"]).fit(reference)
    flags = pd.DataFrame({"flagged": np.arange(100) % 2 == 0})
    assert ChiSquareDetector().fit(flags).columns_ == ["flagged"]
    single = ChiSquareDetector(columns=["is_fraud"]).fit(pd.DataFrame({"is_fraud": np.zeros(50, dtype="int8")}))
    result = single.score(pd.DataFrame({"is_fraud": np.zeros(10, dtype="int8")})).iloc[0]
    assert (result["value"], result["p_value"], result["drifted"]) == (0.0, 1.0, False)


@pytest.mark.parametrize("detector", DETECTORS)
def test_missing_values_are_left_out_and_a_missing_column_is_refused(detector: type, reference: pd.DataFrame) -> None:
    column = "merchant_category" if detector is ChiSquareDetector else "amount_eur"
    fitted = detector(columns=[column]).fit(reference)
    holes = reference.copy()
    holes.loc[holes.index[::10], column] = None
    assert not fitted.score(holes)["drifted"].any()
    with pytest.raises(DriftError, match="no column"):
        fitted.score(reference.drop(columns=[column]))
    with pytest.raises(DriftError, match="no values"):
        fitted.score(reference.assign(**{column: None}))


def test_psi_refuses_fewer_than_two_bins(reference: pd.DataFrame) -> None:
    with pytest.raises(DriftError, match="bins"):
        PSIDetector(bins=1).fit(reference)


def test_detectors_work_on_the_prediction_log_and_late_labels(reference: pd.DataFrame) -> None:
    """The monitor's use: scores (fraud_probability) and labels (is_fraud) of later windows."""
    later = same_distribution(3_000, seed=11).assign(fraud_probability=lambda f: np.minimum(f["fraud_probability"] * 3, 1))
    scores = PSIDetector(columns=["fraud_probability"]).fit(reference).score(later)
    assert scores["drifted"].iloc[0]
    labels = ChiSquareDetector(columns=["is_fraud"]).fit(reference).score(later)
    assert labels["column"].tolist() == ["is_fraud"] and not labels["drifted"].iloc[0]
