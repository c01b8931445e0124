"""Tests for fraudguard/batch_checks.py: freshness, completeness, volume and ranges, with bands learned from data."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from fraudguard.batch_checks import (
    METRICS,
    Band,
    BatchThresholds,
    learn_band,
    learn_thresholds,
    measure,
    run_batch_checks,
    worst_status,
)
from fraudguard.errors import DataError
from fraudguard.schema_changes import refuse_breaking_changes

from ds2mle.data import generate_transactions, inject_fault


def _job_time(day: pd.DataFrame) -> pd.Timestamp:
    first: pd.Timestamp = day["timestamp"].dt.floor("D").mode().iloc[0]
    return first + pd.Timedelta(hours=25)


@pytest.fixture(scope="module")
def clean_days() -> list[pd.DataFrame]:
    window = generate_transactions(n_rows=28_000, seed=100, start="2026-01-05", days=14)
    return [day.reset_index(drop=True) for _, day in window.groupby(window["timestamp"].dt.floor("D"))]


@pytest.fixture(scope="module")
def thresholds(clean_days: list[pd.DataFrame]) -> BatchThresholds:
    return learn_thresholds(pd.DataFrame([measure(day, as_of=_job_time(day)) for day in clean_days]))


@pytest.fixture(scope="module")
def other_day() -> pd.DataFrame:
    week = generate_transactions(n_rows=14_000, seed=55, start="2026-03-02", days=7)
    days = week["timestamp"].dt.floor("D")
    return week[days == days.unique()[3]].reset_index(drop=True)


@pytest.mark.parametrize(
    ("value", "status"),
    [(15, "ok"), (10, "ok"), (20, "ok"), (9.9, "warn"), (30, "warn"), (4.9, "fail"), (31, "fail"), (math.nan, "fail")],
)
def test_band_status_includes_its_limits_and_fails_nan(value: float, status: str) -> None:
    assert Band(warn_low=10, warn_high=20, fail_low=5, fail_high=30).status(value) == status


def test_learn_band_widens_the_clean_range() -> None:
    assert learn_band([10.0, 12.0, 14.0], quantile=1.0, margin=0.5) == Band(8.0, 16.0, 4.0, 20.0)
    upper = learn_band([1.0, 2.0], upper_only=True, quantile=1.0)
    assert upper.warn_low == upper.fail_low == -math.inf


@pytest.mark.parametrize("values", [[1.0], [], [1.0, math.nan]])
def test_learn_band_refuses_too_little_data(values: list[float]) -> None:
    with pytest.raises(DataError, match="at least two"):
        learn_band(values)


def test_no_check_fires_on_a_clean_day_of_another_week(thresholds: BatchThresholds, other_day: pd.DataFrame) -> None:
    """Do the learned bands stay quiet on a clean day they were not learned from?"""
    results = run_batch_checks(other_day, thresholds=thresholds, as_of=_job_time(other_day))
    assert [r.check for r in results] == list(METRICS)
    assert worst_status(results) == "ok", [r.detail for r in results if r.status != "ok"]


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("null_burst", "null_share"),
        ("late_events", "outside_day_share"),
        ("timezone_shift", "outside_day_share"),
        ("class_imbalance", "volume_rows"),
    ],
)
def test_batch_faults_fail_their_check(
    thresholds: BatchThresholds, other_day: pd.DataFrame, fault: str, check: str
) -> None:
    damaged = refuse_breaking_changes(inject_fault(other_day, fault, seed=3))
    results = {r.check: r for r in run_batch_checks(damaged, thresholds=thresholds, as_of=_job_time(other_day))}
    assert results[check].status == "fail", results[check].detail


def test_a_stale_batch_fails_freshness(thresholds: BatchThresholds, other_day: pd.DataFrame) -> None:
    later = _job_time(other_day) + pd.Timedelta(days=1)
    results = {r.check: r for r in run_batch_checks(other_day, thresholds=thresholds, as_of=later)}
    assert results["freshness_hours"].status == "fail"
    assert results["freshness_hours"].value > 24


def test_future_timestamps_do_not_make_a_batch_fresh(other_day: pd.DataFrame) -> None:
    at = _job_time(other_day)
    future = other_day.copy()
    future.loc[0, "timestamp"] = at + pd.Timedelta(days=365)
    assert measure(future, as_of=at)["freshness_hours"] == measure(other_day, as_of=at)["freshness_hours"]


def test_missing_labels_are_not_missing_data(other_day: pd.DataFrame) -> None:
    unlabelled = other_day.assign(label_available_at=pd.NaT)
    assert measure(unlabelled, as_of=_job_time(other_day))["null_share"] == 0


def test_an_empty_batch_measures_without_crashing(other_day: pd.DataFrame) -> None:
    values = measure(other_day.iloc[:0], as_of=_job_time(other_day))
    assert values["volume_rows"] == 0 and math.isnan(values["median_amount_eur"])
    assert values["freshness_hours"] == math.inf


def test_thresholds_round_trip_through_json(thresholds: BatchThresholds) -> None:
    assert BatchThresholds.from_json(thresholds.to_json()) == thresholds
    with pytest.raises(DataError, match="band for each"):
        BatchThresholds.from_json('{"volume_rows": {"warn_low": 1}}')
