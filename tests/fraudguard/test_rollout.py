"""Tests for fraudguard/rollout.py: sticky canary buckets, guardrails, the router, the gate, aliases, the app."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudguard.config import load_settings
from fraudguard.errors import FraudguardError
from fraudguard.rollout import (
    LOG_COLUMNS,
    Decision,
    Guardrails,
    PromotionCriteria,
    RolloutError,
    RolloutRouter,
    apply_decision,
    assign_arms,
    canary_bucket,
    check_guardrails,
    compare_models,
    create_rollout_app,
    decide_promotion,
    outcomes_as_of,
)
from fraudguard.train import FraudModel, load_model

T0 = pd.Timestamp("2026-01-05", tz="UTC")


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def batch(transactions: pd.DataFrame) -> pd.DataFrame:
    return transactions.drop(columns=["is_fraud", "label_available_at"]).head(400).reset_index(drop=True)


def _with_threshold(model: FraudModel, threshold: float) -> FraudModel:
    return dataclasses.replace(model, metadata=dataclasses.replace(model.metadata, threshold=threshold))


def test_canary_bucket_follows_its_published_spec() -> None:
    """Can a gateway in another language compute the same bucket?"""
    expected = int.from_bytes(hashlib.sha256(b"jan:card_000042_1").digest()[:8], "big") / 2**64
    assert canary_bucket("card_000042_1", salt="jan") == expected


def test_assign_arms_is_sticky_monotone_and_respects_share() -> None:
    cards = pd.Series([f"card_{i:06d}_1" for i in range(4_000)])
    ten = assign_arms(cards, share=0.1, salt="s")
    assert 0.08 < (ten == "challenger").mean() < 0.12
    assert (assign_arms(cards, share=0.3, salt="s")[ten == "challenger"] == "challenger").all()
    assert (assign_arms(cards, share=0.0) == "champion").all() and (assign_arms(cards, share=1.0) == "challenger").all()


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_assign_arms_refuses_a_share_outside_zero_one(share: float) -> None:
    with pytest.raises(RolloutError, match="share"):
        assign_arms(pd.Series(["a"]), share=share)


def _flags(champion: np.ndarray, challenger: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"champion_flagged": champion, "challenger_flagged": challenger})


@pytest.mark.parametrize(
    ("champion_every", "challenger_every", "n", "broken"),
    [(50, 50, 1_000, 0), (50, 5, 1_000, 1), (50, 0, 1_000, 1), (50, 5, 150, 0), (0, 0, 1_000, 0), (50, 30, 1_000, 0)],
)
def test_check_guardrails_compares_alert_rates_on_the_same_requests(champion_every: int, challenger_every: int, n: int,
                                                                   broken: int) -> None:
    def every(k: int) -> np.ndarray:
        return np.arange(n) % k == 0 if k else np.zeros(n, dtype=bool)

    assert len(check_guardrails(_flags(every(champion_every), every(challenger_every)), Guardrails())) == broken


def test_router_in_shadow_scores_both_and_answers_with_the_champion(model: FraudModel, batch: pd.DataFrame) -> None:
    loud = _with_threshold(model, 0.0)
    router = RolloutRouter(champion=model, challenger=loud, share=0.0)
    rows = router.route(batch)
    assert list(rows.columns) == list(LOG_COLUMNS)
    assert np.allclose(rows["champion_probability"], model.score(batch))
    assert rows["challenger_flagged"].all() and (rows["arm"] == "champion").all()
    assert (rows["flagged"] == rows["champion_flagged"]).all()
    assert router.rolled_back is None and len(router.log) == len(batch)


def test_router_uses_earlier_batches_as_history(model: FraudModel, batch: pd.DataFrame) -> None:
    router = RolloutRouter(champion=model, challenger=model)
    router.route(batch.iloc[:200])
    second = router.route(batch.iloc[200:])
    assert np.allclose(second["champion_probability"], model.score(batch)[200:])


def test_router_rolls_back_a_flooding_canary_once(model: FraudModel, batch: pd.DataFrame) -> None:
    calls: list[str] = []
    router = RolloutRouter(champion=model, challenger=_with_threshold(model, 0.0), share=0.2,
                           guardrails=Guardrails(min_requests=100), on_rollback=calls.append)
    router.route(batch.iloc[:150])
    router.route(batch.iloc[150:300])
    assert router.share == 0.0 and router.mode == "shadow" and len(calls) == 1
    assert (router.log["arm"].iloc[150:] == "champion").all()


def _synthetic(n_cards: int, *, challenger_misses: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cards = np.repeat([f"card_{i:06d}_1" for i in range(n_cards)], 4)
    fraud = np.repeat(rng.random(n_cards) < 0.04, 4)
    missed = np.repeat(rng.random(n_cards) < challenger_misses, 4) & fraud
    false_alert = ~fraud & (rng.random(len(cards)) < 0.02)
    times = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86_400, len(cards))), unit="s")
    log = pd.DataFrame({"transaction_id": [f"tx_{i:09d}" for i in range(len(cards))], "timestamp": times, "card_id": cards,
                        "amount_eur": 100.0, "arm": "champion", "champion_probability": 0.5, "challenger_probability": 0.5,
                        "champion_flagged": fraud | false_alert, "challenger_flagged": fraud & ~missed,
                        "fraud_probability": 0.5, "flagged": fraud | false_alert, "model_version": "x"})
    labels = pd.DataFrame({"transaction_id": log["transaction_id"], "is_fraud": fraud.astype("int8"),
                           "label_available_at": times + pd.Timedelta(days=10)})
    return log, labels


def test_outcomes_as_of_uses_only_labels_known_then_on_mature_requests() -> None:
    log, labels = _synthetic(500, challenger_misses=0.0, seed=1)
    assert outcomes_as_of(log, labels, as_of=T0 + pd.Timedelta(days=9), maturity="0D")["known_fraud"].sum() == 0
    young = outcomes_as_of(log, labels, as_of=T0 + pd.Timedelta(days=13), maturity="10D")
    assert len(young) == int((log["timestamp"] <= T0 + pd.Timedelta(days=3)).sum())
    with pytest.raises(RolloutError, match="missing columns"):
        outcomes_as_of(log.drop(columns=["card_id"]), labels, as_of=T0)


@pytest.mark.parametrize(("n_cards", "misses", "expected"), [(2_000, 0.0, "promote"), (2_000, 0.5, "rollback"), (150, 0.0, "wait")])
def test_the_gate_promotes_better_rolls_back_worse_and_waits_on_thin_evidence(n_cards: int, misses: float, expected: str) -> None:
    log, labels = _synthetic(n_cards, challenger_misses=misses, seed=2)
    criteria = PromotionCriteria(n_boot=300)
    comparison = compare_models(outcomes_as_of(log, labels, as_of=T0 + pd.Timedelta(days=30)), criteria)
    assert decide_promotion(comparison, criteria).action == expected


def test_compare_models_refuses_an_empty_comparison() -> None:
    log, labels = _synthetic(10, challenger_misses=0.0, seed=3)
    with pytest.raises(RolloutError, match="no requests"):
        compare_models(outcomes_as_of(log, labels, as_of=T0), PromotionCriteria())


def test_apply_decision_moves_the_aliases_in_a_real_registry(saved_model: Path, tmp_path: Path) -> None:
    from fraudguard.registry import log_training_run, register_model, tracking_client

    settings = load_settings(artifacts_dir=tmp_path / "artifacts", model_name="rollout-test")
    old, new = (register_model(log_training_run(saved_model, params={}, metrics={}, tags={}, settings=settings),
                               settings=settings) for _ in range(2))
    client = tracking_client(settings)

    def reset() -> None:
        client.set_registered_model_alias("rollout-test", "champion", old)
        client.set_registered_model_alias("rollout-test", "challenger", new)

    reset()
    assert apply_decision(Decision("wait", "-"), settings=settings) == {"champion": old, "challenger": new}
    assert apply_decision(Decision("rollback", "-"), settings=settings) == {"champion": old, "challenger": None}
    with pytest.raises(RolloutError, match="challenger"):
        apply_decision(Decision("rollback", "-"), settings=settings)
    reset()
    assert apply_decision(Decision("promote", "-"), settings=settings) == {"champion": new, "challenger": None}
    assert str(client.get_model_version_by_alias("rollout-test", "previous-champion").version) == old


def test_rollout_app_answers_with_the_arm_and_maps_feature_errors_to_422(model: FraudModel, batch: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    router = RolloutRouter(champion=model, challenger=model, share=1.0)
    body = batch.iloc[0].to_dict()
    body["timestamp"] = pd.Timestamp(body["timestamp"]).isoformat()
    with TestClient(create_rollout_app(router)) as http:
        answer = http.post("/predict", json=body)
        assert answer.status_code == 200 and answer.json()["arm"] == "challenger"
        bad = http.post("/predict", json={**body, "transaction_id": "tx_y", "currency": "JPY"})
        assert bad.status_code == 422 and "JPY" in bad.json()["detail"]
        assert http.get("/rollout").json() == {"mode": "canary", "share": 1.0, "requests": 1, "rolled_back": None}


def test_rollout_error_is_a_fraudguard_value_error() -> None:
    assert issubclass(RolloutError, FraudguardError) and issubclass(RolloutError, ValueError)
