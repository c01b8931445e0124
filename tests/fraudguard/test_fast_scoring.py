"""fraudguard/fast_scoring.py: the pipeline's features without pandas, per-customer windows, and the retry cache.

The reference for every feature is module 01's pipeline (``History.context`` then ``TransactionFeatures``),
and for the online path module 01's service (``model.score(row, history=online)`` then ``online.update(row)``).
"""

from __future__ import annotations

import dataclasses
import doctest
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

import fraudguard.fast_scoring as fast_scoring
from fraudguard.errors import FeatureError, UnsupportedCurrencyError
from fraudguard.fast_scoring import CustomerWindows, FastScorer, ScoreCache, Transaction, request_digest
from fraudguard.features import History
from fraudguard.serving import OnlineHistory, feature_horizon
from fraudguard.train import FraudModel, load_model

NOON = pd.Timestamp("2026-02-10 12:00", tz="UTC").value
MINUTE = 60_000_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@pytest.fixture(autouse=True)
def _one_openmp_thread() -> Iterator[None]:
    """One-row predictions with a team of OpenMP threads crawl on a busy machine; the service uses one."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def two_days() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Yesterday (the start-up snapshot) and today (the requests), seeded, after the model's training month."""
    from ds2mle.data import generate_transactions

    recent = generate_transactions(n_rows=3_000, seed=11, start="2026-02-09", days=2)
    snapshot = recent[recent["timestamp"] < "2026-02-10"].reset_index(drop=True)
    today = recent[recent["timestamp"] >= "2026-02-10"].reset_index(drop=True)
    return snapshot, today


def tx(transaction_id: str, at_ns: int, *, customer: str = "cus_a", card: str = "card_a1", cents: int = 1_000,
       currency: str = "EUR") -> Transaction:
    return Transaction(transaction_id, customer, card, at_ns, cents, currency, "DE", "DE", "electronics", "online",
                       "desktop_web")


def as_frame(transactions: list[Transaction]) -> pd.DataFrame:
    frame = pd.DataFrame([dataclasses.asdict(t) for t in transactions])
    frame.insert(1, "timestamp", pd.to_datetime(frame.pop("time_ns"), unit="ns", utc=True))
    return frame


def pipeline_features(model: FraudModel, history: list[Transaction], batch: list[Transaction]) -> np.ndarray:
    """Module 01's features of ``batch`` after ``history``: the reference."""
    frame, is_batch = History(as_frame(history) if history else None).context(as_frame(batch))
    features: np.ndarray = model.pipeline[0].transform(frame)[is_batch]
    return features


def column(model: FraudModel, name: str) -> int:
    return list(model.pipeline[0].get_feature_names_out()).index(name)


# --- the claim: the same scores as module 01 ---------------------------------------------------------------


def test_one_at_a_time_scores_equal_module01_service_path(model: FraudModel, two_days) -> None:
    """Replayed one request at a time, does FastScorer give module 01's service scores?"""
    snapshot, today = two_days
    requests = today.drop(columns=["is_fraud", "label_available_at"]).head(200)
    online = OnlineHistory(History(snapshot), horizon=feature_horizon(model))
    scorer = FastScorer(model, History(snapshot))
    slow, fast = [], []
    for record, transaction in zip(requests.to_dict("records"), Transaction.from_frame(requests), strict=True):
        row = pd.DataFrame([record])
        slow.append(model.score(row, history=online)[0])
        online.update(row)
        fast.append(scorer.score([transaction])[0])
    assert np.max(np.abs(np.array(fast) - np.array(slow))) <= 1e-9
    counts = scorer.features(Transaction.from_frame(requests))[:, column(model, "customer_tx_count_24h")]
    assert (counts > 0).mean() > 0.3, "the replay must exercise the windows, not only first payments"


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_batches_give_the_pipelines_offline_scores(model: FraudModel, two_days, batch_size: int) -> None:
    """Scored in batches of any size, one after the other, is today equal to scoring it offline in one go?"""
    snapshot, today = two_days
    offline = model.score(today, history=History(snapshot))
    scorer = FastScorer(model, snapshot)
    transactions = Transaction.from_frame(today)
    scores = np.concatenate(
        [scorer.score(transactions[k:k + batch_size]) for k in range(0, len(transactions), batch_size)]
    )
    np.testing.assert_allclose(scores, offline, rtol=0, atol=1e-9)


