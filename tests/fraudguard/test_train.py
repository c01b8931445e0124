"""Tests for fraudguard/train.py: reproducible training, provenance, and safe artifacts."""

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
from fraudguard.train import data_fingerprint, load_model, save_model, train
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
    assert 0.5 < meta.metrics["roc_auc"] <= 1.0 and 0.0 < meta.metrics["average_precision"] <= 1.0
    assert meta.feature_names[0] == "amount_eur" and "scikit-learn" in meta.library_versions


def test_the_split_is_by_time(month: pd.DataFrame, model) -> None:  # type: ignore[no-untyped-def]
    train_end = pd.Timestamp(model.metadata.train_end)
    later = month[month["timestamp"] > train_end]
    assert 0.15 * len(month) <= len(later) <= 0.25 * len(month)


def test_fingerprint_changes_with_any_value(transactions: pd.DataFrame) -> None:
    changed = transactions.copy()
    changed.loc[changed.index[-1], "amount_cents"] += 1
    assert data_fingerprint(transactions) == data_fingerprint(transactions.copy())
    assert data_fingerprint(changed) != data_fingerprint(transactions)


def test_one_class_data_is_refused(month: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="one class only"):
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
