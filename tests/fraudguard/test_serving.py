"""Tests for fraudguard/serving.py: the TestClient suite, online = offline, a Hypothesis fuzz for 500s, real uvicorn."""

from __future__ import annotations

import inspect
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.routing import APIRoute
from fraudguard.batch import score_batch
from fraudguard.config import Settings, load_settings
from fraudguard.features import History
from fraudguard.serving import OnlineHistory, PredictionRequest, create_app
from fraudguard.train import load_model
from hypothesis import HealthCheck, given, settings
from threadpoolctl import threadpool_limits
from hypothesis import strategies as st

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


@pytest.fixture(scope="module")
def client(saved_model: Path, month: pd.DataFrame) -> Iterator[TestClient]:
    app = create_app(
        model=load_model(saved_model),
        settings=load_settings(max_batch_size=50, threshold=0.5),
        history=History(month.tail(3_000)),
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def good(transactions: pd.DataFrame) -> dict[str, Any]:
    return body(transactions.iloc[100])


def model_threshold(**overrides: Any) -> Settings:
    """Settings whose threshold is None ("use the model's"), whatever the configured default is."""
    return load_settings(**overrides).model_copy(update={"threshold": None})


def test_predict_returns_a_probability_and_a_decision(client: TestClient, good: dict[str, Any]) -> None:
    response = client.post("/predict", json=good)
    assert response.status_code == 200
    answer = response.json()
    assert answer["transaction_id"] == good["transaction_id"]
    assert 0.0 <= answer["fraud_probability"] <= 1.0
    assert answer["flagged"] == (answer["fraud_probability"] >= 0.5) and answer["threshold"] == 0.5
    assert answer["threshold_source"] == "settings" and answer["warnings"] == []
    assert answer["model_version"] == client.get("/version").json()["model_version"]


def test_without_a_threshold_setting_the_models_own_is_served(saved_model: Path, good: dict[str, Any]) -> None:
    """Is the threshold chosen from cost at training (stored with the model) the one served, not 0.5?"""
    model = load_model(saved_model)
    with TestClient(create_app(model=model, settings=model_threshold())) as client:
        answer = client.post("/predict", json=good).json()
        version = client.get("/version").json()
    assert answer["threshold"] == model.metadata.threshold != 0.5 and answer["threshold_source"] == "model"
    assert answer["flagged"] == (answer["fraud_probability"] >= model.metadata.threshold)
    assert (version["threshold"], version["threshold_source"]) == (model.metadata.threshold, "model")


def test_scoring_endpoints_run_in_the_threadpool(client: TestClient) -> None:
    """Are /predict and /predict-batch plain def (threadpool), so CPU work never blocks the event loop?"""
    endpoints = {r.path: r.endpoint for r in client.app.routes if isinstance(r, APIRoute)}  # type: ignore[attr-defined]
    assert not inspect.iscoroutinefunction(endpoints["/predict"])
    assert not inspect.iscoroutinefunction(endpoints["/predict-batch"])


def test_an_unseen_category_is_scored_with_a_warning(client: TestClient, good: dict[str, Any]) -> None:
    response = client.post("/predict", json={**good, "transaction_id": "tx-crypto", "merchant_category": "crypto_atm"})
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "merchant_category 'crypto_atm' was not seen in training; scored as no known merchant_category"
    ]


def replay_subset(today: pd.DataFrame, customers: int = 60) -> pd.DataFrame:
    """Every transaction of today's fraud customers and busiest others (features are per customer: exact)."""
    fraud = set(today.loc[today["is_fraud"] == 1, "customer_id"])
    busiest = [c for c in today["customer_id"].value_counts().index if c not in fraud][:customers]
    return today[today["customer_id"].isin(fraud | set(busiest))].sort_values("timestamp", kind="stable")


