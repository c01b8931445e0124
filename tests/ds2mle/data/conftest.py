"""Shared, session-scoped Paylane batches: generated once, never modified by a test."""

from __future__ import annotations

import pandas as pd
import pytest

from ds2mle.data import fraud_patterns, generate_transactions

SMALL = {"n_rows": 4_000, "seed": 11}
LARGE = {"n_rows": 200_000, "seed": 5}


@pytest.fixture(scope="session")
def small_batch() -> pd.DataFrame:
    """4,000 clean rows: enough for schema and fault checks, fast to copy."""
    return generate_transactions(**SMALL)


@pytest.fixture(scope="session")
def large_batch() -> pd.DataFrame:
    """200,000 clean rows for statistical properties (fraud rate, rhythms, patterns)."""
    return generate_transactions(**LARGE)


@pytest.fixture(scope="session")
def large_patterns() -> pd.Series:
    """Ground-truth fraud mechanism of each row of ``large_batch``."""
    return fraud_patterns(**LARGE)
