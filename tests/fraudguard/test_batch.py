"""Tests for fraudguard/batch.py: a day's file scored with the same code as the API."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fraudguard.batch import score_batch, score_file
from fraudguard.errors import DataError
from fraudguard.features import History
from fraudguard.train import load_model

from ds2mle.data import write_parquet


@pytest.fixture(scope="module")
def day(month: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = month["timestamp"].max().floor("D")
    return month[(month["timestamp"] >= last - pd.Timedelta(days=1)) & (month["timestamp"] < last)], month[
        month["timestamp"] >= last
    ]


def test_score_file_writes_one_row_per_transaction(
    saved_model: Path, day: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    yesterday, today = day
    write_parquet(yesterday, tmp_path / "yesterday.parquet")
    write_parquet(today.drop(columns=["is_fraud", "label_available_at"]), tmp_path / "today.parquet")
    model = load_model(saved_model)
    summary = score_file(
        model=model,
        input_path=tmp_path / "today.parquet",
        output_path=tmp_path / "out" / "scores.parquet",
        threshold=0.3,
        history_path=tmp_path / "yesterday.parquet",
    )
    assert (summary.threshold, summary.threshold_source) == (0.3, "given")
    scores = pd.read_parquet(summary.output)
    assert list(scores.columns) == [
        "transaction_id",
        "timestamp",
        "fraud_probability",
        "flagged",
        "model_version",
    ]
    assert scores["transaction_id"].tolist() == today["transaction_id"].tolist()
    assert summary.rows == len(today) and summary.flagged == int((scores["fraud_probability"] >= 0.3).sum())
    assert (scores["model_version"] == model.version).all() and summary.rows_per_second > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scores.parquet"], (
        "no temporary files left behind"
    )
    expected = model.score(today, history=History(yesterday))
    np.testing.assert_allclose(scores["fraud_probability"].to_numpy(), expected)


def test_batch_and_online_paths_agree(saved_model: Path, day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Does scoring a day in one batch give each transaction the score it gets alone, with the same history?"""
    yesterday, today = day
    model, history = load_model(saved_model), History(pd.concat([yesterday, today]))
    batch = score_batch(today, model=model, threshold=0.5, history=History(yesterday))
    alone = [
        model.score(today.iloc[[i]], history=history)[0]
        for i in range(0, len(today), max(1, len(today) // 25))
    ]
    np.testing.assert_allclose(batch["fraud_probability"].to_numpy()[:: max(1, len(today) // 25)], alone)


def test_output_must_be_parquet(saved_model: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="must end in .parquet"):
        score_file(
            model=load_model(saved_model),
            input_path=tmp_path / "x.parquet",
            output_path=tmp_path / "x.csv",
            threshold=0.5,
        )


def test_history_that_is_the_input_is_refused(
    saved_model: Path, day: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """Does score-batch say so when --history holds every transaction of --input (the same file twice)?"""
    _, today = day
    write_parquet(today, tmp_path / "today.parquet")
    with pytest.raises(DataError, match=r"holds all \d+ transactions of .*today.parquet; history must be"):
        score_file(
            model=load_model(saved_model),
            input_path=tmp_path / "today.parquet",
            output_path=tmp_path / "out.parquet",
            history_path=tmp_path / "today.parquet",
        )
    assert not (tmp_path / "out.parquet").exists()


def test_a_partial_overlap_is_scored_with_a_warning(
    saved_model: Path,
    day: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    yesterday, today = day
    write_parquet(today, tmp_path / "today.parquet")
    write_parquet(pd.concat([yesterday, today.head(5)]), tmp_path / "history.parquet")
    with caplog.at_level("WARNING", logger="fraudguard.batch"):
        summary = score_file(
            model=load_model(saved_model),
            input_path=tmp_path / "today.parquet",
            output_path=tmp_path / "out.parquet",
            history_path=tmp_path / "history.parquet",
        )
    assert summary.rows == len(today)
    assert f"5 of {len(today)} transactions" in caplog.text


def test_the_models_threshold_is_used_unless_one_is_given(
    saved_model: Path, day: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    _, today = day
    write_parquet(today, tmp_path / "today.parquet")
    model = load_model(saved_model)
    own = score_file(model=model, input_path=tmp_path / "today.parquet", output_path=tmp_path / "a.parquet")
    given = score_file(
        model=model, input_path=tmp_path / "today.parquet", output_path=tmp_path / "b.parquet", threshold=0.9
    )
    assert (own.threshold, own.threshold_source) == (model.metadata.threshold, "model")
    assert (given.threshold, given.threshold_source) == (0.9, "given")
    scores = pd.read_parquet(tmp_path / "a.parquet")
    assert own.flagged == int((scores["fraud_probability"] >= model.metadata.threshold).sum()) > given.flagged


@pytest.mark.parametrize("module", ["batch", "serving", "train", "registry"])
def test_docstrings_name_modules_and_objects_that_exist(module: str) -> None:
    """Does every ``fraudguard.x`` or ``fraudguard.x.Name`` a docstring mentions import?"""
    source = Path(importlib.import_module(f"fraudguard.{module}").__file__ or "").read_text(encoding="utf-8")
    for reference in sorted(set(re.findall(r"fraudguard\.[a-z][a-z_]*(?:\.[A-Za-z][A-Za-z_]*)*", source))):
        parts = reference.split(".")
        target = importlib.import_module(".".join(parts[:2]))
        for name in parts[2:]:
            assert hasattr(target, name), f"fraudguard/{module}.py mentions {reference}, which does not exist"
            target = getattr(target, name)