def test_a_day_replayed_one_request_at_a_time_scores_as_score_batch(
    saved_model: Path, month: pd.DataFrame
) -> None:
    """Online = offline: a day sent to /predict one request at a time gets score-batch's scores (within 1e-9)."""
    model = load_model(saved_model)
    last = month["timestamp"].max().floor("D")
    yesterday = month[(month["timestamp"] >= last - pd.Timedelta(days=1)) & (month["timestamp"] < last)]
    replay = replay_subset(month[month["timestamp"] >= last])
    batch = score_batch(replay, model=model, history=History(yesterday))
    with TestClient(create_app(model=model, settings=model_threshold(), history=History(yesterday))) as client:
        online = [client.post("/predict", json=body(row)).json() for _, row in replay.iterrows()]
        online_rows = client.get("/version").json()["online_rows"]
    np.testing.assert_allclose([a["fraud_probability"] for a in online], batch["fraud_probability"], rtol=0, atol=1e-9)
    assert [a["flagged"] for a in online] == batch["flagged"].tolist()
    assert online_rows == len(replay)
    with threadpool_limits(limits=1, user_api="openmp"):  # one-row scoring: a thread team only costs
        frozen = [model.score(replay.iloc[[i]], history=History(yesterday))[0] for i in range(len(replay))]
    assert np.abs(np.asarray(frozen) - batch["fraud_probability"].to_numpy()).max() > 1e-3, (
        "the replay must include transactions whose features depend on earlier ones of the same day"
    )


def test_online_history_forgets_what_no_feature_window_can_see() -> None:
    def tx(transaction_id: str, minutes: int, customer: str) -> pd.DataFrame:
        stamp = pd.Timestamp("2026-01-10 09:00", tz="UTC") + pd.Timedelta(minutes=minutes)
        return pd.DataFrame({"transaction_id": [transaction_id], "customer_id": [customer], "timestamp": [stamp]})

    online = OnlineHistory(horizon="1h")
    for i in range(50):
        online.update(tx(f"t{i}", i * 10, customer=f"c{i % 7}"))
    assert online.online_rows == 7  # 60 minutes back from the newest, at one transaction per 10 minutes
    online.update(tx("t49", 490, customer="c0"))  # a retry of the newest is not counted twice
    assert online.online_rows == 7


