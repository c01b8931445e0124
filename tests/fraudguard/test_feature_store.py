"""Tests for fraudguard/feature_store.py (module 02): one feature definition, offline and online."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.feature_store import WINDOWED_FEATURES, EntityWindow, FeatureStoreError, OnlineFeatureStore, score_online
from fraudguard.features import TransactionFeatures

HOUR = 3_600 * 10**9


def test_entity_window_is_half_open_like_past_activity() -> None:
    window = EntityWindow()
    for t in (0, HOUR, 2 * HOUR):
        window.add(t, 1.0)
    assert window.count_total(2 * HOUR, HOUR) == (1, 1.0)  # exactly one span earlier counts; the tie does not


def test_entity_window_keeps_out_of_order_payments_in_time_order() -> None:
    window = EntityWindow()
    for t in (2 * HOUR, 0, HOUR):
        window.add(t, float(t))
    assert list(window.times) == [0, HOUR, 2 * HOUR]
    window.evict(HOUR)
    assert list(window.times) == [HOUR, 2 * HOUR]


def test_a_replayed_day_gives_the_offline_features(month: pd.DataFrame) -> None:
    """Does the store, loaded with the past and fed a day payment by payment, compute what training computed?"""
    features = TransactionFeatures().fit(month)
    day_start = month["timestamp"].max().floor("D") - pd.Timedelta(days=1)
    past, day = month[month["timestamp"] < day_start], month[month["timestamp"] >= day_start]
    store = OnlineFeatureStore(features).update(past)
    online = np.vstack([store.features_for(day.iloc[i : i + 97]) for i in range(0, len(day), 97)])
    offline = features.transform(month)[(month["timestamp"] >= day_start).to_numpy()]
    names = list(features.get_feature_names_out())
    counts = [names.index(f.name) for f in WINDOWED_FEATURES if f.aggregate == "count"]
    assert np.array_equal(online[:, counts], offline[:, counts])
    np.testing.assert_allclose(online, offline, rtol=0, atol=1e-9)


def test_without_updates_the_store_serves_a_stale_snapshot(month: pd.DataFrame) -> None:
    features = TransactionFeatures().fit(month)
    store = OnlineFeatureStore(features)
    stale = store.features_for(month.iloc[:500], update=False)
    assert len(store) == 0
    card = list(features.get_feature_names_out()).index("card_tx_count_1h")
    assert stale[:, card].sum() == 0 and features.transform(month.iloc[:500])[:, card].sum() > 0


def test_the_store_takes_its_windows_from_the_transformer(transactions: pd.DataFrame) -> None:
    features = TransactionFeatures(spend_window="6h", velocity_window="10min").fit(transactions)
    online = OnlineFeatureStore(features).features_for(transactions)
    np.testing.assert_allclose(online, features.transform(transactions), atol=1e-9)


def test_an_unfitted_or_foreign_transformer_is_refused(transactions: pd.DataFrame) -> None:
    with pytest.raises(FeatureStoreError, match="not fitted"):
        OnlineFeatureStore(TransactionFeatures())
    fitted = TransactionFeatures().fit(transactions)
    fitted.feature_names_out_ = np.asarray([n for n in fitted.feature_names_out_ if n != "card_tx_count_1h"], dtype=object)
    with pytest.raises(FeatureStoreError, match="card_tx_count_1h"):
        OnlineFeatureStore(fitted)


def test_score_online_equals_the_pipeline_offline(month: pd.DataFrame) -> None:
    from fraudguard.train import train

    model = train(month, max_iter=30)
    features = model.pipeline.named_steps["features"]
    cut = month["timestamp"].max() - pd.Timedelta(hours=12)
    store = OnlineFeatureStore(features).update(month[month["timestamp"] < cut])
    recent = month[month["timestamp"] >= cut]
    offline = model.pipeline.predict_proba(month)[(month["timestamp"] >= cut).to_numpy(), 1]
    np.testing.assert_allclose(score_online(model, store, recent), offline, atol=1e-9)
