"""Tests for ds2mle.data.faults: every fault damages what it says, and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ds2mle.data import (
    COLUMNS,
    FAULTS,
    MERCHANT_CATEGORIES,
    UTC_OFFSET_HOURS,
    corrupt_file,
    inject_fault,
    read_transactions,
    write_parquet,
)
from ds2mle.errors import DataError

FRAME_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.kind == "frame")
# amount_in_units hits the last `rate` of the batch in time: a cut-over, not a random draw
RANDOM_FAULTS = sorted(
    n for n in FRAME_FAULTS if FAULTS[n].default_rate is not None and n != "amount_in_units"
)
REQUIRED = {
    "renamed_column",
    "dtype_change",
    "amount_in_units",
    "null_burst",
    "duplicates",
    "late_events",
    "out_of_range",
    "timezone_shift",
    "unseen_category",
    "added_column",
    "dropped_column",
    "label_noise",
    "class_imbalance",
    "noise",
}


def test_catalogue_has_every_documented_fault() -> None:
    """Does FAULTS hold all the public fault names, plus the file-level one?"""
    assert set(FAULTS) >= REQUIRED
    assert FAULTS["corrupted_file"].kind == "file"
    for name, fault in FAULTS.items():
        assert fault.name == name
        assert fault.description and "\n" not in fault.description


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Equal values and dtype, ignoring the index."""
    return a.dtype == b.dtype and a.reset_index(drop=True).equals(b.reset_index(drop=True))


@pytest.mark.parametrize("name", FRAME_FAULTS)
def test_fault_changes_what_it_says_and_nothing_else(small_batch: pd.DataFrame, name: str) -> None:
    """Does each fault touch exactly the columns and rows that its `changes` lists?"""
    changes = FAULTS[name].changes
    out = inject_fault(small_batch, name, seed=3)

    renames = dict(changes.renamed)
    expected_columns = [renames.get(c, c) for c in COLUMNS if c not in changes.removed_columns]
    expected_columns += list(changes.added_columns)
    assert list(out.columns) == expected_columns

    # line the damaged rows up with the clean ones
    clean = small_batch.rename(columns=renames).reset_index(drop=True)
    if changes.rows == "kept":
        assert len(out) == len(clean)
        aligned = clean
    elif changes.rows == "added":
        assert len(out) > len(clean)
        assert set(out["transaction_id"]) == set(clean["transaction_id"])
        aligned = clean.set_index("transaction_id", drop=False).loc[out["transaction_id"]]
    else:
        assert len(out) < len(clean)
        assert out["transaction_id"].is_unique
        assert out["transaction_id"].isin(clean["transaction_id"]).all()
        aligned = clean.set_index("transaction_id", drop=False).loc[out["transaction_id"]]
    assert out["transaction_id"].is_monotonic_increasing or changes.rows == "added"

    for col in out.columns:
        if col in changes.added_columns:
            continue
        if col in changes.columns:
            assert not _same(out[col], aligned[col]), f"{name} should change {col}"
        else:
            assert _same(out[col], aligned[col]), f"{name} should not change {col}"


@pytest.mark.parametrize("name", FRAME_FAULTS)
def test_fault_leaves_the_input_frame_untouched(small_batch: pd.DataFrame, name: str) -> None:
    """Is the caller's DataFrame unchanged after inject_fault?"""
    before = small_batch.copy(deep=True)
    inject_fault(small_batch, name, seed=1)
    pd.testing.assert_frame_equal(small_batch, before)