def test_features_equal_the_pipelines_on_a_replayed_day(model: FraudModel, two_days) -> None:
    """Is every feature column (not only the score) the pipeline's?"""
    snapshot, today = two_days
    frame, is_batch = History(snapshot).context(today)
    want = model.pipeline[0].transform(frame)[is_batch]
    got = FastScorer(model, snapshot).features(Transaction.from_frame(today))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=-26 * 60, max_value=60), st.sampled_from(["card_a1", "card_a2"]),
                  st.integers(min_value=1, max_value=50_000)),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=0, max_value=11),
)
def test_any_stream_split_into_history_and_batch_matches_the_pipeline(model: FraudModel, payments, split: int) -> None:
    """Random times (many ties, edges at whole minutes), two cards: do history + batch give the pipeline's features?

    History is the earliest payments, the batch the rest in any order: a batch row may be earlier than other
    batch rows (a late arrival within the batch) but not more than the horizon before what is remembered.
    """
    transactions = [tx(f"t{i}", NOON + minutes * MINUTE, card=card, cents=cents)
                    for i, (minutes, card, cents) in enumerate(payments)]
    by_time = sorted(transactions, key=lambda t: t.time_ns)
    history, batch = by_time[:split], [t for t in transactions if t not in by_time[:split]] or by_time[-1:]
    history = [t for t in history if t not in batch]
    scorer = FastScorer(model, as_frame(history) if history else None)
    np.testing.assert_allclose(scorer.features(batch), pipeline_features(model, history, batch), atol=1e-9)


# --- window edges and ties ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier_ns", "counted"),
    [(HOUR, True), (HOUR + 1, False), (HOUR - 1, True), (1, True), (0, False)],
    ids=["exactly-1h-counts", "1h-and-1ns-does-not", "just-inside", "1ns-earlier-counts", "tie-does-not"],
)
def test_one_hour_window_is_closed_at_its_start_and_open_at_t(model: FraudModel, earlier_ns: int, counted: bool) -> None:
    """Is a payment exactly one hour earlier inside [t - 1h, t), and one at t itself (a tie) outside?"""
    history = [tx("before", NOON - earlier_ns)]
    batch = [tx("now", NOON)]
    got = FastScorer(model, as_frame(history)).features(batch)[0]
    assert got[column(model, "customer_tx_count_1h")] == int(counted)
    assert got[column(model, "card_tx_count_1h")] == int(counted)
    np.testing.assert_allclose(got, pipeline_features(model, history, batch)[0])


@pytest.mark.parametrize(("earlier_ns", "counted"), [(DAY, True), (DAY + 1, False), (0, False)])
def test_24h_spend_window_has_the_same_edges(model: FraudModel, earlier_ns: int, counted: bool) -> None:
    """Does the 24-hour spend count a payment exactly 24 h earlier and not a tie?"""
    history = [tx("before", NOON - earlier_ns, cents=4_200)]
    got = FastScorer(model, as_frame(history)).features([tx("now", NOON)])[0]
    assert got[column(model, "customer_tx_count_24h")] == int(counted)
    assert got[column(model, "customer_spend_24h_eur")] == (42.0 if counted else 0.0)


def test_the_batchs_own_earlier_rows_count_and_ties_in_it_do_not(model: FraudModel) -> None:
    """Within one batch, do earlier rows count as history and simultaneous ones not?"""
    batch = [tx("a", NOON), tx("b", NOON, card="card_a2"), tx("c", NOON + 5 * MINUTE)]
    got = FastScorer(model).features(batch)
    counts = got[:, column(model, "customer_tx_count_1h")].tolist()
    cards = got[:, column(model, "card_tx_count_1h")].tolist()
    assert counts == [0, 0, 2]
    assert cards == [0, 0, 1]
    np.testing.assert_allclose(got, pipeline_features(model, [], batch))


def test_another_customers_payments_never_count(model: FraudModel) -> None:
    history = [tx("other", NOON - MINUTE, customer="cus_b", card="card_b1")]
    got = FastScorer(model, as_frame(history)).features([tx("now", NOON)])[0]
    assert got[column(model, "customer_tx_count_1h")] == 0


# --- retries, late arrivals, the horizon ----------------------------------------------------------------------


