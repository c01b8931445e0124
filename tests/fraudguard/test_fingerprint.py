"""Tests for fraudguard/fingerprint.py (module 02): data versions, deterministic splits, the lineage log."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fraudguard.fingerprint import (
    FingerprintError,
    RunRecord,
    content_hash,
    environment_hash,
    environment_lock,
    find_run,
    hash_split,
    key_buckets,
    model_digest,
    record_run,
)


def test_content_hash_ignores_row_order_column_order_and_index(transactions: pd.DataFrame) -> None:
    moved = transactions.sample(frac=1.0, random_state=0)[transactions.columns[::-1]].reset_index(drop=True)
    assert content_hash(moved) == content_hash(transactions)


@pytest.mark.parametrize("fault", ["duplicates", "noise", "label_noise", "dropped_column", "renamed_column", "dtype_change"])
def test_content_hash_changes_with_every_fault(transactions: pd.DataFrame, fault: str) -> None:
    from ds2mle.data import inject_fault

    assert content_hash(inject_fault(transactions, fault, seed=2)) != content_hash(transactions)


def test_content_hash_refuses_repeated_column_names() -> None:
    with pytest.raises(FingerprintError, match="more than once"):
        content_hash(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_key_buckets_are_the_same_in_another_process(package_env: dict[str, str]) -> None:
    """Is the split free of Python's per-process hash salt?"""
    keys = pd.Series(["card_000001_1", "card_000777_2"])
    here = key_buckets(keys, salt="x").tolist()
    code = "import pandas as pd; from fraudguard.fingerprint import key_buckets; print(key_buckets(pd.Series(['card_000001_1', 'card_000777_2']), salt='x').tolist())"
    there = subprocess.run([sys.executable, "-c", code], env={**package_env, "PYTHONHASHSEED": "123"},
                           capture_output=True, text=True, check=True).stdout.strip()
    assert there == str(here)
    assert here[0] == int.from_bytes(hashlib.sha256(b"x:card_000001_1").digest()[:8], "big") / 2**64


def test_hash_split_keeps_cards_whole_and_stable_as_data_grows(month: pd.DataFrame) -> None:
    rest, holdout = hash_split(month, key="card_id", fraction=0.1)
    assert not set(rest["card_id"]) & set(holdout["card_id"])
    _, early = hash_split(month.iloc[: len(month) // 3], key="card_id", fraction=0.1)
    assert set(early["card_id"]) <= set(holdout["card_id"])


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 2])
def test_hash_split_refuses_fractions_outside_zero_one(transactions: pd.DataFrame, fraction: float) -> None:
    with pytest.raises(FingerprintError, match="strictly between"):
        hash_split(transactions, key="card_id", fraction=fraction)


def test_environment_lock_is_sorted_and_names_this_pandas() -> None:
    lock = environment_lock()
    assert list(lock) == sorted(lock) and lock["pandas"] == pd.__version__
    assert environment_hash(lock) == environment_hash(dict(reversed(list(lock.items()))))


def test_lineage_log_appends_and_finds_the_latest_run(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "lineage.jsonl"
    for data in ("d1", "d2"):
        record_run(log, RunRecord(kind="train", data_hash=data, rows=1, model_digest="m", environment_hash="e"))
    assert find_run(log, model_digest="m").data_hash == "d2"
    with pytest.raises(FingerprintError, match="no batch run"):
        find_run(log, model_digest="m", kind="batch")
    with pytest.raises(FingerprintError, match="no lineage log"):
        find_run(tmp_path / "missing.jsonl", model_digest="m")


def test_a_model_retrained_on_the_same_rows_in_another_order_has_the_same_digest(month: pd.DataFrame) -> None:
    from fraudguard.train import train

    first = train(month, max_iter=15)
    again = train(month.sample(frac=1.0, random_state=4), max_iter=15)
    other = train(month, max_iter=15, learning_rate=0.2)
    assert model_digest(first.pipeline) == model_digest(again.pipeline) != model_digest(other.pipeline)

