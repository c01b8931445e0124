"""Tests for fraudguard/evaluation.py (module 03, lesson 00): walk-forward validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.errors import FraudguardError
from fraudguard.evaluation import EvaluationError, evaluate_walk_forward, walk_forward_splits
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression


def hourly(days: int, *, start: str = "2026-03-01") -> pd.Series:
    return pd.Series(pd.date_range(start, periods=24 * days, freq="h", tz="UTC"))


def test_evaluation_error_is_a_fraudguard_value_error() -> None:
    assert issubclass(EvaluationError, FraudguardError) and issubclass(EvaluationError, ValueError)


def test_folds_train_on_the_past_and_test_on_the_next_days() -> None:
    stamps = hourly(10)
    folds = walk_forward_splits(stamps, train_days=4, test_days=2)
    assert [f.number for f in folds] == [0, 1, 2]
    for f in folds:
        assert stamps.iloc[f.train].max() < stamps.iloc[f.test].min()
        assert len(f.train) == 4 * 24 and len(f.test) == 2 * 24
        assert f.test_start == f.train_end and f.test_end - f.test_start == pd.Timedelta(days=2)


def test_a_row_at_exactly_the_test_start_is_a_test_row_only() -> None:
    """Is a payment at midnight of the first test day kept out of training (windows are [start, end))?"""
    stamps = hourly(7)
    fold = walk_forward_splits(stamps, train_days=3, test_days=2)[0]
    boundary = pd.Timestamp("2026-03-04", tz="UTC")
    assert boundary in set(stamps.iloc[fold.test])
    assert boundary not in set(stamps.iloc[fold.train])
    assert pd.Timestamp("2026-03-06", tz="UTC") not in set(stamps.iloc[fold.test])


def test_positions_refer_to_the_input_order_not_the_sorted_one() -> None:
    stamps = hourly(8).sample(frac=1.0, random_state=3).reset_index(drop=True)
    for f in walk_forward_splits(stamps, train_days=3, test_days=2):
        assert stamps.iloc[f.train].max() < stamps.iloc[f.test].min()
        assert np.all(np.diff(f.train) > 0) and np.all(np.diff(f.test) > 0)


@pytest.mark.parametrize(
    ("kwargs", "test_starts"),
    [
        ({"step_days": 3}, [5, 8]),
        ({"gap_days": 1}, [6, 8]),
        ({}, [5, 7, 9]),
    ],
)
def test_step_and_gap_move_the_test_windows(kwargs: dict[str, int], test_starts: list[int]) -> None:
    folds = walk_forward_splits(hourly(10), train_days=4, test_days=2, **kwargs)
    assert [f.test_start.day for f in folds] == test_starts


def test_an_expanding_window_always_starts_at_the_origin() -> None:
    folds = walk_forward_splits(hourly(10), train_days=4, test_days=2, expanding=True)
    assert {f.train_start for f in folds} == {pd.Timestamp("2026-03-01", tz="UTC")}
    assert [len(f.train) // 24 for f in folds] == [4, 6, 8]


def test_windows_start_at_utc_midnight_whatever_the_zone_of_the_input() -> None:
    stamps = pd.Series(pd.date_range("2026-03-01 10:00", periods=24 * 9, freq="h", tz="Europe/Warsaw"))
    folds = walk_forward_splits(stamps, train_days=3, test_days=2)
    assert folds[0].train_start == pd.Timestamp("2026-03-01", tz="UTC")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"train_days": 0, "test_days": 2},
        {"train_days": 3, "test_days": -1},
        {"train_days": 3, "test_days": 2, "step_days": 0},
        {"train_days": 3, "test_days": 2, "gap_days": -1},
        {"train_days": 2.5, "test_days": 2},
        {"train_days": True, "test_days": 2},
    ],
)
def test_lengths_that_are_not_whole_positive_days_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(EvaluationError, match="whole number of days"):
        walk_forward_splits(hourly(10), **kwargs)  # type: ignore[arg-type]


def test_data_too_short_for_one_fold_is_refused_with_its_length() -> None:
    with pytest.raises(EvaluationError, match="covers 5 days"):
        walk_forward_splits(hourly(5), train_days=4, test_days=2)


def test_naive_or_missing_timestamps_are_refused() -> None:
    with pytest.raises(EvaluationError, match="time-zone aware"):
        walk_forward_splits(hourly(10).dt.tz_localize(None), train_days=3, test_days=2)
    broken = hourly(10)
    broken.iloc[3] = pd.NaT
    with pytest.raises(EvaluationError, match="missing"):
        walk_forward_splits(broken, train_days=3, test_days=2)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=30 * 24 * 60), min_size=2, max_size=200),
    train_days=st.integers(1, 8),
    test_days=st.integers(1, 5),
    gap_days=st.integers(0, 2),
)
def test_every_fold_is_half_open_and_inside_the_data(
    offsets: list[int], train_days: int, test_days: int, gap_days: int
) -> None:
    """Property: each position sits in its window, training is before test, and test windows fit in the data."""
    stamps = pd.Series(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(offsets, unit="min"))
    try:
        folds = walk_forward_splits(stamps, train_days=train_days, test_days=test_days, gap_days=gap_days)
    except EvaluationError:
        span = stamps.max().floor("D") + pd.Timedelta(days=1) - stamps.min().floor("D")
        assert span < pd.Timedelta(days=train_days + gap_days + test_days)
        return
    end = stamps.max().floor("D") + pd.Timedelta(days=1)
    for f in folds:
        assert f.test_end <= end
        assert ((stamps.iloc[f.train] >= f.train_start) & (stamps.iloc[f.train] < f.train_end)).all()
        assert ((stamps.iloc[f.test] >= f.test_start) & (stamps.iloc[f.test] < f.test_end)).all()
        inside = (stamps >= f.test_start) & (stamps < f.test_end)
        assert int(inside.sum()) == len(f.test)
        assert not set(f.train) & set(f.test)
    assert folds[-1].test_end + pd.Timedelta(days=test_days) > end  # no whole fold was left out


@pytest.fixture
def toy() -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    stamps = pd.Series(pd.date_range("2026-03-01", periods=400, freq="3h", tz="UTC"))
    x = rng.normal(size=400)
    y = (x + rng.normal(scale=0.5, size=400) > 1.2).astype(int)
    return stamps, pd.DataFrame({"x": x}), y


def test_each_fold_is_scored_by_a_model_fitted_on_its_own_training_rows(toy: tuple) -> None:
    from sklearn.metrics import roc_auc_score

    stamps, X, y = toy
    folds = walk_forward_splits(stamps, train_days=14, test_days=7)
    model = LogisticRegression()
    table = evaluate_walk_forward(model, X, y, folds=folds)
    assert not hasattr(model, "coef_"), "the caller's estimator must not be fitted"
    assert list(table.columns) == [
        "fold", "test_start", "train_rows", "test_rows", "test_frauds", "roc_auc", "average_precision",
    ]
    for f, row in zip(folds, table.itertuples(), strict=True):
        expected = LogisticRegression().fit(X.iloc[f.train], y[f.train]).predict_proba(X.iloc[f.test])[:, 1]
        assert row.roc_auc == pytest.approx(roc_auc_score(y[f.test], expected))
        assert row.test_frauds == int(y[f.test].sum()) and row.train_rows == len(f.train)


def test_a_test_window_without_fraud_reports_nan_not_zero(toy: tuple) -> None:
    stamps, X, y = toy
    folds = walk_forward_splits(stamps, train_days=14, test_days=7)
    y = y.copy()
    y[folds[1].test] = 0
    table = evaluate_walk_forward(LogisticRegression(), X, y, folds=folds)
    assert np.isnan(table.loc[1, "roc_auc"]) and np.isnan(table.loc[1, "average_precision"])
    assert table.drop(index=1)["roc_auc"].notna().all()


def test_a_training_window_with_one_class_is_refused(toy: tuple) -> None:
    stamps, X, y = toy
    folds = walk_forward_splits(stamps, train_days=14, test_days=7)
    with pytest.raises(EvaluationError, match="one class only"):
        evaluate_walk_forward(LogisticRegression(), X, np.zeros_like(y), folds=folds)


def test_misaligned_features_and_labels_are_refused(toy: tuple) -> None:
    stamps, X, y = toy
    folds = walk_forward_splits(stamps, train_days=14, test_days=7)
    with pytest.raises(EvaluationError, match="aligned"):
        evaluate_walk_forward(LogisticRegression(), X, y[:-1], folds=folds)


def test_no_folds_give_an_empty_table_with_the_columns(toy: tuple) -> None:
    _, X, y = toy
    table = evaluate_walk_forward(LogisticRegression(), X, y, folds=[])
    assert table.empty and "average_precision" in table.columns