def test_a_retried_transaction_is_counted_once(model: FraudModel) -> None:
    """Does a retry (same id, same content) leave the next payment's velocity as if it came once?"""
    scorer = FastScorer(model)
    first = tx("t1", NOON)
    scorer.score([first])
    scorer.score([first])  # the gateway timed out and resent it
    assert len(scorer.windows) == 1
    after = scorer.features([tx("t2", NOON + MINUTE)])[0]
    assert after[column(model, "customer_tx_count_1h")] == 1
    assert after[column(model, "card_tx_count_1h")] == 1


def test_a_retry_in_a_batch_with_a_later_payment_counts_once(model: FraudModel) -> None:
    history = [tx("h", NOON - 10 * MINUTE)]
    scorer = FastScorer(model, as_frame(history))
    scorer.score([tx("t1", NOON)])
    batch = [tx("t1", NOON), tx("t2", NOON + MINUTE)]
    got = scorer.features(batch)
    assert got[1, column(model, "customer_tx_count_1h")] == 2  # h and t1, once
    np.testing.assert_allclose(got, pipeline_features(model, [*history, tx("t1", NOON)], batch))


def test_a_retried_request_gets_the_same_score_after_other_payments(model: FraudModel) -> None:
    """Re-scored after the TTL, with later payments remembered meanwhile, is a retry's score unchanged?"""
    scorer = FastScorer(model)
    payments = [tx(f"t{i}", NOON + i * MINUTE, cents=100 + i) for i in range(6)]
    first = scorer.score(payments[:1])[0]
    for payment in payments[1:]:
        scorer.score([payment])
    assert scorer.score(payments[:1])[0] == first
    assert len(scorer.windows) == len(payments)


def test_a_changed_request_under_a_known_id_replaces_the_old_one(model: FraudModel) -> None:
    windows = CustomerWindows(horizon_ns=DAY)
    windows.remember([tx("t1", NOON, cents=1_000)])
    windows.remember([tx("t1", NOON + MINUTE, cents=2_500)])
    payments = windows.payments("cus_a")
    assert payments is not None
    assert (payments.ids, payments.times, payments.euros) == (["t1"], [NOON + MINUTE], [25.0])


def test_a_late_payment_is_inserted_in_time_order_and_sees_only_its_past(model: FraudModel) -> None:
    scorer = FastScorer(model)
    scorer.score([tx("t1", NOON - 30 * MINUTE)])
    scorer.score([tx("t3", NOON + 30 * MINUTE)])
    late = tx("t2", NOON)  # arrives after t3
    got = scorer.features([late])[0]
    assert got[column(model, "customer_tx_count_1h")] == 1  # t1, not t3
    scorer.score([late])
    payments = scorer.windows.payments("cus_a")
    assert payments is not None and payments.ids == ["t1", "t2", "t3"]
    assert payments.times == sorted(payments.times)
    later = scorer.features([tx("t4", NOON + 45 * MINUTE)])[0]
    assert later[column(model, "customer_tx_count_1h")] == 2  # t2 and t3: the late one sits where it belongs


def test_the_sweep_forgets_payments_past_the_horizon_and_keeps_the_cutoff() -> None:
    windows = CustomerWindows(horizon_ns=DAY)
    windows.remember([tx("old", NOON), tx("edge", NOON + HOUR, customer="cus_b", card="card_b1")])
    assert windows.n_customers == 2
    windows.remember([tx("new", NOON + DAY + HOUR, customer="cus_c", card="card_c1")])
    assert "old" not in windows and windows.payments("cus_a") is None
    assert "edge" in windows  # exactly at newest - horizon
    assert len(windows) == 2 and windows.n_customers == 2


def test_memory_stays_bounded_over_a_long_replay() -> None:
    """Over a week of traffic, is nothing older than two horizons before the newest payment ever remembered?"""
    from ds2mle.data import generate_transactions

    week = generate_transactions(n_rows=7_000, seed=3, start="2026-03-01", days=7)
    transactions = Transaction.from_frame(week)
    times = np.array([t.time_ns for t in transactions])
    windows = CustomerWindows(horizon_ns=DAY)
    excess = 0
    for i, transaction in enumerate(transactions):
        windows.remember([transaction])
        within_two_horizons = i + 1 - int(np.searchsorted(times, times[i] - 2 * DAY, side="left"))
        excess = max(excess, len(windows) - within_two_horizons)
    assert excess <= 0
    assert len(windows) < len(week) / 3