@pytest.mark.parametrize("name", RANDOM_FAULTS)
def test_fault_is_seeded(small_batch: pd.DataFrame, name: str) -> None:
    """Does the same seed damage the same rows, and another seed other rows?"""
    a = inject_fault(small_batch, name, seed=7)
    b = inject_fault(small_batch, name, seed=7)
    c = inject_fault(small_batch, name, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_renamed_column_keeps_values_under_the_new_name(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "renamed_column")
    assert out["mcc_category"].equals(small_batch["merchant_category"].rename("mcc_category"))


def test_dtype_change_turns_amounts_into_text_of_the_same_number(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "dtype_change")
    assert pd.api.types.is_string_dtype(out["amount_cents"])
    assert out["amount_cents"].iloc[0] == str(small_batch["amount_cents"].iloc[0])
    assert out["amount_cents"].astype("int64").equals(small_batch["amount_cents"])


def test_amount_in_units_divides_the_latest_rows_by_100(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "amount_in_units", rate=0.25)
    ratio = small_batch["amount_cents"] / out["amount_cents"]
    hit = np.isclose(ratio, 100.0)
    assert hit.mean() == pytest.approx(0.25, abs=0.01)
    assert np.isclose(ratio[~hit], 1.0).all()
    assert small_batch["timestamp"][hit].min() >= small_batch["timestamp"][~hit].max()


def test_null_burst_blanks_one_contiguous_stretch_of_time(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "null_burst", rate=0.1, seed=2)
    blank = out["merchant_category"].isna()
    assert blank.mean() == pytest.approx(0.1, abs=0.01)
    assert (out["device"].isna() == blank).all()
    positions = np.flatnonzero(blank)  # the batch is sorted by time
    assert positions.max() - positions.min() + 1 == len(positions)


def test_duplicates_are_exact_resends_right_after_the_original(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "duplicates", rate=0.1)
    assert len(out) == len(small_batch) + 400
    dup = out["transaction_id"].duplicated()
    assert dup.sum() == 400
    assert out.drop_duplicates().reset_index(drop=True).equals(small_batch)
    assert (out["transaction_id"].shift()[dup] == out["transaction_id"][dup]).all()


def test_late_events_are_timestamped_before_the_batch(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "late_events", rate=0.05)
    moved = out["timestamp"] != small_batch["timestamp"]
    assert moved.sum() == 200
    assert (out.loc[moved, "timestamp"] < small_batch["timestamp"].min()).all()
    assert not out["timestamp"].is_monotonic_increasing
    delay = out["label_available_at"] - out["timestamp"]
    assert delay.equals(small_batch["label_available_at"] - small_batch["timestamp"])


def test_out_of_range_adds_negative_absurd_and_future_values(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "out_of_range", rate=0.01)
    assert (out["amount_cents"] < 0).sum() > 0
    assert (out["amount_cents"] > 10**11).sum() > 0
    future = out["timestamp"] > small_batch["timestamp"].max() + pd.Timedelta(days=300)
    assert future.sum() > 0


def test_timezone_shift_moves_timestamps_by_the_merchant_country_offset(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "timezone_shift", rate=0.5)
    shift_h = (out["timestamp"] - small_batch["timestamp"]).dt.total_seconds() / 3_600
    moved = shift_h != 0
    offsets = small_batch["merchant_country"].map(UTC_OFFSET_HOURS)
    assert moved.sum() > 0
    assert (shift_h[moved] == offsets[moved]).all()


def test_unseen_category_brings_new_categories_and_channels(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "unseen_category", rate=0.05)
    new_cat = ~out["merchant_category"].isin(MERCHANT_CATEGORIES)
    new_channel = ~out["channel"].isin(["in_store", "online", "mobile_app"])
    assert new_cat.sum() == 100
    assert new_channel.sum() == 100
    assert not (new_cat & new_channel).any()


def test_added_and_dropped_columns(small_batch: pd.DataFrame) -> None:
    added = inject_fault(small_batch, "added_column")
    assert added.columns[-1] == "wallet_type"
    assert set(added["wallet_type"].dropna()) <= {"apple_pay", "google_pay", "click_to_pay"}
    assert "device" not in inject_fault(small_batch, "dropped_column").columns


def test_label_noise_flips_labels_both_ways(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "label_noise", rate=0.5)
    flipped_to_legit = ((small_batch["is_fraud"] == 1) & (out["is_fraud"] == 0)).sum()
    flipped_to_fraud = ((small_batch["is_fraud"] == 0) & (out["is_fraud"] == 1)).sum()
    assert flipped_to_legit == pytest.approx(0.5 * small_batch["is_fraud"].sum(), abs=1)
    assert flipped_to_fraud == flipped_to_legit
    assert out["is_fraud"].dtype == np.int8


def test_class_imbalance_drops_legit_rows_and_raises_the_fraud_rate(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "class_imbalance", rate=0.8)
    assert out["is_fraud"].sum() == small_batch["is_fraud"].sum()
    assert out["is_fraud"].mean() > 4 * small_batch["is_fraud"].mean()


def test_noise_jitters_amounts_by_a_few_percent(small_batch: pd.DataFrame) -> None:
    out = inject_fault(small_batch, "noise", rate=1.0)
    rel = (out["amount_cents"] / small_batch["amount_cents"] - 1).abs()
    assert (rel > 0).all()
    assert rel.median() < 0.1


def test_faults_can_be_stacked(small_batch: pd.DataFrame) -> None:
    out = inject_fault(inject_fault(small_batch, "duplicates"), "null_burst")
    assert len(out) > len(small_batch)
    assert out["device"].isna().any()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("cosmic_rays", {}, r"Unknown fault 'cosmic_rays'. Expected one of: .*duplicates.*renamed_column"),
        ("corrupted_file", {}, r"damages a file, not a DataFrame. Use corrupt_file"),
        ("duplicates", {"rate": 0.0}, r"rate was 0.0; expected a number in \(0, 1\]"),
        ("duplicates", {"rate": 1.5}, r"rate was 1.5; expected a number in \(0, 1\]"),
        ("renamed_column", {"rate": 0.1}, r"changes a whole column and takes no rate"),
        ("noise", {"seed": -1}, r"seed was -1; expected a non-negative integer"),
    ],
)
def test_bad_requests_raise_a_helpful_data_error(
    small_batch: pd.DataFrame, name: str, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(DataError, match=match):
        inject_fault(small_batch, name, **kwargs)  # type: ignore[arg-type]


def test_empty_frame_and_missing_column_are_data_errors(small_batch: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"empty DataFrame \(0 rows\)"):
        inject_fault(small_batch.iloc[:0], "noise")
    no_device = inject_fault(small_batch, "dropped_column")
    with pytest.raises(DataError, match=r"needs column\(s\) \['device'\]"):
        inject_fault(no_device, "null_burst")


# --------------------------------------------------------------------------- files


def test_truncated_parquet_cannot_be_read(small_batch: pd.DataFrame, tmp_path: Path) -> None:
    """Is a truncated Parquet file shorter, and does reading it raise a DataError?"""
    path = write_parquet(small_batch, tmp_path / "batch.parquet")
    broken = corrupt_file(path, seed=1, mode="truncate")
    assert 0 < len(broken) < path.stat().st_size
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(broken)
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_transactions(bad)


def test_garbage_keeps_the_length_and_breaks_the_file(small_batch: pd.DataFrame, tmp_path: Path) -> None:
    path = write_parquet(small_batch, tmp_path / "batch.parquet")
    data = path.read_bytes()
    broken = corrupt_file(data, seed=1, mode="garbage")
    assert len(broken) == len(data) and broken != data
    assert broken == corrupt_file(data, seed=1, mode="garbage")
    bad = tmp_path / "garbage.parquet"
    bad.write_bytes(broken)
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_transactions(bad)


def test_corrupt_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Cannot read"):
        corrupt_file(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="Unknown corruption mode 'shred'"):
        corrupt_file(b"x" * 100, mode="shred")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="expected at least 16"):
        corrupt_file(b"tiny")
