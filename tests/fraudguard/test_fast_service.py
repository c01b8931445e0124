"""Tests for fraudguard/fast_service.py: the micro-batcher with plain functions, the fast app on real uvicorn over HTTP.

The app runs in a uvicorn server on 127.0.0.1 (a thread of this process for most tests; the
``fraudguard serve-fast`` command in its own process for the slow ones), and every request is a real HTTP request.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI
from fraudguard.config import Settings, load_settings
from fraudguard.fast_service import MicroBatcher, create_fast_app
from fraudguard.features import History
from fraudguard.serving import PredictionRequest, create_app
from fraudguard.train import FraudModel, load_model

with warnings.catch_warnings():  # recent Starlette suggests httpx2 for TestClient; httpx works the same here
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FIELDS = list(PredictionRequest.model_fields)


def body(row: pd.Series) -> dict[str, Any]:
    """A /predict request for one simulated transaction."""
    values = {name: row[name] for name in FIELDS}
    values["timestamp"] = row["timestamp"].isoformat()
    values["amount_cents"] = int(row["amount_cents"])
    return {k: v if isinstance(v, (int, str)) else str(v) for k, v in values.items()}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on uvicorn on a free localhost port, in a thread; yield its URL; always stop it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def model_threshold(**overrides: Any) -> Settings:
    """Settings whose threshold is None ("use the model's"), whatever the configured default is."""
    return load_settings(**overrides).model_copy(update={"threshold": None})


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def days(month: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month's second-to-last day (history at start-up) and the busiest customers' payments of its last day."""
    last = month["timestamp"].max().floor("D")
    yesterday = month[(month["timestamp"] >= last - pd.Timedelta(days=1)) & (month["timestamp"] < last)]
    today = month[month["timestamp"] >= last]
    fraud = set(today.loc[today["is_fraud"] == 1, "customer_id"])
    busiest = [c for c in today["customer_id"].value_counts().index if c not in fraud][:20]
    replay = today[today["customer_id"].isin(fraud | set(busiest))].sort_values("timestamp", kind="stable")
    return yesterday, replay


@pytest.fixture(scope="module")
def fast_url(model: FraudModel, days: tuple[pd.DataFrame, pd.DataFrame]) -> Iterator[str]:
    """The fast app with yesterday as history, max_batch_size=50, on uvicorn; shared by the module's HTTP tests."""
    app = create_fast_app(model=model, settings=model_threshold(max_batch_size=50), history=History(days[0]))
    with serving(app) as url:
        yield url


# --- MicroBatcher, with plain scoring functions -------------------------------------------------------------------


