"""Tests for fraudguard/loadtest.py, the Locust test: its shape and feed in this process, then a real headless run.

Importing ``locust`` patches the standard library for gevent unless ``LOCUST_SKIP_MONKEY_PATCH`` is set, which
would change how every later test in this process behaves; so the module is imported with it set, and the real
load test runs in its own ``locust`` process, as a team would run it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest import mock

import pandas as pd
import pytest
import uvicorn
from fraudguard.config import load_settings
from fraudguard.serving import PredictionRequest
from fraudguard.train import load_model


@pytest.fixture(scope="module")
def loadtest() -> ModuleType:
    with mock.patch.dict(os.environ, {"LOCUST_SKIP_MONKEY_PATCH": "1"}):
        return importlib.import_module("fraudguard.loadtest")


@pytest.mark.parametrize(("seconds", "users"), [(0.0, 3), (2.99, 3), (3.0, 30), (3.99, 30), (4.0, 3), (7.5, 30)])
def test_spikes_are_the_last_spike_s_of_every_period(loadtest: ModuleType, seconds: float, users: int) -> None:
    assert loadtest.Spikes(base=3, spike=30, period_s=4.0, spike_s=1.0).users_at(seconds) == users


def test_the_shape_is_read_from_the_environment(loadtest: ModuleType) -> None:
    with mock.patch.dict(os.environ, {"FRAUDGUARD_LOADTEST_BASE_USERS": "2", "FRAUDGUARD_LOADTEST_SPIKE_S": "0.5"}):
        spikes = loadtest.Spikes.from_environment()
    assert (spikes.base, spikes.spike, spikes.period_s, spikes.spike_s) == (2, 40, 5.0, 0.5)


def test_synthetic_bodies_are_valid_seeded_and_in_time_order(loadtest: ModuleType) -> None:
    bodies = loadtest.synthetic_bodies(2_000, seed=1)
    for body in bodies[:500]:
        PredictionRequest.model_validate(body)
    assert bodies == loadtest.synthetic_bodies(2_000, seed=1) != loadtest.synthetic_bodies(2_000, seed=2)
    assert len({b["transaction_id"] for b in bodies}) == len(bodies)
    stamps = pd.to_datetime([b["timestamp"] for b in bodies])
    assert stamps.is_monotonic_increasing and 0.8 < (stamps[-1] - stamps[0]) / pd.Timedelta("1D") < 1.25


def test_the_feed_never_repeats_a_transaction_and_keeps_time_moving_forward(loadtest: ModuleType) -> None:
    bodies = loadtest.synthetic_bodies(30, seed=0)
    feed = loadtest.TransactionFeed(bodies)
    sent = [next(feed) for _ in range(100)]
    assert sent[:30] == bodies
    assert len({b["transaction_id"] for b in sent}) == 100
    assert sent[30]["transaction_id"] == bodies[0]["transaction_id"] + "~1"
    stamps = pd.to_datetime([b["timestamp"] for b in sent])
    assert stamps.is_monotonic_increasing
    assert stamps[30] - stamps[0] == pd.to_datetime(bodies[-1]["timestamp"]) - pd.to_datetime(bodies[0]["timestamp"]) + pd.Timedelta("1D")
    assert "~" not in bodies[0]["transaction_id"], "the feed must not change the bodies it was given"


def test_an_empty_feed_is_refused(loadtest: ModuleType) -> None:
    with pytest.raises(ValueError, match="no request bodies"):
        loadtest.TransactionFeed([])


def test_the_feed_reads_a_json_lines_file_or_generates_from_a_seed(loadtest: ModuleType, tmp_path: Path) -> None:
    bodies = loadtest.synthetic_bodies(3, seed=5)
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(json.dumps(b) for b in bodies) + "\n\n", encoding="utf-8")
    with mock.patch.dict(os.environ, {"FRAUDGUARD_LOADTEST_BODIES": str(path)}):
        assert loadtest.TransactionFeed.from_environment().bodies == bodies
    others = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDGUARD_LOADTEST_")}
    with mock.patch.dict(os.environ, {**others, "FRAUDGUARD_LOADTEST_SEED": "5"}, clear=True):
        assert loadtest.TransactionFeed.from_environment().bodies == loadtest.synthetic_bodies(5_000, seed=5)


def test_the_shape_stops_at_the_run_time(loadtest: ModuleType) -> None:
    shape = loadtest.SpikyTraffic()
    shape.spikes = loadtest.Spikes(base=2, spike=20, period_s=3.0, spike_s=1.0)
    shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=SimpleNamespace(run_time=5)))
    shape.start_time = time.perf_counter() - 2.5
    users, rate = shape.tick()
    assert users == 20 and rate >= 20
    shape.start_time = time.perf_counter() - 5.0
    assert shape.tick() is None
    shape.runner = None  # no --run-time: a minute
    shape.start_time = time.perf_counter() - 59.0
    assert shape.tick() is not None


@pytest.fixture
def fast_service(saved_model: Path) -> Iterator[str]:
    """The fast app on uvicorn in a thread, on a free localhost port."""
    import socket

    from fraudguard.fast_service import create_fast_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_fast_app(model=load_model(saved_model), settings=load_settings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.mark.slow
def test_a_headless_locust_run_against_the_fast_service_writes_its_stats(
    fast_service: str, package_env: dict[str, str], tmp_path: Path
) -> None:
    """`locust -f fraudguard/loadtest.py --headless` for 3 s: requests sent with spikes, none failed, CSV written."""
    import fraudguard

    locustfile = Path(fraudguard.__file__).parent / "loadtest.py"
    env: dict[str, Any] = {k: v for k, v in package_env.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    env.update(FRAUDGUARD_LOADTEST_BASE_USERS="2", FRAUDGUARD_LOADTEST_SPIKE_USERS="10", FRAUDGUARD_LOADTEST_PERIOD_S="2")
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", fast_service, "--run-time", "3s",
         "--csv", str(tmp_path / "run"), "--csv-full-history", "--only-summary", "--loglevel", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "run_stats.csv").set_index("Name").loc["Aggregated"]
    assert summary["Request Count"] > 20 and summary["Failure Count"] == 0
    history = pd.read_csv(tmp_path / "run_stats_history.csv")
    assert {2, 10} <= set(history["User Count"]), "the shape must have run both the base and the spike"