def test_batch_matches_single_predictions_in_order(client: TestClient, transactions: pd.DataFrame) -> None:
    """Does /predict-batch give each row the score /predict gives it (rows of different customers)?"""
    rows = transactions.drop_duplicates("customer_id").head(20)
    batch = client.post("/predict-batch", json={"transactions": [body(r) for _, r in rows.iterrows()]})
    assert batch.status_code == 200
    batched = [p["fraud_probability"] for p in batch.json()["predictions"]]
    single = [client.post("/predict", json=body(r)).json()["fraud_probability"] for _, r in rows.iterrows()]
    assert batched == pytest.approx(single, abs=1e-12)
    assert [p["transaction_id"] for p in batch.json()["predictions"]] == rows["transaction_id"].tolist()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"timestamp": "2026-01-05T10:00:00"}, "timestamp", "timezone"),
        ({"timestamp": "9999-01-01T00:00:00Z"}, "timestamp", "between 2000-01-01 and 2100-01-01"),
        ({"amount_cents": 0}, "amount_cents", "greater than 0"),
        ({"amount_cents": 12.5}, "amount_cents", "integer"),
        ({"amount_cents": "1234"}, "amount_cents", "Input should be a valid integer"),
        ({"amount_cents": 100_000_000_01}, "amount_cents", "less than or equal to 10000000000"),
        ({"currency": "eur"}, "currency", "pattern"),
        ({"channel": "fax"}, "channel", "in_store"),
        ({"merchant_country": "Germany"}, "merchant_country", "pattern"),
        ({"ammount_cents": 5}, "ammount_cents", "Extra inputs are not permitted"),
    ],
)
def test_malformed_requests_get_422_naming_the_field(
    client: TestClient, good: dict[str, Any], change: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/predict", json={**good, **change})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors


def test_missing_field_gets_422(client: TestClient, good: dict[str, Any]) -> None:
    response = client.post("/predict", json={k: v for k, v in good.items() if k != "card_id"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "card_id"]


def test_unsupported_currency_is_a_422_with_a_sentence(client: TestClient, good: dict[str, Any]) -> None:
    response = client.post("/predict", json={**good, "currency": "JPY"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "no exchange rate for currency JPY; supported currencies are CHF"
    )


def test_oversized_batch_is_a_413(client: TestClient, good: dict[str, Any]) -> None:
    rows = [{**good, "transaction_id": f"tx{i}"} for i in range(51)]
    response = client.post("/predict-batch", json={"transactions": rows})
    assert response.status_code == 413
    assert response.json()["detail"] == "batch has 51 transactions, the limit is 50; split it"


def test_repeated_transaction_in_a_batch_is_a_422(client: TestClient, good: dict[str, Any]) -> None:
    response = client.post("/predict-batch", json={"transactions": [good, good]})
    assert response.status_code == 422
    assert "appears more than once" in response.json()["detail"]


def test_empty_batch_is_a_422(client: TestClient) -> None:
    assert client.post("/predict-batch", json={"transactions": []}).status_code == 422


def test_health_and_version(client: TestClient, saved_model: Path) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    version = client.get("/version").json()
    meta = load_model(saved_model).metadata
    assert version["data_sha256"] == meta.data_sha256 and version["code_version"] == meta.code_version
    assert version["online_rows"] >= 0 and version["threshold_source"] == "settings"
    assert version["history_rows"] == 3_000 and version["metrics"]["roc_auc"] == pytest.approx(
        meta.metrics["roc_auc"]
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def request_bodies(draw: st.DrawFn, good: dict[str, Any]) -> Any:
    """Any JSON at all, or a valid request with some fields replaced by arbitrary JSON values."""
    if draw(st.booleans()):
        return draw(json_values)
    mutated = dict(good)
    for name in draw(st.lists(st.sampled_from(FIELDS + ["extra"]), max_size=4, unique=True)):
        if draw(st.booleans()) and name in mutated:
            del mutated[name]
        else:
            mutated[name] = draw(json_values | st.text(max_size=40) | st.integers())
    return mutated


def test_predict_never_answers_500_to_any_json(client: TestClient, good: dict[str, Any]) -> None:
    """Does every JSON body Hypothesis can think of get a 2xx or a 4xx, never a 5xx?"""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=request_bodies(good), batch=st.booleans())
    def check(payload: Any, batch: bool) -> None:
        if batch:
            response = client.post("/predict-batch", json={"transactions": [payload]})
        else:
            response = client.post("/predict", json=payload)
        assert response.status_code < 500, (payload, response.text)

    check()


@pytest.mark.slow
def test_real_uvicorn_process_serves_and_shuts_down_cleanly(
    fraudguard_command: str, package_env: dict[str, str], saved_model: Path, port: int, good: dict[str, Any]
) -> None:
    """Does `fraudguard serve` start uvicorn on localhost, answer over HTTP and exit 0 on SIGINT?"""
    env = {
        **package_env,
        "FRAUDGUARD_MODEL_URI": str(saved_model),
        "FRAUDGUARD_PORT": str(port),
        "FRAUDGUARD_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [fraudguard_command, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, "no /health within 60 s"
        predicted = httpx.post(f"{base}/predict", json=good, timeout=10)
        assert predicted.status_code == 200 and 0 <= predicted.json()["fraud_probability"] <= 1
        assert httpx.post(f"{base}/predict", json={**good, "amount_cents": -1}, timeout=10).status_code == 422
        assert httpx.get(f"{base}/version", timeout=10).json()["model_source"] == str(saved_model)
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=20)
    assert code == 0


@pytest.mark.slow
def test_health_answers_while_a_big_batch_is_scored(
    fraudguard_command: str,
    package_env: dict[str, str],
    saved_model: Path,
    month: pd.DataFrame,
    port: int,
    tmp_path: Path,
) -> None:
    """With a real uvicorn process: does /health keep answering while /predict-batch scores thousands of rows?"""
    from ds2mle.data import write_parquet

    write_parquet(month, tmp_path / "history.parquet")
    env = {
        **package_env,
        "FRAUDGUARD_MODEL_URI": str(saved_model),
        "FRAUDGUARD_HISTORY_PATH": str(tmp_path / "history.parquet"),
        "FRAUDGUARD_MAX_BATCH_SIZE": "20000",
        "FRAUDGUARD_PORT": str(port),
        "FRAUDGUARD_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [fraudguard_command, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    payload = {"transactions": [body(row) for _, row in month.tail(12_000).iterrows()]}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, "no /health within 60 s"
        outcome: dict[str, float] = {}

        def big_batch() -> None:
            sent = time.perf_counter()
            assert httpx.post(f"{base}/predict-batch", json=payload, timeout=120).status_code == 200
            outcome["seconds"] = time.perf_counter() - sent

        caller = threading.Thread(target=big_batch)
        caller.start()
        time.sleep(0.3)
        answered: list[float] = []
        while caller.is_alive():
            sent = time.perf_counter()
            assert httpx.get(f"{base}/health", timeout=120).status_code == 200
            if caller.is_alive():
                answered.append(time.perf_counter() - sent)
            time.sleep(0.02)
        caller.join()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    assert "seconds" in outcome, "the big batch failed"
    assert len(answered) >= 3, (
        f"/health answered {len(answered)} times during a {outcome['seconds']:.1f} s batch: scoring blocks the loop"
    )
