"""Tests for fraudguard/monitoring.py: windows, the window table, budgets, alert rules, delay, the report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fraudguard.drift import PSIDetector
from fraudguard.errors import FraudguardError
from fraudguard.monitoring import (
    AlertRule,
    MonitoringError,
    assign_windows,
    detection_delay,
    evaluate_rules,
    false_alarm_rate,
    threshold_from_budget,
    window_table,
    write_report,
)

START = pd.Timestamp("2026-01-05", tz="UTC")


def _log(days: int = 3, per_day: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * per_day
    times = START + pd.to_timedelta(np.sort(rng.uniform(0, days * 86_400, n)), unit="s")
    score = rng.beta(1, 30, n)
    return pd.DataFrame({"timestamp": times, "fraud_probability": score, "flagged": score >= 0.1,
                         "amount_eur": rng.lognormal(3, 1, n), "channel": rng.choice(["online", "in_store"], n)})


def _table(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"window": range(len(values)), "window_start": pd.date_range(START, periods=len(values)),
                         "m": values})


def test_monitoring_error_is_a_fraudguard_value_error() -> None:
    assert issubclass(MonitoringError, FraudguardError) and issubclass(MonitoringError, ValueError)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [("2026-01-04 23:59:59", -1), ("2026-01-05 00:00", 0), ("2026-01-05 23:59:59", 0), ("2026-01-06 00:00", 1)],
)
def test_assign_windows_is_half_open(stamp: str, expected: int) -> None:
    """Does a timestamp exactly at a window's end belong to the next window?"""
    got = assign_windows(pd.Series(pd.to_datetime([stamp], utc=True)), start="2026-01-05")
    assert got.tolist() == [expected]


def test_assign_windows_refuses_naive_timestamps() -> None:
    with pytest.raises(MonitoringError, match="time-zone aware"):
        assign_windows(pd.Series(pd.to_datetime(["2026-01-05"])), start=START)


def test_window_table_has_one_row_per_window_with_metrics_and_drift() -> None:
    log = _log()
    detector = PSIDetector(columns=["amount_eur", "channel"]).fit(log)
    table = window_table(log, detectors=[detector], start=START)
    assert table["window"].tolist() == [0, 1, 2]
    assert list(table.columns[:5]) == ["window", "window_start", "n", "alert_rate", "mean_score"]
    first = log[log["timestamp"] < START + pd.Timedelta(days=1)]
    assert table["n"].iloc[0] == len(first)
    assert table["alert_rate"].iloc[0] == pytest.approx(first["flagged"].mean())
    assert table["psi:amount_eur"].iloc[0] == pytest.approx(detector.score(first)["value"].iloc[0])


def test_window_table_gives_nan_drift_to_sparse_windows_and_ignores_rows_before_start() -> None:
    log = _log()
    detector = PSIDetector(columns=["amount_eur"]).fit(log)
    table = window_table(log, detectors=[detector], start=START + pd.Timedelta(days=2), min_rows=10_000)
    assert table["window"].tolist() == [0]
    assert np.isnan(table["psi:amount_eur"].iloc[0]) and table["n"].iloc[0] > 0


def test_window_table_refuses_a_log_without_its_columns() -> None:
    with pytest.raises(MonitoringError, match="flagged"):
        window_table(_log().drop(columns=["flagged"]), detectors=[], start=START)


def test_threshold_from_budget_is_the_clean_quantile() -> None:
    values = pd.Series(np.r_[np.arange(1.0, 101.0), [np.nan] * 5])
    assert threshold_from_budget(values, budget=0.05) == pytest.approx(np.quantile(np.arange(1.0, 101.0), 0.95))
    assert threshold_from_budget(values, budget=0.05, direction="below") == pytest.approx(np.quantile(np.arange(1.0, 101.0), 0.05))


@pytest.mark.parametrize("budget", [0.0, 1.0, -0.1, 0.001])
def test_threshold_from_budget_refuses_impossible_budgets(budget: float) -> None:
    with pytest.raises(MonitoringError):
        threshold_from_budget(np.arange(100.0), budget=budget)


@pytest.mark.parametrize(
    ("values", "consecutive", "direction", "expected"),
    [
        ([0.1, 0.5, 0.6, 0.1], 1, "above", [1]),  # one incident, one page
        ([0.5, 0.1, 0.5, 0.5, 0.5], 2, "above", [3]),  # the second breach in a row
        ([0.3, np.nan, 0.31], 1, "above", [2]),  # equal is not a breach, NaN never is
        ([0.02, 0.0, 0.02], 1, "below", [1]),
        ([0.5, 0.1, 0.5], 1, "above", [0, 2]),  # a new run pages again
    ],
)
def test_evaluate_rules_fires_once_per_run_of_breaches(values: list[float], consecutive: int, direction: str,
                                                       expected: list[int]) -> None:
    rule = AlertRule("r", "m", 0.3 if direction == "above" else 0.005, direction=direction,  # type: ignore[arg-type]
                     consecutive=consecutive, runbook="rb#r")
    alerts = evaluate_rules(_table(values), [rule])
    assert alerts["window"].tolist() == expected
    assert set(alerts["runbook"]) <= {"rb#r"}


def test_evaluate_rules_refuses_an_unknown_metric() -> None:
    with pytest.raises(MonitoringError, match="psi:nope"):
        evaluate_rules(_table([0.1]), [AlertRule("r", "psi:nope", 0.3)])


@pytest.mark.parametrize(("drift_window", "expected"), [(9, 1), (7, 3), (13, None), (0, 3)])
def test_detection_delay_counts_the_firing_window_and_ignores_earlier_alarms(drift_window: int, expected: int | None) -> None:
    alerts = pd.DataFrame({"window": [2, 9, 12]})
    assert detection_delay(alerts, drift_window=drift_window) == expected


def test_false_alarm_rate_is_firings_per_window() -> None:
    assert false_alarm_rate(pd.DataFrame({"window": [1, 2, 3]}), n_windows=30) == pytest.approx(0.1)
    with pytest.raises(MonitoringError):
        false_alarm_rate(pd.DataFrame({"window": []}), n_windows=0)


def test_write_report_escapes_data_links_runbooks_and_embeds_plots(tmp_path: Path) -> None:
    alerts = pd.DataFrame({"rule": ["<script>x</script>"], "metric": ["m"], "window": [3],
                           "window_start": [pd.Timestamp("2026-01-08", tz="UTC")], "value": [0.41234], "threshold": [0.3],
                           "runbook": ["runbook.md#amount-drift"]})
    figure, axis = plt.subplots()
    axis.plot([0, 1])
    path = write_report(tmp_path / "a" / "r.html", title="T & t", summary="s", table=_table([0.1]), alerts=alerts,
                        figures={"cap": figure})
    plt.close(figure)
    text = path.read_text(encoding="utf-8")
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text
    assert 'href="runbook.md#amount-drift"' in text and "0.412" in text and "data:image/png;base64," in text
