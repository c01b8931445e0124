"""Tests for fraudguard/train.py: three time windows, a threshold from cost, provenance, and safe artifacts."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fraudguard.errors import ArtifactError, DataError
from fraudguard.features import History, amount_in_eur
from fraudguard.splits import split_by_time
from fraudguard.train import (
    choose_threshold,
    data_fingerprint,
    decision_cost,
    evaluate,
    load_model,
    save_model,
    train,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer


@pytest.fixture(scope="module")
def model(month: pd.DataFrame):  # type: ignore[no-untyped-def]
    return train(month, max_iter=60)


def test_training_is_reproducible(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    again = train(month, max_iter=60)
    sample = month.tail(500)
    np.testing.assert_array_equal(model.score(sample), again.score(sample))
    assert model.metadata.metrics == again.metadata.metrics


def test_metadata_records_data_code_params_and_metrics(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    meta = model.metadata
    assert meta.data_sha256 == data_fingerprint(month.sort_values("timestamp", kind="stable"))
    assert meta.data_rows == len(month)
    assert meta.code_version.startswith("0.1.0+src.")
    assert meta.params["max_iter"] == 60 and meta.params["test_fraction"] == 0.2
    assert meta.params["validation_fraction"] == 0.2 and meta.params["review_cost_eur"] == 5.0
    assert 0.5 < meta.metrics["roc_auc"] <= 1.0 and 0.0 < meta.metrics["average_precision"] <= 1.0
    assert 0.5 < meta.metrics["validation_roc_auc"] <= 1.0 and meta.metrics["validation_cost_eur"] > 0
    assert meta.feature_names[0] == "amount_eur" and "scikit-learn" in meta.library_versions


def test_three_windows_by_time(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    """Are the fit, validation and test windows 64/16/20 % of the rows, each later than the one before?"""
    train_end, validation_end = pd.Timestamp(model.metadata.train_end), pd.Timestamp(model.metadata.validation_end)
    fit = month[month["timestamp"] <= train_end]
    validation = month[(month["timestamp"] > train_end) & (month["timestamp"] <= validation_end)]
    test = month[month["timestamp"] > validation_end]
    assert 0.60 <= len(fit) / len(month) <= 0.68
    assert 0.14 <= len(validation) / len(month) <= 0.18
    assert 0.18 <= len(test) / len(month) <= 0.22


def test_threshold_is_the_cheapest_on_the_validation_window(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    """Is the stored threshold chosen from cost on validation, not on test, and not 0.5?"""
    development, test = split_by_time(month, test_fraction=0.2)
    fit, validation = split_by_time(development, test_fraction=0.2)

    def cheapest(rows: pd.DataFrame, past: pd.DataFrame) -> float:
        return choose_threshold(
            model.score(rows, history=History(past)),
            is_fraud=rows["is_fraud"].to_numpy().astype(bool),
            amount_eur=amount_in_eur(rows).to_numpy(),
        )

    assert model.metadata.threshold == cheapest(validation, fit)
    assert model.metadata.threshold != cheapest(test, development)
    for other in (0.05, 0.5, 0.9):
        assert model.metadata.metrics["validation_cost_eur"] <= evaluate(
            model, validation, history=History(fit), threshold=other
        )["cost_eur"]


def test_test_window_is_scored_with_the_stored_threshold(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    development, test = split_by_time(month, test_fraction=0.2)
    again = evaluate(model, test, history=History(development))
    assert {k: model.metadata.metrics[k] for k in again} == again
    assert again["alerts"] == float((model.score(test, history=History(development)) >= model.metadata.threshold).sum())


def test_without_a_test_window_only_validation_is_measured(month: pd.DataFrame) -> None:
    candidate = train(month, test_fraction=None, max_iter=10)
    assert "roc_auc" not in candidate.metadata.metrics and "validation_roc_auc" in candidate.metadata.metrics
    assert candidate.metadata.params["test_fraction"] is None


def reference_threshold(scores: np.ndarray, is_fraud: np.ndarray, euros: np.ndarray, review: float) -> float:
    """The obvious, slow version: price every distinct score as a threshold."""
    candidates = np.unique(scores)
    costs = [decision_cost(flagged=scores >= t, is_fraud=is_fraud, amount_eur=euros, review_cost_eur=review)
             for t in candidates]
    return float(candidates[int(np.argmin(costs))])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("review", [0.5, 10.0, 80.0])
def test_choose_threshold_matches_pricing_every_candidate(seed: int, review: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    scores = np.round(rng.random(n), 2)  # rounded: many ties
    is_fraud = rng.random(n) < 0.2
    euros = rng.gamma(2.0, 40.0, n)
    assert choose_threshold(scores, is_fraud=is_fraud, amount_eur=euros, review_cost_eur=review) == reference_threshold(
        scores, is_fraud, euros, review
    )


def test_every_alert_costs_a_review_and_every_miss_its_amount() -> None:
    flagged = np.array([True, True, False, False])
    is_fraud = np.array([True, False, True, False])
    euros = np.array([80.0, 30.0, 50.0, 20.0])
    assert decision_cost(flagged=flagged, is_fraud=is_fraud, amount_eur=euros, review_cost_eur=10.0) == 70.0
    # reviewing a fraud is not free: with a 40 € review, catching a second 30 € fraud is not worth it
    scores, fraud, amounts = np.array([0.5, 0.9, 0.7]), np.array([False, True, True]), np.array([5.0, 30.0, 30.0])
    assert choose_threshold(scores, is_fraud=fraud, amount_eur=amounts, review_cost_eur=40.0) == 0.9
    assert choose_threshold(scores, is_fraud=fraud, amount_eur=amounts, review_cost_eur=1.0) == 0.7


def test_choose_threshold_refuses_misaligned_input() -> None:
    with pytest.raises(ValueError, match="aligned, non-empty"):
        choose_threshold(np.array([0.1, 0.2]), is_fraud=np.array([True]), amount_eur=np.array([1.0, 2.0]))


def test_fingerprint_changes_with_any_value(transactions: pd.DataFrame) -> None:
    changed = transactions.copy()
    changed.loc[changed.index[-1], "amount_cents"] += 1
    assert data_fingerprint(transactions) == data_fingerprint(transactions.copy())
    assert data_fingerprint(changed) != data_fingerprint(transactions)


def test_one_class_data_is_refused(month: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="window holds one class only"):
        train(month.assign(is_fraud=0))
    with pytest.raises(DataError, match="no is_fraud column"):
        train(month.drop(columns="is_fraud"))


def test_save_then_load_gives_the_same_scores(model, month: pd.DataFrame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["metadata.json", "model.skops"]
    loaded = load_model(tmp_path / "m")
    assert loaded.version == saved.version and len(saved.version) == 12
    np.testing.assert_array_equal(loaded.score(month.tail(300)), model.score(month.tail(300)))


def test_a_changed_model_file_is_refused(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_model(model, tmp_path / "m")
    blob = bytearray((tmp_path / "m" / "model.skops").read_bytes())
    blob[len(blob) // 3] ^= 0x01
    (tmp_path / "m" / "model.skops").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="was changed after it was saved"):
        load_model(tmp_path / "m")


def test_untrusted_types_are_refused_even_with_a_valid_checksum(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trojan = replace(model, pipeline=Pipeline([("step", FunctionTransformer(os.system))]))
    save_model(trojan, tmp_path / "t")
    with pytest.raises(ArtifactError, match="does not trust: posix.system"):
        load_model(tmp_path / "t")


def test_a_pickle_is_refused_without_running_it(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_model(model, tmp_path / "p")
    proof = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (exec, (f"open({str(proof)!r}, 'w').write('ran')",))

    target = tmp_path / "p" / "model.skops"
    target.write_bytes(pickle.dumps(Payload()))
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    meta["model_sha256"] = __import__("hashlib").sha256(target.read_bytes()).hexdigest()
    (tmp_path / "p" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="is not a skops file"):
        load_model(tmp_path / "p")
    assert not proof.exists()


@pytest.mark.parametrize("missing", ["model.skops", "metadata.json"])
def test_a_missing_file_is_refused(model, tmp_path: Path, missing: str) -> None:  # type: ignore[no-untyped-def]
    save_model(model, tmp_path / "m")
    (tmp_path / "m" / missing).unlink()
    with pytest.raises(ArtifactError, match=f"{missing} is missing"):
        load_model(tmp_path / "m")


def test_metadata_of_another_format_is_refused(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    (tmp_path / "m" / "metadata.json").write_text(json.dumps({**meta, "format": "other/9"}))
    with pytest.raises(ArtifactError, match="has format 'other/9'"):
        load_model(tmp_path / "m")
    shutil.rmtree(tmp_path / "m")


def test_a_model_saved_before_thresholds_is_refused_with_a_reason(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Is a fraudguard-model/1 file (no threshold) refused by its format, not by a bare TypeError?"""
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    del meta["threshold"], meta["validation_end"]
    (tmp_path / "m" / "metadata.json").write_text(json.dumps({**meta, "format": "fraudguard-model/1"}))
    with pytest.raises(ArtifactError, match="has format 'fraudguard-model/1'.*Retrain"):
        load_model(tmp_path / "m")


def test_metadata_with_unknown_fields_is_an_artifact_error(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    (tmp_path / "m" / "metadata.json").write_text(json.dumps({**meta, "owner": "dana"}))
    with pytest.raises(ArtifactError, match="is not fraudguard model metadata"):
        load_model(tmp_path / "m")
