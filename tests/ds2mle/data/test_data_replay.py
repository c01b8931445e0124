"""Tests for ds2mle/data/replay.py: Paylane live, a deterministic stream with late labels."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from ds2mle.data import DRIFT_SCENARIOS
from ds2mle.data.replay import HttpTarget, ReplayPlan, build_stream, replay
from ds2mle.errors import DataError

PLAN = ReplayPlan(days=8, rows_per_day=400, seed=11, drift="merchant_mix", drift_at_day=4, drift_strength=2.0)


@pytest.fixture(scope="module")
def stream():  # type: ignore[no-untyped-def]
    return build_stream(PLAN)


def test_the_same_plan_gives_the_same_stream(stream) -> None:  # type: ignore[no-untyped-def]
    again = build_stream(PLAN)
    pd.testing.assert_frame_equal(stream.transactions, again.transactions)
    pd.testing.assert_frame_equal(stream.labels, again.labels)


def test_drift_switches_on_at_its_day_in_the_same_world(stream) -> None:  # type: ignore[no-untyped-def]
    """Does the scenario's statistic move after the switch, with the same cards before and after?"""
    tx = stream.transactions
    switch = pd.Timestamp(PLAN.start, tz="UTC") + pd.Timedelta(days=PLAN.drift_at_day)
    assert (tx.loc[tx["drifted"], "timestamp"] >= switch).all()
    assert (tx.loc[~tx["drifted"], "timestamp"] < switch).all()
    statistic = DRIFT_SCENARIOS["merchant_mix"].statistic
    before, after = tx[~tx["drifted"]], tx[tx["drifted"]]
    assert statistic(after) > statistic(before) * 1.5
    shared = set(before["card_id"]) & set(after["card_id"])
    assert len(shared) > 0.5 * after["card_id"].nunique(), "the drifted traffic comes from the same customers"
    assert tx["transaction_id"].is_unique and tx["timestamp"].is_monotonic_increasing


def test_labels_arrive_after_their_transactions_and_never_reach_the_scorer(stream) -> None:  # type: ignore[no-untyped-def]
    tx, labels = stream.transactions, stream.labels
    assert "is_fraud" not in tx.columns and "label_available_at" not in tx.columns
    merged = labels.merge(tx[["transaction_id", "timestamp"]], on="transaction_id")
    assert len(merged) == len(labels) > 0
    assert (merged["label_available_at"] >= merged["timestamp"]).all()
    assert labels["label_available_at"].is_monotonic_increasing


def test_events_come_in_time_order_with_both_kinds(stream) -> None:  # type: ignore[no-untyped-def]
    events = list(stream.events())
    times = [when for when, _, _ in events]
    assert times == sorted(times)
    kinds = {kind for _, kind, _ in events}
    assert kinds == {"transaction", "label"}
    first_tx = next(record for _, kind, record in events if kind == "transaction")
    assert isinstance(first_tx["timestamp"], str) and first_tx["timestamp"].endswith("+00:00")
    assert isinstance(first_tx["amount_cents"], int)


def test_a_fault_switches_on_at_its_day() -> None:
    stream = build_stream(ReplayPlan(days=4, rows_per_day=300, seed=2, fault="duplicates", fault_at_day=2))
    tx = stream.transactions
    switch = pd.Timestamp("2026-01-03", tz="UTC")
    assert (tx.loc[tx["faulty"], "timestamp"] >= switch).all()
    assert tx.loc[tx["timestamp"] < switch, "transaction_id"].is_unique
    assert not tx.loc[tx["faulty"], "transaction_id"].is_unique, "the duplicates fault repeats rows after the switch"


def test_replay_hands_micro_batches_to_a_function_and_delivers_labels(stream) -> None:  # type: ignore[no-untyped-def]
    sizes: list[int] = []
    delivered: list[dict[str, Any]] = []

    def score(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sizes.append(len(batch))
        return [{"fraud_probability": 0.5} for _ in batch]

    log = replay(stream, score, batch_size=64, on_label=delivered.append)
    assert len(log.responses) == len(stream.transactions)
    assert max(sizes) == 64 and sum(sizes) == len(stream.transactions)
    assert list(log.responses["transaction_id"]) == list(stream.transactions["transaction_id"])
    assert len(delivered) == len(log.labels) == len(stream.labels)


def test_replay_refuses_a_scorer_that_loses_results(stream) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="answered 1 results for 2 transactions"):
        replay(stream, lambda batch: [{}], batch_size=2)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (ReplayPlan(days=0), r"days was 0"),
        (ReplayPlan(drift="weather"), r"unknown drift scenario 'weather'"),
        (ReplayPlan(fault="gremlins"), r"unknown fault 'gremlins'"),
        (ReplayPlan(days=7, drift="merchant_mix", drift_at_day=7), r"drift_at_day was 7; .* 0 to 6"),
    ],
)
def test_an_impossible_plan_is_one_sentence_naming_the_field(plan: ReplayPlan, message: str) -> None:
    with pytest.raises(DataError, match=message):
        build_stream(plan)


@pytest.fixture
def echo_service() -> Iterator[str]:
    """A real uvicorn server on localhost that echoes a probability (the replay must not import fraudguard)."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        return {"transaction_id": body["transaction_id"], "fraud_probability": 0.25}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_replay_drives_a_real_service_over_http(stream, echo_service: str) -> None:  # type: ignore[no-untyped-def]
    log = replay(stream, HttpTarget(echo_service), limit=40)
    assert len(log.responses) == 40
    assert set(log.responses["status"]) == {200}
    assert (log.responses["fraud_probability"] == 0.25).all()
    assert (log.responses["latency_s"] > 0).all()


def test_an_unreachable_service_is_recorded_not_raised(stream) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    log = replay(stream, HttpTarget(f"http://127.0.0.1:{port}", timeout=1.0), limit=3)
    assert set(log.responses["status"]) == {0}
    assert log.responses["error"].str.contains("ConnectError").all()