class Recorder:
    """A scoring function that records its calls; ``hold`` blocks until the gate opens, ``bad`` raises."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        if "hold" in items:
            assert self.gate.wait(10), "the test never opened the gate"
        if "bad" in items:
            raise ValueError("cannot score 'bad'")
        return [f"{item}!" for item in items]


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))


async def while_busy(batcher: MicroBatcher[str, str], score: Recorder, requests: Sequence[list[str]]) -> list[Any]:
    """Submit ["hold"], then ``requests`` while that call runs; open the gate; every answer (or exception)."""
    score.gate.clear()
    holding = asyncio.ensure_future(batcher.submit(["hold"]))
    while not score.calls or score.calls[-1] != ["hold"]:
        await asyncio.sleep(0.001)
    later = [asyncio.ensure_future(batcher.submit(items)) for items in requests]
    await asyncio.sleep(0.02)
    score.gate.set()
    return list(await asyncio.gather(holding, *later, return_exceptions=True))


def test_an_idle_batcher_scores_each_request_at_once_alone() -> None:
    score = Recorder()

    async def scenario() -> list[list[str]]:
        async with MicroBatcher(score) as batcher:
            return [await batcher.submit(["a"]), await batcher.submit(["b", "c"])]

    assert run(scenario()) == [["a!"], ["b!", "c!"]]
    assert score.calls == [["a"], ["b", "c"]]


def test_requests_that_queue_during_a_call_share_the_next_within_max_batch_rows_in_order() -> None:
    score = Recorder()

    async def scenario() -> list[Any]:
        async with MicroBatcher(score, max_batch_rows=4) as batcher:
            return await while_busy(batcher, score, [[f"x{i}"] for i in range(1, 10)])

    answers = run(scenario())
    assert score.calls == [["hold"], ["x1", "x2", "x3", "x4"], ["x5", "x6", "x7", "x8"], ["x9"]]
    assert answers[1:] == [[f"x{i}!"] for i in range(1, 10)]


def test_a_request_is_never_split_nor_reordered_and_a_big_one_is_scored_alone() -> None:
    score = Recorder()
    requests = [["p1", "p2", "p3"], ["q1", "q2"], ["r1"], ["s1", "s2", "s3", "s4", "s5", "s6"]]

    async def scenario() -> list[Any]:
        async with MicroBatcher(score, max_batch_rows=4) as batcher:
            return await while_busy(batcher, score, requests)

    answers = run(scenario())
    assert score.calls[1:] == [["p1", "p2", "p3"], ["q1", "q2", "r1"], ["s1", "s2", "s3", "s4", "s5", "s6"]]
    assert answers[1:] == [[f"{item}!" for item in request] for request in requests]


def test_one_failing_request_fails_alone_and_is_not_counted() -> None:
    score = Recorder()

    async def scenario() -> tuple[list[Any], tuple[int, int]]:
        async with MicroBatcher(score) as batcher:
            answers = await while_busy(batcher, score, [["g1"], ["bad"], ["g2", "g3"]])
            return answers, (batcher.stats.calls, batcher.stats.rows)

    answers, (calls, rows) = run(scenario())
    assert answers[1] == ["g1!"] and answers[3] == ["g2!", "g3!"]
    assert isinstance(answers[2], ValueError) and "cannot score 'bad'" in str(answers[2])
    assert score.calls[1:] == [["g1", "bad", "g2", "g3"], ["g1"], ["bad"], ["g2", "g3"]]
    assert (calls, rows) == (3, 4)  # hold, g1, g2+g3: the failed calls are not counted


def test_max_wait_s_lets_a_request_wait_for_company() -> None:
    score = Recorder()

    async def scenario() -> None:
        async with MicroBatcher(score, max_wait_s=0.2) as batcher:
            first = asyncio.ensure_future(batcher.submit(["w1"]))
            await asyncio.sleep(0.02)
            await asyncio.gather(first, batcher.submit(["w2"]))

    run(scenario())
    assert score.calls == [["w1", "w2"]]


def test_stopping_answers_every_waiting_caller_and_leaves_no_thread() -> None:
    score = Recorder()

    async def scenario() -> tuple[list[Any], int]:
        threads = threading.active_count()
        async with MicroBatcher(score) as batcher:
            score.gate.clear()
            holding = asyncio.ensure_future(batcher.submit(["hold"]))
            while not score.calls:
                await asyncio.sleep(0.001)
            stranded = asyncio.ensure_future(batcher.submit(["late"]))
            await asyncio.sleep(0.01)
            opener = threading.Timer(0.1, score.gate.set)
            opener.start()
        opener.join()
        stopped = list(await asyncio.gather(holding, stranded, return_exceptions=True))
        with pytest.raises(RuntimeError, match="not running"):
            await batcher.submit(["after"])
        return stopped, threading.active_count() - threads

    stopped, threads_left = run(scenario())
    assert all(isinstance(answer, RuntimeError) for answer in stopped), stopped
    assert threads_left == 0


def test_a_score_function_with_the_wrong_number_of_results_fails_its_request() -> None:
    def wrong_length(items: list[str]) -> list[str]:
        return []

    async def scenario() -> Any:
        async with MicroBatcher(wrong_length) as batcher:
            return await asyncio.gather(batcher.submit(["a"]), return_exceptions=True)

    (answer,) = run(scenario())
    assert isinstance(answer, RuntimeError) and "0 results for 1 items" in str(answer)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_batch_rows": 0}, "max_batch_rows must be at least 1, got 0"), ({"max_wait_s": -0.1}, "max_wait_s must be 0")],
)
def test_impossible_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MicroBatcher(Recorder(), **options)


# --- the fast app, over HTTP ---------------------------------------------------------------------------------------


def test_a_replayed_day_gets_module_01s_answers(model: FraudModel, days: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Same fraud_probability (to 1e-9), flagged, threshold and warnings as create_app, one request at a time."""
    yesterday, replay = days
    bodies = [body(row) for _, row in replay.iterrows()]
    settings = model_threshold()
    with TestClient(create_app(model=model, settings=settings, history=History(yesterday))) as slow:
        expected = [slow.post("/predict", json=b).json() for b in bodies]
    with serving(create_fast_app(model=model, settings=settings, history=History(yesterday))) as url, \
            httpx.Client(base_url=url) as client:
        answers = [client.post("/predict", json=b).json() for b in bodies]
        stats = client.get("/stats").json()
    assert max(abs(a["fraud_probability"] - e["fraud_probability"]) for a, e in zip(answers, expected)) <= 1e-9
    for field in ("transaction_id", "flagged", "threshold", "threshold_source", "model_version", "warnings"):
        assert [a[field] for a in answers] == [e[field] for e in expected], field
    assert stats["rows_scored"] == len(bodies) and stats["scoring_calls"] == len(bodies)


