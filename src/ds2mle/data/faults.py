"""The fault catalogue: realistic ways in which an upstream batch arrives broken.

Each :class:`Fault` damages a *copy* of a batch in one way, seeded, and says
in :attr:`Fault.changes` exactly what it touches, so a test can check that it
changes that and nothing else. Apply one with :func:`inject_fault`; the
file-level fault (``corrupted_file``) works on bytes through
:func:`corrupt_file`.

Examples
--------
>>> from ds2mle.data import generate_transactions, inject_fault, FAULTS
>>> clean = generate_transactions(n_rows=1_000, seed=0)
>>> broken = inject_fault(clean, "renamed_column")
>>> "mcc_category" in broken.columns, "merchant_category" in clean.columns
(True, True)
>>> FAULTS["renamed_column"].changes.renamed
(('merchant_category', 'mcc_category'),)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ds2mle.data.transactions import STRING_DTYPE, UTC_OFFSET_HOURS
from ds2mle.errors import DataError

__all__ = [
    "FAULTS",
    "Fault",
    "FaultChanges",
    "corrupt_file",
    "inject_fault",
]

logger = logging.getLogger(__name__)

FaultFunction = Callable[[pd.DataFrame, np.random.Generator, float], pd.DataFrame]
RowEffect = Literal["kept", "added", "removed"]


@dataclass(frozen=True)
class FaultChanges:
    """What a fault changes, in a form tests can check.

    Attributes
    ----------
    columns : tuple of str
        Existing columns whose values or dtype change.
    added_columns : tuple of str
        New columns, appended at the end.
    removed_columns : tuple of str
        Columns that disappear.
    renamed : tuple of (str, str)
        ``(old, new)`` column renames; the column keeps its place and values.
    rows : {"kept", "added", "removed"}
        ``kept``: the same rows in the same order; ``added``: every original
        row is still there, plus exact copies; ``removed``: a subset of the
        original rows, in their original order.
    whole_file : bool
        True for file-level faults, which damage the bytes of a file.
    """

    columns: tuple[str, ...] = ()
    added_columns: tuple[str, ...] = ()
    removed_columns: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    rows: RowEffect = "kept"
    whole_file: bool = False


@dataclass(frozen=True)
class Fault:
    """A named way in which a batch can arrive broken.

    Attributes
    ----------
    name : str
        Key in :data:`FAULTS`.
    kind : {"frame", "file"}
        ``frame`` faults damage a DataFrame (:func:`inject_fault`); ``file``
        faults damage a file's bytes (:func:`corrupt_file`).
    description : str
        One line: the upstream story behind the damage.
    changes : FaultChanges
        What it changes.
    requires : tuple of str
        Columns the batch must have for the fault to apply.
    default_rate : float or None
        Share of rows (or of the time window) damaged by default; ``None``
        when the fault acts on a whole column and takes no rate.
    apply : callable or None
        ``apply(df_copy, rng, rate) -> DataFrame``; ``None`` for file faults.
    """

    name: str
    kind: Literal["frame", "file"]
    description: str
    changes: FaultChanges
    requires: tuple[str, ...] = ()
    default_rate: float | None = None
    apply: FaultFunction | None = None


# --------------------------------------------------------------------------- helpers

BoolArray = npt.NDArray[np.bool_]


def _pick(rng: np.random.Generator, n: int, rate: float, eligible: BoolArray | None = None) -> BoolArray:
    """A mask of about ``rate`` of the eligible rows, never empty when any row is eligible."""
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    mask = np.zeros(n, dtype=bool)
    if len(pool) == 0:
        return mask
    k = min(len(pool), max(1, round(rate * len(pool))))
    mask[rng.choice(pool, size=k, replace=False)] = True
    return mask


def _time_order(df: pd.DataFrame) -> npt.NDArray[np.intp]:
    """Positions of the rows in time order (stable)."""
    return np.argsort(df["timestamp"].to_numpy(), kind="stable")


def _window(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> BoolArray:
    """A contiguous stretch of time holding about ``rate`` of the rows."""
    n = len(df)
    k = min(n, max(1, round(rate * n)))
    first = int(rng.integers(0, n - k + 1))
    order = _time_order(df)
    mask = np.zeros(n, dtype=bool)
    mask[order[first : first + k]] = True
    return mask


def _null_for(series: pd.Series) -> Any:
    return pd.NA if isinstance(series.dtype, pd.StringDtype) and series.dtype.na_value is pd.NA else np.nan


# --------------------------------------------------------------------------- the faults


def _renamed_column(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    return df.rename(columns={"merchant_category": "mcc_category"})


def _dtype_change(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    df["amount_cents"] = df["amount_cents"].astype(np.int64).astype(str).astype(STRING_DTYPE)
    return df


def _amount_in_units(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    # from a cut-over time onwards, the last `rate` of the batch is in major units
    n = len(df)
    k = min(n, max(1, round(rate * n)))
    late = np.zeros(n, dtype=bool)
    late[_time_order(df)[n - k :]] = True
    amounts = df["amount_cents"].to_numpy(dtype=np.float64)
    df["amount_cents"] = np.where(late, amounts / 100.0, amounts)
    return df


_NULL_BURST_COLUMNS = ("merchant_category", "merchant_country", "device")


def _null_burst(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    mask = _window(df, rng, rate)
    for col in _NULL_BURST_COLUMNS:
        df.loc[mask, col] = _null_for(df[col])
    return df


def _duplicates(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    resent = _pick(rng, len(df), rate)
    # each re-sent row arrives right after its original
    order = np.repeat(np.arange(len(df)), 1 + resent.astype(np.int64))
    return df.iloc[order].reset_index(drop=True)


def _late_events(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    late = _pick(rng, len(df), rate)
    k = int(late.sum())
    ts = df.loc[late, "timestamp"]
    # they happened between 1 hour and 7 days before this batch starts
    seconds = rng.integers(3_600, 7 * 86_400, k)
    new_ts = pd.Series(df["timestamp"].min() - pd.to_timedelta(seconds, unit="s"), index=ts.index)
    delta = ts - new_ts
    df.loc[late, "timestamp"] = new_ts
    df.loc[late, "label_available_at"] = df.loc[late, "label_available_at"] - delta
    return df


def _out_of_range(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    n = len(df)
    bad = _pick(rng, n, rate)
    idx = np.flatnonzero(bad)
    if len(idx) < 3:  # make sure each kind of damage shows up
        idx = np.unique(np.concatenate([idx, rng.choice(n, size=min(n, 3), replace=False)]))
    idx = rng.permutation(idx)
    negative, absurd, future = np.array_split(idx, 3)
    amounts = df["amount_cents"].to_numpy(dtype=np.int64).copy()
    amounts[negative] = -amounts[negative]
    amounts[absurd] = amounts[absurd] * 10_000 + 99_999_999_999
    df["amount_cents"] = amounts
    # a terminal with its clock set years ahead
    days = pd.to_timedelta(rng.integers(365, 10 * 365, len(future)), unit="D")
    df.loc[df.index[future], "timestamp"] = pd.Series(df["timestamp"].max() + days, index=df.index[future])
    return df


def _timezone_shift(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    offsets = df["merchant_country"].map(UTC_OFFSET_HOURS).astype("float64").fillna(0.0).to_numpy()
    shifted = _pick(rng, len(df), rate, eligible=offsets != 0)
    hours = pd.to_timedelta(offsets[shifted], unit="h")
    # local wall-clock time labelled as UTC: UTC + offset
    df.loc[shifted, "timestamp"] = df.loc[shifted, "timestamp"] + hours
    return df


_NEW_CATEGORIES = ("crypto_exchange", "ev_charging")
_NEW_CHANNELS = ("moto",)


def _unseen_category(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    n = len(df)
    hit = np.flatnonzero(_pick(rng, n, rate))
    if len(hit) < 2:
        hit = np.unique(np.concatenate([hit, rng.choice(n, size=min(n, 2), replace=False)]))
    hit = rng.permutation(hit)
    cats, chans = np.array_split(hit, 2)
    df.loc[df.index[cats], "merchant_category"] = rng.choice(_NEW_CATEGORIES, size=len(cats))
    df.loc[df.index[chans], "channel"] = rng.choice(_NEW_CHANNELS, size=len(chans))
    return df


def _added_column(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    values = rng.choice(np.array(["apple_pay", "google_pay", "click_to_pay"], dtype=object), size=len(df))
    values[rng.random(len(df)) < 0.6] = None
    df["wallet_type"] = pd.Series(values, index=df.index, dtype=STRING_DTYPE)
    return df


def _dropped_column(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    return df.drop(columns=["device"])


def _label_noise(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    y = df["is_fraud"].to_numpy()
    fraud = y == 1
    to_legit = _pick(rng, len(df), rate, eligible=fraud)
    n_flip = max(1, int(to_legit.sum()))
    legit = np.flatnonzero(~fraud)
    to_fraud = rng.choice(legit, size=min(n_flip, len(legit)), replace=False)
    flipped = y.copy()
    flipped[to_legit] = 0
    flipped[to_fraud] = 1
    df["is_fraud"] = flipped.astype(y.dtype)
    return df


def _class_imbalance(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    dropped = _pick(rng, len(df), rate, eligible=df["is_fraud"].to_numpy() == 0)
    return df.loc[~dropped]


def _noise(df: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    jitter = _pick(rng, len(df), rate)
    amounts = df["amount_cents"].to_numpy(dtype=np.int64)
    factor = np.where(jitter, rng.lognormal(0.0, 0.05, len(df)), 1.0)
    noisy = np.where(jitter, np.maximum(1, np.rint(amounts * factor)), amounts).astype(np.int64)
    # a jitter that rounds back to the same amount still moves it by one minor unit
    same = jitter & (noisy == amounts)
    noisy[same] += 1
    df["amount_cents"] = noisy
    return df


def _fault(
    name: str,
    description: str,
    apply: FaultFunction,
    changes: FaultChanges,
    *,
    requires: tuple[str, ...],
    default_rate: float | None,
) -> Fault:
    return Fault(
        name=name,
        kind="frame",
        description=description,
        changes=changes,
        requires=requires,
        default_rate=default_rate,
        apply=apply,
    )


FAULTS: Mapping[str, Fault] = MappingProxyType(
    {
        f.name: f
        for f in (
            _fault(
                "renamed_column",
                "The acquirer's v2 export renames merchant_category to mcc_category.",
                _renamed_column,
                FaultChanges(renamed=(("merchant_category", "mcc_category"),)),
                requires=("merchant_category",),
                default_rate=None,
            ),
            _fault(
                "dtype_change",
                'A new JSON serializer upstream quotes numbers: amount_cents arrives as text ("1234").',
                _dtype_change,
                FaultChanges(columns=("amount_cents",)),
                requires=("amount_cents",),
                default_rate=None,
            ),
            _fault(
                "amount_in_units",
                "From a cut-over time on, the gateway sends amounts in major units (12.34) instead of cents.",
                _amount_in_units,
                FaultChanges(columns=("amount_cents",)),
                requires=("amount_cents", "timestamp"),
                default_rate=0.5,
            ),
            _fault(
                "null_burst",
                "The enrichment service was down for a while: merchant_category, merchant_country and "
                "device are empty in one stretch of time.",
                _null_burst,
                FaultChanges(columns=_NULL_BURST_COLUMNS),
                requires=(*_NULL_BURST_COLUMNS, "timestamp"),
                default_rate=0.05,
            ),
            _fault(
                "duplicates",
                "A retrying producer re-sends some messages: exact copies with the same transaction_id.",
                _duplicates,
                FaultChanges(rows="added"),
                requires=(),
                default_rate=0.02,
            ),
            _fault(
                "late_events",
                "An acquirer's outage ended: transactions from up to a week ago arrive in this batch, "
                "timestamped before everything else in it.",
                _late_events,
                FaultChanges(columns=("timestamp", "label_available_at")),
                requires=("timestamp", "label_available_at"),
                default_rate=0.03,
            ),
            _fault(
                "out_of_range",
                "Bad terminals and bugs: negative amounts (refunds sent as payments), absurd amounts and "
                "timestamps years in the future.",
                _out_of_range,
                FaultChanges(columns=("amount_cents", "timestamp")),
                requires=("amount_cents", "timestamp"),
                default_rate=0.006,
            ),
            _fault(
                "timezone_shift",
                "Some terminals send local wall-clock time labelled as UTC: timestamps shifted by the "
                "merchant country's UTC offset.",
                _timezone_shift,
                FaultChanges(columns=("timestamp",)),
                requires=("timestamp", "merchant_country"),
                default_rate=0.3,
            ),
            _fault(
                "unseen_category",
                'New business upstream: merchant categories ("crypto_exchange", "ev_charging") and a '
                'channel ("moto") the model has never seen.',
                _unseen_category,
                FaultChanges(columns=("merchant_category", "channel")),
                requires=("merchant_category", "channel"),
                default_rate=0.02,
            ),
            _fault(
                "added_column",
                "The gateway starts sending a new field, wallet_type (apple_pay, google_pay, ...).",
                _added_column,
                FaultChanges(added_columns=("wallet_type",)),
                requires=(),
                default_rate=None,
            ),
            _fault(
                "dropped_column",
                "The mobile SDK stops sending the device field: the device column is gone.",
                _dropped_column,
                FaultChanges(removed_columns=("device",)),
                requires=("device",),
                default_rate=None,
            ),
            _fault(
                "label_noise",
                "Mis-coded disputes: some frauds are recorded as legitimate and as many legitimate "
                "payments as fraud.",
                _label_noise,
                FaultChanges(columns=("is_fraud",)),
                requires=("is_fraud",),
                default_rate=0.1,
            ),
            _fault(
                "class_imbalance",
                "A sampling step upstream drops most legitimate transactions, so the fraud rate jumps.",
                _class_imbalance,
                FaultChanges(rows="removed"),
                requires=("is_fraud",),
                default_rate=0.8,
            ),
            _fault(
                "noise",
                "A currency-conversion round trip in the feed jitters amounts by a few percent.",
                _noise,
                FaultChanges(columns=("amount_cents",)),
                requires=("amount_cents",),
                default_rate=0.5,
            ),
            Fault(
                name="corrupted_file",
                kind="file",
                description="A batch file was cut off mid-transfer or overwritten with garbage; "
                "use corrupt_file() on the file's bytes.",
                changes=FaultChanges(whole_file=True),
            ),
        )
    }
)
"""Fault catalogue by name. ``kind="file"`` faults are applied with :func:`corrupt_file`."""


def _unknown(name: object) -> DataError:
    valid = ", ".join(sorted(FAULTS))
    return DataError(f"Unknown fault {name!r}. Expected one of: {valid}.")


def inject_fault(df: pd.DataFrame, name: str, *, seed: int = 0, rate: float | None = None) -> pd.DataFrame:
    """Return a damaged copy of ``df``; ``df`` itself is never modified.

    Parameters
    ----------
    df : pandas.DataFrame
        A batch of transactions (normally clean, but faults can be stacked).
    name : str
        A key of :data:`FAULTS` whose ``kind`` is ``"frame"``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` choosing which rows are hit.
    rate : float, optional
        Share of rows (or of the time window) to damage, in (0, 1]. ``None``
        uses the fault's ``default_rate``. Faults that act on a whole
        column (``default_rate is None``) take no rate.

    Returns
    -------
    pandas.DataFrame
        The damaged copy, on a fresh RangeIndex.

    Raises
    ------
    DataError
        If the fault is unknown or file-level, ``df`` is empty or lacks a
        column the fault needs, or ``rate`` is out of range.

    Examples
    --------
    >>> from ds2mle.data import generate_transactions
    >>> clean = generate_transactions(n_rows=1_000, seed=0)
    >>> dup = inject_fault(clean, "duplicates", seed=1, rate=0.05)
    >>> len(dup) - len(clean), dup["transaction_id"].is_unique
    (50, False)
    """
    if not isinstance(name, str) or name not in FAULTS:
        raise _unknown(name)
    fault = FAULTS[name]
    if fault.kind == "file" or fault.apply is None:
        raise DataError(
            f"Fault {name!r} damages a file, not a DataFrame. "
            "Use corrupt_file(path_or_bytes, seed=..., mode='truncate' or 'garbage') instead."
        )
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"inject_fault expects a pandas DataFrame; got {type(df).__name__}.")
    if len(df) == 0:
        raise DataError(f"Cannot inject {name!r} into an empty DataFrame (0 rows); pass a batch with rows.")
    missing = [c for c in fault.requires if c not in df.columns]
    if missing:
        raise DataError(
            f"Fault {name!r} needs column(s) {missing}, which the frame does not have "
            f"(it has {list(df.columns)}). Apply it to a clean batch, or before faults that drop or rename them."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"seed was {seed!r}; expected a non-negative integer such as seed=0.")
    if fault.default_rate is None:
        if rate is not None:
            raise DataError(
                f"Fault {name!r} changes a whole column and takes no rate; got rate={rate!r}. Drop it."
            )
        effective = 1.0
    else:
        effective = fault.default_rate if rate is None else rate
        if (
            isinstance(effective, bool)
            or not isinstance(effective, int | float)
            or not (math.isfinite(effective) and 0 < effective <= 1)
        ):
            raise DataError(
                f"rate was {rate!r}; expected a number in (0, 1], e.g. rate={fault.default_rate}."
            )
    rng = np.random.default_rng(seed)
    out = fault.apply(df.copy(deep=True).reset_index(drop=True), rng, float(effective))
    logger.debug("injected %s (rate=%s, seed=%s): %d -> %d rows", name, effective, seed, len(df), len(out))
    return out.reset_index(drop=True)


def corrupt_file(
    path_or_bytes: str | Path | bytes,
    *,
    seed: int = 0,
    mode: Literal["truncate", "garbage"] = "truncate",
) -> bytes:
    """Return a corrupted copy of a batch file's bytes (the ``corrupted_file`` fault).

    Parameters
    ----------
    path_or_bytes : str, pathlib.Path or bytes
        A Parquet or CSV file, or its contents.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    mode : {"truncate", "garbage"}, default "truncate"
        ``truncate`` cuts the file somewhere between 20% and 90% of its
        length (a transfer that died); ``garbage`` keeps the length but
        overwrites a few stretches with random bytes (a bad disk or a
        concurrent writer), including the Parquet footer region.

    Returns
    -------
    bytes
        The damaged contents; write them out with ``Path(...).write_bytes``.

    Raises
    ------
    DataError
        If the file cannot be read, is too small to damage, or ``mode`` is unknown.

    Examples
    --------
    >>> broken = corrupt_file(b"transaction_id,amount_cents\\n" * 10, seed=0)
    >>> 0 < len(broken) < 280
    True
    """
    if mode not in ("truncate", "garbage"):
        raise DataError(f"Unknown corruption mode {mode!r}. Expected 'truncate' or 'garbage'.")
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
    else:
        path = Path(path_or_bytes)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(
                f"Cannot read {path}: {exc.strerror or exc}. Expected an existing Parquet or CSV file."
            ) from exc
    if len(data) < 16:
        raise DataError(f"The file has {len(data)} bytes; expected at least 16 to corrupt it meaningfully.")
    rng = np.random.default_rng(seed)
    if mode == "truncate":
        cut = int(rng.integers(int(0.2 * len(data)), int(0.9 * len(data))))
        return data[:cut]
    buf = bytearray(data)
    span = max(8, len(data) // 200)
    # the footer of a Parquet file (its schema) sits in the last bytes: hit it too
    starts = [*rng.integers(0, len(data) - span, 4).tolist(), len(data) - span - 8]
    for start in starts:
        start = max(0, int(start))
        buf[start : start + span] = rng.integers(0, 256, span, dtype=np.uint8).tobytes()
    return bytes(buf)
