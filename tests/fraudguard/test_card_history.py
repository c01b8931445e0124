"""Tests for fraudguard/card_history.py (the module 01 assignment's reference answer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraudguard.card_history import amount_vs_card_history


def rows(stamps: list[str], amounts: list[float], cards: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "card_id": cards or ["k"] * len(stamps),
            "timestamp": pd.to_datetime(stamps, utc=True, format="ISO8601"),
            "amount_eur": amounts,
        }
    )


@pytest.mark.parametrize(
    ("earlier", "expected"),
    [("2026-01-01 12:00", 2.0), ("2026-01-01 11:59:59", np.nan), ("2026-01-08 12:00", np.nan)],
    ids=["boundary-inside", "just-outside", "tie"],
)
def test_window_is_half_open(earlier: str, expected: float) -> None:
    value = amount_vs_card_history(rows([earlier, "2026-01-08 12:00"], [50.0, 100.0]), window="7D").iloc[1]
    np.testing.assert_equal(value, expected)


def test_ratio_against_the_mean_of_earlier_payments() -> None:
    result = amount_vs_card_history(
        rows(["2026-01-01 09:00", "2026-01-01 10:00", "2026-01-02 09:30"], [10.0, 30.0, 20.0])
    )
    np.testing.assert_allclose(result.to_numpy(), [np.nan, 3.0, 1.0])
    assert result.name == "amount_vs_card_history"


def test_naive_timestamps_and_bad_windows_raise() -> None:
    frame = rows(["2026-01-01 09:00"], [1.0])
    with pytest.raises(ValueError, match="time-zone aware"):
        amount_vs_card_history(frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None)))
    with pytest.raises(ValueError, match="window must be positive"):
        amount_vs_card_history(frame, window="0s")


def test_empty_input_gives_an_empty_float_series() -> None:
    empty = amount_vs_card_history(rows([], []))
    assert len(empty) == 0 and empty.dtype == "float64"