def test_unknown_currency_is_a_422_with_the_sentence(fast_url: str, transactions: pd.DataFrame) -> None:
    response = httpx.post(f"{fast_url}/predict", json={**body(transactions.iloc[3]), "currency": "JPY"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("no exchange rate for currency JPY; supported currencies are CHF")


def test_repeated_ids_in_a_batch_are_a_422_naming_them(fast_url: str, transactions: pd.DataFrame) -> None:
    good = body(transactions.iloc[4])
    response = httpx.post(f"{fast_url}/predict-batch", json={"transactions": [good, good]})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"transaction_id {good['transaction_id']} appears more than once; send each transaction once"
    )


def test_a_batch_over_max_batch_size_is_a_413(fast_url: str, transactions: pd.DataFrame) -> None:
    rows = [{**body(transactions.iloc[5]), "transaction_id": f"tx-big-{i}"} for i in range(51)]
    response = httpx.post(f"{fast_url}/predict-batch", json={"transactions": rows})
    assert response.status_code == 413
    assert response.json()["detail"] == "batch has 51 transactions, the limit is 50; split it"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"amount_cents": "1234"}, "amount_cents"), ({"timestamp": "2026-01-05T10:00:00"}, "timestamp"),
     ({"channel": "fax"}, "channel"), ({"ammount_cents": 5}, "ammount_cents")],
)
def test_a_schema_error_is_a_422_naming_the_field(
    fast_url: str, transactions: pd.DataFrame, change: dict[str, Any], field: str
) -> None:
    response = httpx.post(f"{fast_url}/predict", json={**body(transactions.iloc[6]), **change})
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"])


def test_a_retry_gets_the_same_answer_and_does_not_change_later_velocity_features(
    model: FraudModel, days: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A payment, its retry, then the card's next payments: answered as if the retry never happened."""
    yesterday, replay = days
    card = replay["card_id"].value_counts().index[0]
    payments = [body(row) for _, row in replay[replay["card_id"] == card].head(4).iterrows()]
    assert len(payments) >= 3, "the replay needs a card with several payments"
    settings = model_threshold()
    with TestClient(create_app(model=model, settings=settings, history=History(yesterday))) as slow:
        once = [slow.post("/predict", json=p).json() for p in payments]
    with serving(create_fast_app(model=model, settings=settings, history=History(yesterday))) as url, \
            httpx.Client(base_url=url) as client:
        first = client.post("/predict", json=payments[0]).json()
        retries = [client.post("/predict", json=payments[0]).json() for _ in range(3)]
        later = [client.post("/predict", json=p).json() for p in payments[1:]]
        stats = client.get("/stats").json()
    assert retries == [first] * 3
    assert stats["cache_hits"] == 3 and stats["rows_scored"] == len(payments)
    assert [a["fraud_probability"] for a in [first, *later]] == pytest.approx(
        [a["fraud_probability"] for a in once], abs=1e-9
    )


def test_a_corrected_request_under_a_known_id_is_scored_afresh(fast_url: str, transactions: pd.DataFrame) -> None:
    payment = {**body(transactions.iloc[7]), "transaction_id": "tx-corrected"}
    with httpx.Client(base_url=fast_url) as client:
        before = client.get("/stats").json()
        client.post("/predict", json=payment)
        client.post("/predict", json={**payment, "amount_cents": payment["amount_cents"] + 10_000})
        after = client.get("/stats").json()
    assert after["rows_scored"] - before["rows_scored"] == 2
    assert after["cache_hits"] == before["cache_hits"]


def test_one_bad_request_among_concurrent_good_ones_fails_alone(fast_url: str, transactions: pd.DataFrame) -> None:
    """Twenty payments of different customers at once, two with a currency the model cannot convert."""
    rows = transactions.drop_duplicates("customer_id").iloc[100:122]
    payments = [{**body(row), "transaction_id": f"tx-concurrent-{i}"} for i, (_, row) in enumerate(rows.iterrows())]
    payments[5]["currency"] = payments[17]["currency"] = "JPY"

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=fast_url) as client:
            return list(await asyncio.gather(*(client.post("/predict", json=p) for p in payments)))

    responses = asyncio.run(send())
    assert [r.status_code for r in responses] == [422 if i in (5, 17) else 200 for i in range(len(payments))]
    assert [r.json()["transaction_id"] for i, r in enumerate(responses) if i not in (5, 17)] == [
        p["transaction_id"] for i, p in enumerate(payments) if i not in (5, 17)
    ]