def test_a_payment_already_older_than_the_horizon_is_not_kept() -> None:
    windows = CustomerWindows(horizon_ns=DAY)
    windows.remember([tx("now", NOON)])
    windows.remember([tx("ancient", NOON - DAY - 1, customer="cus_b")])
    assert "ancient" not in windows and windows.payments("cus_b") is None


def test_horizon_must_be_positive() -> None:
    with pytest.raises(FeatureError, match="horizon_ns must be positive"):
        CustomerWindows(horizon_ns=0)


# --- errors ---------------------------------------------------------------------------------------------------


def test_unknown_currency_raises_and_nothing_is_remembered(model: FraudModel) -> None:
    scorer = FastScorer(model)
    with pytest.raises(UnsupportedCurrencyError, match="no exchange rate for currency XYZ; supported currencies are"):
        scorer.score([tx("ok", NOON), tx("bad", NOON + MINUTE, currency="XYZ")])
    assert len(scorer.windows) == 0
    with pytest.raises(UnsupportedCurrencyError):
        scorer.windows.remember([tx("ok", NOON), tx("bad", NOON + MINUTE, currency="XYZ")])
    assert len(scorer.windows) == 0 and "ok" not in scorer.windows


def test_euros_uses_the_models_rates(model: FraudModel) -> None:
    windows = CustomerWindows(horizon_ns=DAY, rates={"EUR": 1.0, "PLN": 4.0})
    assert windows.euros(tx("p", NOON, cents=4_000, currency="PLN")) == 10.0


def test_from_history_takes_a_history_or_a_frame_and_refuses_an_online_history(two_days) -> None:
    snapshot, today = two_days
    both = pd.concat([snapshot, today], ignore_index=True)
    kept = int((both["timestamp"] >= both["timestamp"].max() - pd.Timedelta("24h")).sum())
    assert len(CustomerWindows.from_history(both, horizon_ns=DAY)) == kept
    assert len(CustomerWindows.from_history(History(both), horizon_ns=DAY)) == kept
    assert len(CustomerWindows.from_history(None, horizon_ns=DAY)) == 0
    with pytest.raises(TypeError, match="snapshot"):
        CustomerWindows.from_history(OnlineHistory(History(snapshot)), horizon_ns=DAY)


def test_fast_scorer_refuses_a_pipeline_it_cannot_reproduce(model: FraudModel) -> None:
    steps = model.pipeline.steps
    odd = dataclasses.replace(model, pipeline=Pipeline([steps[0], ("identity", FunctionTransformer()), steps[-1]]))
    with pytest.raises(TypeError, match="TransactionFeatures then a classifier"):
        FastScorer(odd)


def test_a_custom_predictor_gets_the_feature_matrix(model: FraudModel) -> None:
    seen: list[np.ndarray] = []

    def predict(matrix: np.ndarray) -> np.ndarray:
        seen.append(matrix)
        return np.full(len(matrix), 0.5)

    scores = FastScorer(model, predict=predict).score([tx("a", NOON), tx("b", NOON + 1)])
    assert scores.tolist() == [0.5, 0.5]
    assert seen[0].shape == (2, len(model.pipeline[0].get_feature_names_out()))
    assert FastScorer(model).score([]).shape == (0,)


def test_from_record_converts_to_utc_and_refuses_naive_or_incomplete_requests() -> None:
    record = {"transaction_id": "t1", "customer_id": "c1", "card_id": "k1", "timestamp": "2026-02-10T13:00:00+01:00",
              "amount_cents": 1_250, "currency": "EUR", "merchant_country": "DE", "customer_country": "PL",
              "merchant_category": "grocery", "channel": "in_store", "device": "chip"}
    transaction = Transaction.from_record(record)
    assert transaction.time_ns == NOON and type(transaction.time_ns) is int
    with pytest.raises(FeatureError, match="time-zone aware"):
        Transaction.from_record({**record, "timestamp": "2026-02-10T12:00:00"})
    with pytest.raises(FeatureError, match="card_id"):
        Transaction.from_record({k: v for k, v in record.items() if k != "card_id"})


