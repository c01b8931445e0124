"""fraudguard/chunked.py: lean dtypes, honest memory measurement, and chunked scoring equal to scoring whole."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraudguard.chunked import (
    ChunkedError,
    DtypeOverflowError,
    UnsortedInputError,
    history_window,
    iter_chunks,
    lean_dtypes,
    measure_peak,
    score_file_in_chunks,
    smallest_int_dtype,
    to_lean,
)
from fraudguard.contracts import MAX_AMOUNT_CENTS
from fraudguard.errors import DataError, FraudguardError
from fraudguard.train import FraudModel, load_model


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def whole_euros(transactions: pd.DataFrame) -> pd.DataFrame:
    """The seeded batch with whole-euro amounts: every feature sum is exact, so chunked == whole to the bit."""
    return transactions.assign(amount_cents=(transactions["amount_cents"] // 100 + 1) * 100, currency="EUR")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0, 1, "int8"), (-128, 127, "int8"), (0, 128, "int16"), (0, MAX_AMOUNT_CENTS, "int32"), (0, 2**31, "int64")],
)
def test_smallest_int_dtype_is_the_first_that_holds_the_range(low: int, high: int, expected: str) -> None:
    assert smallest_int_dtype(low, high) == np.dtype(expected)


@pytest.mark.parametrize(("low", "high"), [(0, 2**63), (3, 2)])
def test_smallest_int_dtype_refuses_impossible_ranges(low: int, high: int) -> None:
    with pytest.raises(DtypeOverflowError):
        smallest_int_dtype(low, high)


def test_lean_dtypes_come_from_the_contract_not_the_data() -> None:
    assert lean_dtypes()["amount_cents"] == np.dtype("int32")
    assert lean_dtypes(max_amount_cents=3_000_000_000)["amount_cents"] == np.dtype("int64")
    assert lean_dtypes()["currency"] == "category"


def test_to_lean_keeps_values_and_leaves_the_input_alone(transactions: pd.DataFrame) -> None:
    before = transactions.copy()
    lean = to_lean(transactions)
    pd.testing.assert_frame_equal(transactions, before)
    assert lean["amount_cents"].dtype == np.int32 and lean["channel"].dtype == "category"
    assert (lean["amount_cents"].to_numpy() == transactions["amount_cents"].to_numpy()).all()
    assert lean.memory_usage(deep=True).sum() < transactions.memory_usage(deep=True).sum()


def test_to_lean_refuses_an_amount_that_would_wrap_around(transactions: pd.DataFrame) -> None:
    """Does a value outside int32 raise, instead of becoming a negative amount?"""
    fleet = transactions.head(3).assign(amount_cents=[5, 3_000_000_000, 7])
    with pytest.raises(DtypeOverflowError, match="amount_cents has 1 values outside int32"):
        to_lean(fleet)
    assert issubclass(DtypeOverflowError, FraudguardError)


def test_measure_peak_sees_numpy_and_arrow_and_cleans_up() -> None:
    result, peak = measure_peak(lambda: np.ones(2_000_000)[:3].copy())
    assert len(result) == 3 and 16_000_000 <= peak.python_bytes < 20_000_000
    _, arrow = measure_peak(lambda: pa.array(np.arange(1_000_000)).cast(pa.float64()))
    assert arrow.arrow_bytes >= 8_000_000
    assert not tracemalloc.is_tracing()
    assert "Proxy" not in type(pa.default_memory_pool()).__name__


def test_measure_peak_keeps_arrow_data_made_inside_it_safe_to_free() -> None:
    """Is a DataFrame of Arrow strings made inside measure_peak still safe to use and free afterwards?"""
    frame, _ = measure_peak(lambda: pd.DataFrame({"text": [f"t{i}" for i in range(10_000)]}).astype("str"))
    import gc

    gc.collect()
    assert frame["text"].str.len().sum() > 0
    del frame
    gc.collect()


def test_measure_peak_stops_tracing_when_fn_raises_and_keeps_a_callers_tracing() -> None:
    with pytest.raises(ZeroDivisionError):
        measure_peak(lambda: 1 / 0)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        measure_peak(lambda: None)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_iter_chunks_reads_every_row_once_in_order(transactions: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    transactions.to_parquet(path, row_group_size=300)
    chunks = list(iter_chunks(path, rows_per_chunk=128))
    assert max(len(c) for c in chunks) <= 128
    joined = pd.concat(chunks)
    assert joined.index.equals(pd.RangeIndex(len(transactions)))
    assert joined["transaction_id"].tolist() == transactions["transaction_id"].tolist()
    assert chunks[0]["device"].dtype == "category"


@pytest.mark.parametrize(
    ("content", "error"), [(None, DataError), (b"not parquet", DataError)]
)
def test_iter_chunks_refuses_missing_or_corrupted_files(tmp_path: Path, content: bytes | None, error: type) -> None:
    path = tmp_path / "in.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error):
        next(iter_chunks(path, rows_per_chunk=10))


def test_iter_chunks_refuses_a_chunk_size_below_one(transactions: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    transactions.head(10).to_parquet(path)
    with pytest.raises(ChunkedError, match="at least 1"):
        next(iter_chunks(path, rows_per_chunk=0))


def test_history_window_is_the_models_longest_feature_window(model: FraudModel) -> None:
    assert history_window(model) == pd.Timedelta("24h")


@pytest.mark.parametrize("rows_per_chunk", [97, 500, 5_000])
def test_chunked_scores_equal_scoring_the_whole_file(
    model: FraudModel, whole_euros: pd.DataFrame, tmp_path: Path, rows_per_chunk: int
) -> None:
    """Do rows at the start of a chunk see their history in the previous chunk, and is every row written once?"""
    path = tmp_path / "in.parquet"
    whole_euros.to_parquet(path, row_group_size=400)
    summary = score_file_in_chunks(
        model=model, input_path=path, output_path=tmp_path / "out.parquet", rows_per_chunk=rows_per_chunk
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["transaction_id"].tolist() == whole_euros["transaction_id"].tolist()
    np.testing.assert_array_equal(out["fraud_probability"].to_numpy(), model.score(whole_euros))
    assert summary.rows == len(whole_euros)
    assert summary.flagged == int(out["flagged"].sum())
    assert list(out.columns) == ["transaction_id", "timestamp", "fraud_probability", "flagged", "model_version"]


def test_chunked_scoring_holds_less_memory_than_the_whole_file(
    model: FraudModel, transactions: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    transactions.to_parquet(path, row_group_size=200)
    _, whole = measure_peak(lambda: model.score(pd.read_parquet(path)))
    summary, chunked = measure_peak(
        lambda: score_file_in_chunks(model=model, input_path=path, output_path=tmp_path / "o.parquet", rows_per_chunk=200)
    )
    assert chunked.total_bytes < whole.total_bytes / 2
    assert summary.largest_carry < len(transactions) / 2


def test_an_unsorted_file_is_refused_and_leaves_no_output(
    model: FraudModel, transactions: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    transactions.sample(frac=1.0, random_state=0).to_parquet(path)
    with pytest.raises(UnsortedInputError, match="not in time order"):
        score_file_in_chunks(model=model, input_path=path, output_path=tmp_path / "o.parquet", rows_per_chunk=300)
    assert not (tmp_path / "o.parquet").exists()
    assert not list(tmp_path.glob(".o.parquet.*"))


def test_output_must_be_parquet(model: FraudModel, transactions: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    transactions.head(10).to_parquet(path)
    with pytest.raises(DataError, match=r"\.parquet"):
        score_file_in_chunks(model=model, input_path=path, output_path=tmp_path / "o.csv")


def test_an_empty_file_gives_an_empty_output_with_the_schema(
    model: FraudModel, transactions: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    transactions.head(0).to_parquet(path)
    summary = score_file_in_chunks(model=model, input_path=path, output_path=tmp_path / "o.parquet")
    out = pd.read_parquet(tmp_path / "o.parquet")
    assert summary.rows == 0 and len(out) == 0 and "fraud_probability" in out.columns