def test_stats_reports_batches_and_the_cache(fast_url: str) -> None:
    stats = httpx.get(f"{fast_url}/stats").json()
    assert sum(stats["calls_by_rows"].values()) == stats["scoring_calls"]
    assert sum(int(rows) * n for rows, n in stats["calls_by_rows"].items()) == stats["rows_scored"]
    assert stats["largest_batch"] == max((int(rows) for rows in stats["calls_by_rows"]), default=0)
    assert stats["transactions_remembered"] > stats["customers_remembered"] > 0


# --- the command ---------------------------------------------------------------------------------------------------


def test_serve_fast_has_a_help(fraudguard_command: str, package_env: dict[str, str]) -> None:
    result = subprocess.run([fraudguard_command, "serve-fast", "--help"], env=package_env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "--workers" in result.stdout and "--compiled" in result.stdout and "micro-batched" in result.stdout


def test_serve_fast_refuses_an_invalid_setting_in_one_line(fraudguard_command: str, package_env: dict[str, str]) -> None:
    result = subprocess.run([fraudguard_command, "serve-fast", "--port", "0"], env=package_env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("fraudguard: error: invalid settings: port=0 (argument)"), result.stderr
    assert "Traceback" not in result.stderr


@contextmanager
def fraudguard_server(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """``fraudguard <command>`` on localhost; waits for /health; always interrupted, and must exit 0."""
    server = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, "no /health within 90 s"
        yield base
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0


@pytest.mark.slow
def test_health_answers_while_serve_fast_scores_a_big_batch(
    fraudguard_command: str, package_env: dict[str, str], saved_model: Path, month: pd.DataFrame, port: int,
    tmp_path: Path,
) -> None:
    """`fraudguard serve-fast` in its own process: /health keeps answering while the batcher scores 20,000 rows."""
    from ds2mle.data import write_parquet

    write_parquet(month.head(3_000), tmp_path / "history.parquet")
    env = {**package_env, "FRAUDGUARD_MODEL_URI": str(saved_model), "FRAUDGUARD_HISTORY_PATH": str(tmp_path / "history.parquet"),
           "FRAUDGUARD_MAX_BATCH_SIZE": "20000", "FRAUDGUARD_LOG_LEVEL": "WARNING"}
    payload = {"transactions": [body(row) for _, row in month.tail(20_000).iterrows()]}
    with fraudguard_server([fraudguard_command, "serve-fast"], env, port) as base:
        assert httpx.get(f"{base}/version", timeout=10).json()["history_rows"] == 3_000
        outcome: dict[str, Any] = {}

        def big_batch() -> None:
            sent = time.perf_counter()
            outcome["status"] = httpx.post(f"{base}/predict-batch", json=payload, timeout=120).status_code
            outcome["seconds"] = time.perf_counter() - sent

        caller = threading.Thread(target=big_batch)
        caller.start()
        answered = 0
        with httpx.Client(base_url=base, timeout=120) as client:
            while caller.is_alive():
                assert client.get("/health").status_code == 200
                answered += caller.is_alive()
                time.sleep(0.01)
        caller.join()
        stats = httpx.get(f"{base}/stats", timeout=10).json()
    assert outcome.get("status") == 200, outcome
    assert stats["largest_batch"] == 20_000, "a request's rows must be scored in one call"
    assert answered >= 3, f"/health answered {answered} times during a {outcome['seconds']:.1f} s batch"


@pytest.mark.slow
def test_serve_fast_with_two_workers_serves_from_two_processes(
    fraudguard_command: str, package_env: dict[str, str], saved_model: Path, transactions: pd.DataFrame, port: int
) -> None:
    """`--workers 2`: each process builds its own app from the environment; both answer, and they exit 0."""
    env = {**package_env, "FRAUDGUARD_MODEL_URI": str(saved_model), "FRAUDGUARD_LOG_LEVEL": "WARNING"}
    with fraudguard_server([fraudguard_command, "serve-fast", "--workers", "2", "--no-compiled"], env, port) as base:
        answer = httpx.post(f"{base}/predict", json=body(transactions.iloc[0]), timeout=30)
        assert answer.status_code == 200 and 0 <= answer.json()["fraud_probability"] <= 1

        def process_id(_: int) -> int:
            return int(httpx.get(f"{base}/stats", timeout=30).json()["process_id"])  # a new connection each time

        seen: set[int] = set()
        deadline = time.monotonic() + 60  # the second worker may still be loading the model
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(seen) < 2 and time.monotonic() < deadline:
                seen |= set(pool.map(process_id, range(16)))
    assert len(seen) == 2, f"requests on new connections reached {len(seen)} process(es) in 60 s"