def test_from_frame_gives_what_from_record_gives(two_days) -> None:
    _, today = two_days
    head = today.head(100)
    assert Transaction.from_frame(head) == [Transaction.from_record(r) for r in head.to_dict("records")]
    warsaw = head.assign(timestamp=head["timestamp"].dt.tz_convert("Europe/Warsaw"))
    assert [t.time_ns for t in Transaction.from_frame(warsaw)] == [t.time_ns for t in Transaction.from_frame(head)]
    with pytest.raises(FeatureError, match="time-zone aware"):
        Transaction.from_frame(head.assign(timestamp=head["timestamp"].dt.tz_localize(None)))
    with pytest.raises(FeatureError, match="device"):
        Transaction.from_frame(head.drop(columns=["device"]))


# --- the cache and the digest ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("age_s", "fresh"), [(0.0, True), (59.999, True), (60.0, False), (3_600.0, False)])
def test_cache_keeps_an_answer_for_ttl_seconds(age_s: float, fresh: bool) -> None:
    clock = FakeClock()
    cache: ScoreCache[float] = ScoreCache(maxsize=10, ttl=60.0, timer=clock)
    cache.put("t1", "d1", 0.25)
    clock.now = age_s
    assert cache.get("t1", "d1") == (0.25 if fresh else None)


def test_a_hit_does_not_extend_the_ttl() -> None:
    clock = FakeClock()
    cache: ScoreCache[float] = ScoreCache(maxsize=10, ttl=60.0, timer=clock)
    cache.put("t1", "d1", 0.25)
    clock.now = 50.0
    assert cache.get("t1", "d1") == 0.25
    clock.now = 61.0
    assert cache.get("t1", "d1") is None


def test_cache_evicts_the_least_recently_used_when_full() -> None:
    cache: ScoreCache[int] = ScoreCache(maxsize=2, ttl=60.0, timer=FakeClock())
    cache.put("a", "da", 1)
    cache.put("b", "db", 2)
    assert cache.get("a", "da") == 1  # a is now the most recently used
    cache.put("c", "dc", 3)
    assert cache.get("b", "db") is None
    assert (cache.get("a", "da"), cache.get("c", "dc")) == (1, 3)
    assert len(cache) == 2


def test_a_different_request_under_a_known_id_is_a_miss_and_replaces_it() -> None:
    cache: ScoreCache[float] = ScoreCache(maxsize=10, ttl=60.0, timer=FakeClock())
    cache.put("t1", "d1", 0.1)
    assert cache.get("t1", "d2") is None
    cache.put("t1", "d2", 0.9)
    assert cache.get("t1", "d2") == 0.9 and cache.get("t1", "d1") is None


def test_hit_rate_and_stats_count_every_lookup() -> None:
    cache: ScoreCache[float] = ScoreCache(maxsize=10, ttl=60.0, timer=FakeClock())
    assert cache.hit_rate == 0.0
    cache.put("t1", "d1", 0.1)
    cache.get("t1", "d1")
    cache.get("t1", "d1")
    cache.get("t2", "d2")
    cache.get("t1", "other")
    assert cache.stats == {"hits": 2, "misses": 2, "hit_rate": 0.5, "size": 1}


def test_cache_counts_stay_exact_under_threads() -> None:
    cache: ScoreCache[int] = ScoreCache(maxsize=1_000, ttl=60.0)

    def work(offset: int) -> None:
        for i in range(500):
            cache.put(f"t{offset}-{i}", "d", i)
            cache.get(f"t{offset}-{i}", "d")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.stats["hits"] + cache.stats["misses"] == 2_000


def test_digest_changes_with_content_and_not_with_field_order() -> None:
    record = {"transaction_id": "t1", "amount_cents": 1_250, "timestamp": pd.Timestamp("2026-02-10 12:00", tz="UTC")}
    digest = request_digest(record)
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert digest == request_digest(dict(reversed(list(record.items()))))
    assert digest != request_digest({**record, "amount_cents": 1_251})
    assert digest != request_digest({**record, "timestamp": pd.Timestamp("2026-02-10 12:00:01", tz="UTC")})


@pytest.mark.parametrize("separator", [",", ";", "|", "&", "=", "\x1f", "\n"])
def test_digest_is_unambiguous_whatever_the_values_contain(separator: str) -> None:
    assert request_digest({"a": f"1{separator}b=2"}) != request_digest({"a": "1", "b": "2"})


def test_the_modules_examples_run() -> None:
    results = doctest.testmod(fast_scoring, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 3 and results.failed == 0
