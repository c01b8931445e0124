"""Tests for fraudguard/calibration.py (module 03, lesson 01): reliability, ECE, recalibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.calibration import ScoreCalibrator, expected_calibration_error, reliability_table
from fraudguard.evaluation import EvaluationError
from sklearn.calibration import calibration_curve
from sklearn.exceptions import NotFittedError


@pytest.fixture(scope="module")
def calibrated() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    prob = rng.beta(0.5, 8, 8_000)
    return (rng.random(8_000) < prob).astype(int), prob


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [3, 10, 25])
def test_reliability_table_agrees_with_scikit_learn(
    calibrated: tuple[np.ndarray, np.ndarray], strategy: str, n_bins: int
) -> None:
    """A simple reference: sklearn's calibration_curve bins the same way."""
    truth, prob = calibrated
    table = reliability_table(truth, prob, n_bins=n_bins, strategy=strategy)  # type: ignore[arg-type]
    rate, mean = calibration_curve(truth, prob, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(table["fraud_rate"], rate)
    np.testing.assert_allclose(table["mean_predicted"], mean)
    assert table["rows"].sum() == len(truth)


def test_quantile_bins_hold_about_equal_rows(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    truth, prob = calibrated
    rows = reliability_table(truth, prob, n_bins=8)["rows"]
    assert rows.max() - rows.min() <= 2


def test_tied_scores_lose_no_row() -> None:
    table = reliability_table(np.r_[np.zeros(90), np.ones(10)], np.r_[np.zeros(90), np.full(10, 0.5)], n_bins=10)
    assert table["rows"].sum() == 100
    constant = reliability_table([0, 1], [0.3, 0.3], n_bins=4)
    assert constant["rows"].tolist() == [2]


@pytest.mark.parametrize(
    ("truth", "prob", "match"),
    [
        ([0, 1], [0.2], "one label per probability"),
        ([], [], "one label per probability"),
        ([0, 1], [0.2, 1.2], r"\[0, 1\]"),
        ([0, 1], [0.2, np.nan], "NaN"),
    ],
)
def test_misaligned_or_impossible_inputs_are_refused(truth: list[int], prob: list[float], match: str) -> None:
    with pytest.raises(EvaluationError, match=match):
        reliability_table(truth, prob)


def test_an_unknown_strategy_is_refused(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(EvaluationError, match="strategy"):
        reliability_table(*calibrated, strategy="kmeans")  # type: ignore[arg-type]


def test_ece_is_small_when_calibrated_and_large_when_not(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    truth, prob = calibrated
    assert expected_calibration_error(reliability_table(truth, prob)) < 0.01
    assert expected_calibration_error(reliability_table(truth, np.sqrt(prob))) > 0.1


def test_ece_weights_bins_by_rows() -> None:
    table = pd.DataFrame({"rows": [90, 10], "mean_predicted": [0.01, 0.5], "fraud_rate": [0.01, 0.3]})
    assert expected_calibration_error(table) == pytest.approx(0.02)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_calibrator_fitted_on_one_window_corrects_the_next(method: str) -> None:
    """Fitted where scores are 3x too high, does it bring a later window's scores down to the truth?"""
    rng = np.random.default_rng(2)
    s_fit, s_new = rng.beta(1, 6, 20_000), rng.beta(1, 6, 20_000)
    y_fit = (rng.random(20_000) < s_fit / 3).astype(int)
    y_new = (rng.random(20_000) < s_new / 3).astype(int)
    calibrator = ScoreCalibrator(method=method).fit(s_fit, y_fit)  # type: ignore[arg-type]
    out = calibrator.predict(s_new)
    assert out.shape == s_new.shape and out.min() >= 0 and out.max() <= 1
    assert abs(out.mean() - y_new.mean()) < 0.01
    raw_ece = expected_calibration_error(reliability_table(y_new, s_new))
    assert expected_calibration_error(reliability_table(y_new, out)) < raw_ece / 3
    assert np.all(np.diff(calibrator.predict(np.linspace(0, 1, 101))) >= -1e-12)


def test_the_calibrator_follows_the_estimator_contract() -> None:
    calibrator = ScoreCalibrator(method="isotonic")
    assert calibrator.get_params() == {"method": "isotonic"} and not hasattr(calibrator, "model_")
    with pytest.raises(NotFittedError):
        calibrator.predict([0.5])
    assert calibrator.fit([0.1, 0.9], [0, 1]) is calibrator


def test_isotonic_clips_scores_beyond_the_fitted_range() -> None:
    calibrator = ScoreCalibrator(method="isotonic").fit([0.2, 0.4, 0.6], [0, 1, 1])
    assert np.isfinite(calibrator.predict([0.0, 1.0])).all()


@pytest.mark.parametrize(
    ("method", "y", "match"), [("beta", [0, 1], "method"), ("sigmoid", [0, 0], "both classes")]
)
def test_calibrator_refuses_an_unknown_method_or_one_class(method: str, y: list[int], match: str) -> None:
    with pytest.raises(EvaluationError, match=match):
        ScoreCalibrator(method=method).fit([0.1, 0.9], y)  # type: ignore[arg-type]
