"""fraudguard/profiling.py: stage timers, honest percentiles, cProfile tables, closed and open loads.

The load generators are tested against a stand-in server (a function that answers one request at a time
and stalls on cue), so the timing facts they must get right are lower bounds that hold on any machine, and
once against module 01's service on a real uvicorn server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

from fraudguard.config import load_settings
from fraudguard.features import History
from fraudguard.profiling import (
    LOAD_COLUMNS,
    MIN_SAMPLES_FOR_P99,
    StageTimer,
    closed_loop,
    latency_summary,
    open_loop,
    profile_table,
)
from fraudguard.serving import PredictionRequest, create_app
from fraudguard.train import load_model


class FakeClock:
    """Advances by the given nanosecond steps, one per reading (then stands still)."""

    def __init__(self, *steps: int) -> None:
        self.now, self.steps = 0, list(steps)

    def __call__(self) -> int:
        self.now += self.steps.pop(0) if self.steps else 0
        return self.now


class StandIn:
    """A server that answers one request at a time; request `stall_at` takes `stall_s`, `fail_at` raises."""

    def __init__(
        self, *, service_s: float = 0.001, stall_at: int | None = None, stall_s: float = 0.3, fail_at: int | None = None
    ) -> None:
        self.service_s, self.stall_at, self.stall_s, self.fail_at = service_s, stall_at, stall_s, fail_at
        self.calls: list[int] = []
        self.in_flight = self.most_in_flight = 0
        self._busy, self._books = threading.Lock(), threading.Lock()

    def __call__(self, i: int) -> None:
        with self._books:
            self.calls.append(i)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if i == self.fail_at:
                raise ConnectionError("connection refused")
            with self._busy:
                time.sleep(self.stall_s if i == self.stall_at else self.service_s)
        finally:
            with self._books:
                self.in_flight -= 1


# --- StageTimer -------------------------------------------------------------------------------------------


def test_stage_timer_adds_up_calls_and_time_per_stage_in_first_seen_order() -> None:
    timer = StageTimer(clock=FakeClock(0, 3_000, 0, 9_000, 0, 3_000))
    for name in ["parse", "model", "parse"]:
        with timer.stage(name):
            pass
    table = timer.summary()
    assert list(table.columns) == ["stage", "calls", "total_ms", "mean_us", "share"]
    assert table["stage"].tolist() == ["parse", "model"]
    parse, model = table.iloc[0], table.iloc[1]
    assert (parse["calls"], parse["total_ms"], parse["mean_us"]) == (2, pytest.approx(0.006), pytest.approx(3.0))
    assert (model["calls"], model["share"]) == (1, pytest.approx(0.6))
    assert table["share"].sum() == pytest.approx(1.0)


def test_a_stage_that_raises_is_still_timed() -> None:
    """Is the time of a failing call (a 422 for a bad currency) kept?"""
    timer = StageTimer(clock=FakeClock(0, 5_000))
    with pytest.raises(KeyError), timer.stage("features"):
        raise KeyError("EUR")
    row = timer.summary().iloc[0]
    assert (row["calls"], row["total_ms"]) == (1, pytest.approx(0.005))


def test_reset_forgets_every_stage_and_an_empty_summary_keeps_its_columns() -> None:
    timer = StageTimer()
    with timer.stage("warm-up"):
        time.sleep(0.001)
    assert timer.summary()["total_ms"].iloc[0] >= 1.0  # the real clock: at least the millisecond slept
    timer.reset()
    empty = timer.summary()
    assert empty.empty and list(empty.columns) == list(StageTimer.COLUMNS)


# --- latency_summary ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def steady() -> np.ndarray:
    return np.random.default_rng(0).lognormal(mean=np.log(0.008), sigma=0.35, size=1_200)


def test_latency_summary_drops_the_first_samples_and_reports_numpy_percentiles_in_ms(steady: np.ndarray) -> None:
    cold = np.r_[np.full(20, 0.2), steady]
    summary = latency_summary(cold, warmup=20)
    assert (summary.n, summary.dropped) == (1_200, 20)
    expected = np.percentile(steady * 1e3, [50, 95, 99])
    assert [summary.p50_ms, summary.p95_ms, summary.p99_ms] == pytest.approx(expected.tolist())
    assert summary.max_ms == pytest.approx(steady.max() * 1e3) and summary.max_ms < 200
    assert summary.p50_ms != pytest.approx(steady.mean() * 1e3, rel=1e-3)  # the median, not the mean


def test_latency_summary_keeps_warm_up_samples_when_asked_to(steady: np.ndarray) -> None:
    summary = latency_summary(np.r_[0.2, steady], warmup=0)
    assert summary.n == 1_201 and summary.max_ms == pytest.approx(200.0)


@pytest.mark.parametrize(("n", "reliable"), [(999, False), (MIN_SAMPLES_FOR_P99, True)])
def test_p99_is_flagged_below_a_thousand_samples(steady: np.ndarray, n: int, reliable: bool) -> None:
    summary = latency_summary(steady[:n], warmup=0)
    assert summary.reliable_p99 is reliable
    assert (summary.note == "") is reliable
    if not reliable:
        assert "999 samples" in summary.note and "slowest 9" in summary.note


@pytest.mark.parametrize(
    ("samples", "warmup", "match"),
    [([0.01] * 5, 5, "no samples left"), ([0.01], -1, "warmup"), ([0.01, float("nan")], 0, "NaN"), ([-0.01], 0, "non-negative")],
)
def test_latency_summary_refuses_what_it_cannot_summarise(samples: list[float], warmup: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        latency_summary(samples, warmup=warmup)


# --- profile_table ------------------------------------------------------------------------------------------


def _inner(k: int) -> None:
    time.sleep(0.002)


def _outer() -> None:
    for k in range(7):
        _inner(k)


def test_profile_table_counts_calls_and_sorts_by_cumulative_time() -> None:
    table = profile_table(_outer, top=None)
    assert list(table.columns) == ["function", "package", "calls", "own_ms", "cumulative_ms", "share"]
    assert table["cumulative_ms"].is_monotonic_decreasing
    inner = table[table["function"].str.endswith("(_inner)")].iloc[0]
    assert inner["calls"] == 7 and inner["cumulative_ms"] >= 14 and inner["own_ms"] < inner["cumulative_ms"] / 2
    assert table[table["function"].str.endswith("(_outer)")]["share"].iloc[0] == pytest.approx(1.0, abs=0.05)
    assert len(profile_table(_outer, top=3)) == 3


def test_profile_table_passes_arguments_and_names_the_package_of_each_function() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    table = profile_table(pd.concat, [frame, frame], ignore_index=True, top=None)
    assert "pandas" in set(table["package"])
    assert table.loc[table["function"].str.endswith("(concat)"), "calls"].iloc[0] == 1
    assert "~" in set(table["package"])  # built-ins keep pstats' own mark


# --- closed_loop ----------------------------------------------------------------------------------------------


def test_closed_loop_makes_each_request_once_and_times_it() -> None:
    server = StandIn()
    run = closed_loop(server, n=20)
    assert list(run.columns) == list(LOAD_COLUMNS)
    assert run["request"].tolist() == list(range(20)) and sorted(server.calls) == list(range(20))
    assert (run["latency_s"] >= 0.001).all() and run["error"].isna().all()


def test_closed_loop_keeps_one_request_in_flight_per_client() -> None:
    server = StandIn(service_s=0.02)
    closed_loop(server, n=9, clients=3)
    assert server.most_in_flight == 3


def test_paced_closed_loop_sends_on_schedule_but_hides_the_wait_behind_a_stall() -> None:
    """Coordinated omission: the request due during a stall goes late, and its latency does not show it."""
    run = closed_loop(StandIn(stall_at=5, stall_s=0.3), n=12, rate=100)
    assert np.allclose(run["due_s"], np.arange(12) / 100) and (run["sent_s"] >= run["due_s"]).all()
    late = run.iloc[6]
    assert late["sent_s"] - late["due_s"] > 0.2
    assert late["latency_s"] < late["sent_s"] - late["due_s"]


def test_closed_loop_records_failures_and_stops_at_max_seconds() -> None:
    failed = closed_loop(StandIn(fail_at=3), n=6, clients=2)
    assert failed["error"].notna().tolist() == [False, False, False, True, False, False]
    assert "ConnectionError" in failed.loc[3, "error"]
    bounded = closed_loop(StandIn(service_s=0.0), n=10_000, rate=100, max_seconds=0.15)
    assert 0 < len(bounded) <= 16


@pytest.mark.parametrize("kwargs", [{"n": -1}, {"n": 1, "clients": 0}, {"n": 1, "rate": 0.0}, {"n": 1, "max_seconds": 0}])
def test_closed_loop_refuses_impossible_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        closed_loop(StandIn(), **kwargs)


# --- open_loop ------------------------------------------------------------------------------------------------


def test_open_loop_sends_on_a_fixed_schedule() -> None:
    server = StandIn(service_s=0.0)
    run = open_loop(server, rate=100, n=20)
    assert list(run.columns) == list(LOAD_COLUMNS)
    assert run["request"].tolist() == list(range(20)) and sorted(server.calls) == list(range(20))
    assert run["due_s"].tolist() == [i / 100 for i in range(20)]
    assert (run["sent_s"] >= run["due_s"] - 1e-9).all()
    assert (run["latency_s"] >= run["sent_s"] - run["due_s"]).all()  # from the due time, so never less than the wait


def test_open_loop_times_every_request_that_queued_behind_a_stall() -> None:
    """Requests 11 to 30 come due during a 300 ms stall: each waited at least 100 ms from its due time."""
    server = StandIn(stall_at=10, stall_s=0.3)
    stalled = open_loop(server, rate=100, n=50, max_in_flight=4)
    assert server.most_in_flight == 4
    assert (stalled["latency_s"] >= 0.1).sum() >= 15
    behind = stalled.set_index("request").loc[11:20]
    assert (behind["latency_s"] >= 0.2).all()


def test_open_loop_records_failures_and_stops_at_max_seconds() -> None:
    failed = open_loop(StandIn(fail_at=3), rate=200, n=6)
    assert failed["error"].notna().tolist() == [False, False, False, True, False, False]
    bounded = open_loop(StandIn(service_s=0.0), rate=100, n=10_000, max_seconds=0.15)
    assert 0 < len(bounded) <= 16 and bounded["due_s"].max() <= 0.15


@pytest.mark.parametrize(
    "kwargs", [{"rate": 0.0, "n": 1}, {"rate": 1.0, "n": -1}, {"rate": 1.0, "n": 1, "max_in_flight": 0}]
)
def test_open_loop_refuses_impossible_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        open_loop(StandIn(), **kwargs)


# --- against module 01's service on a real uvicorn server -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service(saved_model: Path, month: pd.DataFrame) -> Iterator[str]:
    """Module 01's app on uvicorn in a background thread, on a free localhost port; always stopped."""
    app = create_app(
        model=load_model(saved_model), settings=load_settings(max_batch_size=500), history=History(month.tail(2_000))
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _sender(client: httpx.Client, transactions: pd.DataFrame) -> Callable[[int], None]:
    fields = list(PredictionRequest.model_fields)

    def send(i: int) -> None:
        row = transactions.iloc[i % len(transactions)]
        body = {name: row[name] for name in fields}
        body["timestamp"] = row["timestamp"].isoformat()
        body["amount_cents"] = int(row["amount_cents"])
        client.post("/predict", json={k: v if isinstance(v, int | str) else str(v) for k, v in body.items()}).raise_for_status()

    return send


def test_both_loads_measure_a_real_uvicorn_service(service: str, transactions: pd.DataFrame) -> None:
    """Against module 01's service over HTTP: every request answered, latencies positive, schedule kept."""
    with httpx.Client(base_url=service, timeout=30) as client:
        send = _sender(client, transactions)
        closed = closed_loop(send, n=20, clients=2, max_seconds=20)
        opened = open_loop(send, rate=50, n=20, max_in_flight=8, max_seconds=20)
    for run in (closed, opened):
        assert len(run) == 20 and run["error"].isna().all() and (run["latency_s"] > 0).all()
    assert opened["due_s"].tolist() == [i / 50 for i in range(20)]
    assert latency_summary(opened["latency_s"], warmup=0).n == 20
