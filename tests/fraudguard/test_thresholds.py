"""Tests for fraudguard/thresholds.py (module 03, lesson 01): the cost curve, the threshold's interval, the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.evaluation import EvaluationError
from fraudguard.thresholds import backtest_threshold, cost_curve, threshold_interval
from fraudguard.train import choose_threshold, decision_cost
from hypothesis import given, settings
from hypothesis import strategies as st


def scored_frame(scores: list[float], fraud: list[int], amounts: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"fraud_probability": scores, "is_fraud": fraud, "amount_eur": amounts})


@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    """3,000 payments; the 2% frauds sit on 12 cards, as fraud events do."""
    rng = np.random.default_rng(1)
    n = 3_000
    is_event = rng.random(n) < 0.02
    return pd.DataFrame({
        "fraud_probability": np.where(is_event, rng.beta(5, 2, n), rng.beta(1, 20, n)),
        "is_fraud": is_event.astype(int),
        "amount_eur": rng.lognormal(4, 1, n),
        "card_id": np.where(is_event, rng.integers(0, 12, n), 100 + np.arange(n)),
    })


def test_cost_curve_flags_scores_at_or_above_the_threshold() -> None:
    curve = cost_curve(scored_frame([0.9, 0.2, 0.5, 0.5], [1, 0, 1, 0], [200.0, 30.0, 40.0, 25.0]), review_cost_eur=10.0)
    row = curve.set_index("threshold").loc[0.5]
    assert (row["alerts"], row["caught"], row["precision"], row["recall"]) == (3, 2, 2 / 3, 1.0)
    assert row["cost_eur"] == 30.0


@settings(max_examples=50, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(0, 1), st.booleans(), st.floats(0.01, 5_000)), min_size=1, max_size=60
    ),
    review=st.floats(0.5, 50),
)
def test_cost_curve_agrees_with_decision_cost_at_every_threshold(
    data: list[tuple[float, bool, float]], review: float
) -> None:
    """Property: the vectorised curve equals module 01's decision_cost, threshold by threshold."""
    scores, fraud, amounts = (np.array(column) for column in zip(*data, strict=True))
    curve = cost_curve(scored_frame(list(scores), list(fraud.astype(int)), list(amounts)), review_cost_eur=review)
    assert curve["threshold"].tolist() == sorted(set(scores.tolist()))
    for threshold, cost in zip(curve["threshold"], curve["cost_eur"], strict=True):
        expected = decision_cost(flagged=scores >= threshold, is_fraud=fraud, amount_eur=amounts, review_cost_eur=review)
        assert cost == pytest.approx(expected, rel=1e-9, abs=1e-6)
    cheapest = curve.loc[curve["cost_eur"].idxmin(), "threshold"]
    assert cheapest == choose_threshold(scores, is_fraud=fraud, amount_eur=amounts, review_cost_eur=review)


def test_cost_curve_without_fraud_has_nan_recall() -> None:
    curve = cost_curve(scored_frame([0.1, 0.4], [0, 0], [5.0, 6.0]))
    assert curve["recall"].isna().all() and (curve["missed_eur"] == 0).all()


@pytest.mark.parametrize("missing", ["fraud_probability", "is_fraud", "amount_eur"])
def test_a_scored_frame_without_a_column_is_refused(missing: str) -> None:
    frame = scored_frame([0.1], [0], [5.0]).drop(columns=[missing])
    with pytest.raises(EvaluationError, match=missing):
        cost_curve(frame)


def test_an_empty_scored_frame_is_refused() -> None:
    with pytest.raises(EvaluationError, match="empty"):
        cost_curve(scored_frame([], [], []))


def test_threshold_interval_is_reproducible_and_centred_on_the_whole_window(clustered: pd.DataFrame) -> None:
    a = threshold_interval(clustered, n_boot=50, seed=3)
    b = threshold_interval(clustered, n_boot=50, seed=3)
    assert np.array_equal(a.samples, b.samples) and np.array_equal(a.costs, b.costs)
    scores, fraud, amounts = (clustered[c].to_numpy() for c in ("fraud_probability", "is_fraud", "amount_eur"))
    assert a.threshold == choose_threshold(scores, is_fraud=fraud.astype(bool), amount_eur=amounts)
    assert a.cost_eur == pytest.approx(decision_cost(flagged=scores >= a.threshold, is_fraud=fraud.astype(bool), amount_eur=amounts))
    assert (a.low, a.high) == tuple(np.quantile(a.samples, [0.05, 0.95]))
    assert a.cost_low < a.cost_eur < a.cost_high


def test_resampling_cards_widens_the_intervals_when_frauds_cluster(clustered: pd.DataFrame) -> None:
    """Does the cluster bootstrap keep fraud events whole, so the weekly cost varies more than with rows?"""
    rows = threshold_interval(clustered, n_boot=100, seed=0)
    cards = threshold_interval(clustered, n_boot=100, seed=0, groups="card_id")
    assert cards.cost_high - cards.cost_low > 1.3 * (rows.cost_high - rows.cost_low)


def test_a_wider_level_gives_a_wider_interval(clustered: pd.DataFrame) -> None:
    narrow = threshold_interval(clustered, n_boot=80, seed=1, level=0.5)
    wide = threshold_interval(clustered, n_boot=80, seed=1, level=0.95)
    assert wide.low <= narrow.low and wide.high >= narrow.high


@pytest.mark.parametrize("kwargs", [{"n_boot": 0}, {"level": 0.0}, {"level": 1.0}, {"groups": "no_such_column"}])
def test_threshold_interval_refuses_bad_arguments(clustered: pd.DataFrame, kwargs: dict[str, object]) -> None:
    with pytest.raises(EvaluationError):
        threshold_interval(clustered, **kwargs)  # type: ignore[arg-type]


def test_backtest_chooses_on_validation_and_prices_on_test() -> None:
    """Is the threshold chosen on the validation window, never on the test window it is quoted on?"""
    validation = scored_frame([0.1, 0.3, 0.6, 0.9], [0, 1, 0, 1], [5.0, 50.0, 5.0, 80.0])
    test = scored_frame([0.2, 0.35, 0.7, 0.95], [0, 0, 1, 1], [5.0, 5.0, 30.0, 90.0])
    result = backtest_threshold(validation, test, review_cost_eur=10.0)
    assert result == {
        "threshold": 0.3,
        "validation_cost_eur": 30.0,
        "test_cost_eur": 30.0,
        "test_best_threshold": 0.7,
        "test_best_cost_eur": 20.0,
        "no_model_cost_eur": 120.0,
        "optimism_eur": 10.0,
    }


def test_backtest_optimism_is_never_negative(clustered: pd.DataFrame) -> None:
    half = len(clustered) // 2
    result = backtest_threshold(clustered.iloc[:half], clustered.iloc[half:])
    assert result["optimism_eur"] >= 0
