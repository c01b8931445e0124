"""Tests for fraudguard/diagnosis.py: metrics with the labels known at the time, slices, the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudguard.diagnosis import DiagnosisError, Evidence, diagnose, slice_recall, weekly_metrics
from fraudguard.errors import FraudguardError

START = pd.Timestamp("2026-01-05", tz="UTC")
LOG = pd.DataFrame({"transaction_id": [f"t{i}" for i in range(6)], "timestamp": START + pd.to_timedelta([0, 1, 2, 7, 8, 9], unit="D"),
                    "flagged": [True, True, False, True, True, False], "channel": ["online", "online", "app", "app", "app", "online"]})
LABELS = pd.DataFrame({"transaction_id": ["t0", "t2", "t3", "t4"], "is_fraud": [1, 1, 1, 0],
                       "label_available_at": START + pd.to_timedelta([20, 20, 30, 60], unit="D")})


def test_weekly_metrics_use_only_labels_known_at_the_time() -> None:
    """Does a chargeback that arrives after as_of stay unknown?"""
    early = weekly_metrics(LOG, LABELS, start=START, as_of=START + pd.Timedelta(days=25), maturity="14D")
    assert early["known_frauds"].tolist() == [2, 0] and early["settled"].tolist() == [True, False]
    assert early["precision"].tolist()[0] == 0.5 and np.isnan(early["recall"].iloc[1])
    late = weekly_metrics(LOG, LABELS, start="2026-01-05", as_of=START + pd.Timedelta(days=31), maturity="7D")
    assert late["known_frauds"].tolist() == [2, 1] and late["settled"].tolist() == [True, True]


def test_weekly_metrics_refuse_a_log_without_its_columns() -> None:
    with pytest.raises(DiagnosisError, match="flagged"):
        weekly_metrics(LOG.drop(columns=["flagged"]), LABELS, start=START, as_of=START)


def test_slice_recall_counts_known_frauds_per_slice() -> None:
    table = slice_recall(LOG, LABELS, by="channel", as_of=START + pd.Timedelta(days=31), min_frauds=1)
    assert table.set_index("slice")["frauds"].to_dict() == {"app": 2, "online": 1}
    assert table.set_index("slice")["recall"].to_dict() == {"app": 0.5, "online": 1.0}
    with pytest.raises(DiagnosisError):
        slice_recall(LOG, LABELS, by="device", as_of=START)


def _weeks(recalls: list[float], settled: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"week": range(len(recalls)), "recall": recalls, "settled": settled})


@pytest.mark.parametrize(
    ("recalls", "settled", "drift_alerts", "kind"),
    [
        ([0.5, 0.1, 0.05], [True, False, False], 0, "label delay"),
        ([0.5, 0.2, 0.05], [True, True, False], 0, "concept drift"),
        ([0.5, 0.2], [True, True], 2, "covariate shift"),
        ([0.5, 0.45, 0.1], [True, True, False], 3, "no regression"),
        ([0.5, 0.2, 0.8], [True, True, True], 0, "no regression"),
        ([0.5, 0.25], [True, True], 0, "no regression"),
    ],
)
def test_diagnose_weighs_maturity_then_settled_recall_then_drift(recalls: list[float], settled: list[bool],
                                                                  drift_alerts: int, kind: str) -> None:
    verdict = diagnose(Evidence(_weeks(recalls, settled), baseline_weeks=1, drift_alerts=drift_alerts))
    assert verdict.kind == kind
    assert verdict.retrain == (kind in ("concept drift", "covariate shift"))
    assert verdict.reasons


def test_diagnose_refuses_a_tolerance_outside_zero_one() -> None:
    with pytest.raises(DiagnosisError):
        diagnose(Evidence(_weeks([0.5, 0.2], [True, True])), tolerance=1.5)
    assert issubclass(DiagnosisError, FraudguardError)
