"""The seeded Paylane transaction simulator, its fault catalogue and drift scenarios.

Paylane is a fictional card-payments company; this package is the course's
only data source (nothing is downloaded). It never imports ``fraudguard``:
the data exists before any model does.

- :func:`generate_transactions` simulates a batch of card transactions;
  :func:`fraud_patterns` gives the hidden mechanism behind each fraud.
- :data:`FAULTS` / :func:`inject_fault` / :func:`corrupt_file` break a batch
  on purpose, one realistic upstream failure at a time.
- :data:`DRIFT_SCENARIOS` names the ways traffic changes; pass one as
  ``generate_transactions(drift=...)``.
- :func:`write_parquet` / :func:`read_transactions` move batches to and from
  disk (byte-identical Parquet for the same seed).
- :func:`build_stream` / :func:`replay` play Paylane live: weeks of traffic in
  time order with late labels, drift or a fault switched on at a chosen
  moment, against a scoring function or the real service over HTTP.

The full data dictionary is ``docs/paylane-data.md``.

Examples
--------
>>> from ds2mle.data import generate_transactions, COLUMNS
>>> df = generate_transactions(n_rows=5_000, seed=7)
>>> tuple(df.columns) == COLUMNS
True
>>> bool(0.005 <= df["is_fraud"].mean() <= 0.02)
True
"""

from ds2mle.data.drift import DRIFT_SCENARIOS, DriftScenario, SimulationKnobs, Statistic
from ds2mle.data.faults import FAULTS, Fault, FaultChanges, corrupt_file, inject_fault
from ds2mle.data.replay import HttpTarget, ReplayLog, ReplayPlan, Stream, build_stream, replay
from ds2mle.data.transactions import (
    CHANNEL_DEVICES,
    COLUMN_DTYPES,
    COLUMNS,
    CURRENCY_BY_COUNTRY,
    FRAUD_PATTERNS,
    MERCHANT_CATEGORIES,
    STRING_DTYPE,
    UTC_OFFSET_HOURS,
    default_days,
    fraud_patterns,
    generate_transactions,
    read_transactions,
    write_parquet,
)

__all__ = [
    "CHANNEL_DEVICES",
    "COLUMNS",
    "COLUMN_DTYPES",
    "CURRENCY_BY_COUNTRY",
    "DRIFT_SCENARIOS",
    "FAULTS",
    "FRAUD_PATTERNS",
    "MERCHANT_CATEGORIES",
    "STRING_DTYPE",
    "UTC_OFFSET_HOURS",
    "DriftScenario",
    "Fault",
    "FaultChanges",
    "HttpTarget",
    "ReplayLog",
    "ReplayPlan",
    "Stream",
    "SimulationKnobs",
    "Statistic",
    "corrupt_file",
    "default_days",
    "fraud_patterns",
    "generate_transactions",
    "build_stream",
    "inject_fault",
    "read_transactions",
    "replay",
    "write_parquet",
]
