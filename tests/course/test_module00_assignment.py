"""The module 00 assignment (split-by-time) grades honestly: wrong answers lose points, right ones keep them.

Every variant below is a whole answer cell, written the way a learner plausibly would. They are all graded
together, for real, in one batch per session (``grade_batch`` in ``conftest.py``), hidden tests included.
"""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import swap

Graded = Any  # conftest.Graded: score, failed {grade_id: reason}, outcome, max_auto, manual, explain()

pytestmark = pytest.mark.slow

NOTEBOOK = "00-start-here/split-by-time.ipynb"
ANSWER = "split_by_time"
AUTOGRADED, MANUAL = 8, 2
VISIBLE = "test_split_by_time_visible"
EDGE = "test_split_by_time_edge_cases"
BAD = "test_split_by_time_bad_input"



# A learner's answer that is right, written plainly; most wrong answers are one slip away from it.
LEARNER = '''#| export
import math

import pandas as pd


def split_by_time(transactions, *, test_fraction=0.2):
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if "timestamp" not in transactions.columns:
        raise ValueError("transactions need a timestamp column")
    if transactions["timestamp"].isna().any():
        raise ValueError("some timestamps are missing")
    ordered = transactions.sort_values("timestamp", kind="stable")
    if len(ordered) == 0:
        return ordered.copy(), ordered.copy()
    n_test = max(1, math.ceil(len(ordered) * test_fraction))
    cutoff = ordered["timestamp"].iloc[len(ordered) - n_test]
    is_test = ordered["timestamp"] >= cutoff
    return ordered[~is_test], ordered[is_test]
'''

# ---------------------------------------------------------------- correct answers, written differently
RIGHT = {
    "learner_plain": LEARNER,
    # rank each row by time; ties share the highest rank so they fall on the same side; round() for the size
    "rank_and_round": '''#| export
import pandas as pd


def split_by_time(transactions, *, test_fraction=0.2):
    if test_fraction <= 0 or test_fraction >= 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    if "timestamp" not in transactions:
        raise ValueError("no 'timestamp' column")
    missing = transactions["timestamp"].isna()
    if missing.any():
        raise ValueError(f"{int(missing.sum())} rows have a NaT timestamp")
    n_test = round(len(transactions) * test_fraction)
    position = transactions["timestamp"].rank(method="max")
    in_test = position > len(transactions) - n_test
    train = transactions[~in_test].sort_values("timestamp", kind="stable")
    test = transactions[in_test].sort_values("timestamp", kind="stable")
    return train, test
''',
    # numpy on UTC instants: argsort, then searchsorted to push the cut-off's ties into test
    "numpy_instants": '''#| export
import numpy as np
import pandas as pd


def split_by_time(transactions: pd.DataFrame, *, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not (isinstance(test_fraction, (int, float)) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction={test_fraction} is not strictly between 0 and 1")
    try:
        stamps = transactions["timestamp"]
    except KeyError:
        raise ValueError("a 'timestamp' column is required") from None
    if stamps.isna().any():
        raise ValueError("timestamp has NaT values")
    n = len(transactions)
    if n == 0:
        return transactions.iloc[0:0].copy(), transactions.iloc[0:0].copy()
    instants = stamps.dt.tz_convert("UTC").to_numpy()
    order = np.argsort(instants, kind="stable")
    ordered = instants[order]
    n_test = int(np.ceil(n * test_fraction))
    first_test = int(np.searchsorted(ordered, ordered[n - n_test], side="left"))
    return transactions.iloc[order[:first_test]], transactions.iloc[order[first_test:]]
''',
    # tests/autograder/test_selfgrade.py's correct answer: round() for the size, the last row when it rounds to 0
    "selfgrade_correct": '''#| export
import pandas as pd


def split_by_time(transactions, *, test_fraction=0.2):
    if not (0 < test_fraction < 1):
        raise ValueError("bad fraction")
    if "timestamp" not in transactions or transactions["timestamp"].isna().any():
        raise ValueError("need complete timestamps")
    ordered = transactions.sort_values("timestamp", kind="mergesort")
    n_train = len(ordered) - int(round(len(ordered) * test_fraction))
    if len(ordered) == 0:
        return ordered, ordered.copy()
    cutoff = ordered["timestamp"].iloc[min(n_train, len(ordered) - 1)]
    return ordered[ordered["timestamp"] < cutoff], ordered[ordered["timestamp"] >= cutoff]
''',
}

# ---------------------------------------------------------------- plausible wrong answers
# name: (answer cell, the grade cells that must fail)
WRONG: dict[str, tuple[str, set[str]]] = {
    # checked, then forgotten: the size uses the default fraction whatever the caller asked for
    "ignores_test_fraction": (
        swap(LEARNER, "math.ceil(len(ordered) * test_fraction)", "math.ceil(len(ordered) * 0.2)"),
        {EDGE},
    ),
    # the visible example's 0.25 became the default: nobody calls it without test_fraction... except users
    "wrong_default": (swap(LEARNER, "test_fraction=0.2)", "test_fraction=0.25)"), {EDGE}),
    # sorts the caller's frame in place (the test's snapshot used to be taken after that first call)
    "sorts_callers_frame": (
        swap(LEARNER, '    ordered = transactions.sort_values("timestamp", kind="stable")\n',
             '    transactions.sort_values("timestamp", kind="stable", inplace=True)\n    ordered = transactions\n'),
        {BAD},
    ),
    # "normalises" the caller's column to UTC before splitting: right split, changed input
    "converts_callers_timestamps": (
        swap(LEARNER, '    ordered = transactions.sort_values(',
             '    transactions["timestamp"] = transactions["timestamp"].dt.tz_convert("UTC")\n'
             '    ordered = transactions.sort_values('),
        {BAD},
    ),
    # compares local wall-clock times: fine in January, wrong the night clocks go back
    "wall_clock_order": (
        swap(
            swap(LEARNER, '    ordered = transactions.sort_values("timestamp", kind="stable")\n',
                 '    wall = transactions["timestamp"].dt.tz_localize(None)  # drop the zone, keep the clock\n'
                 '    ordered = transactions.iloc[wall.argsort(kind="stable").to_numpy()]\n'),
            '''    cutoff = ordered["timestamp"].iloc[len(ordered) - n_test]
    is_test = ordered["timestamp"] >= cutoff''',
            '''    local = ordered["timestamp"].dt.tz_localize(None)
    cutoff = local.iloc[len(ordered) - n_test]
    is_test = local >= cutoff''',
        ),
        {EDGE},
    ),
    # a list unpacks like a tuple in the visible test
    "returns_list": (swap(LEARNER, "return ordered[~is_test], ordered[is_test]", "return [ordered[~is_test], ordered[is_test]]"),
                     {BAD}),
    # int() floors to 0 on small frames, and iloc[-0] is the first row: everything goes to test
    "zero_rows_wrap_around": (
        swap(
            swap(LEARNER, "max(1, math.ceil(len(ordered) * test_fraction))", "int(len(ordered) * test_fraction)"),
            'ordered["timestamp"].iloc[len(ordered) - n_test]', 'ordered["timestamp"].iloc[-n_test]',
        ),
        {EDGE},
    ),
    # the cut-off's ties go to train: test is whatever comes strictly after the last training row
    "ties_to_train": (
        swap(LEARNER, '''    cutoff = ordered["timestamp"].iloc[len(ordered) - n_test]
    is_test = ordered["timestamp"] >= cutoff''', '''    last_train = ordered["timestamp"].iloc[len(ordered) - n_test - 1] if n_test < len(ordered) else None
    is_test = ordered["timestamp"] > last_train if last_train is not None else ordered["timestamp"].notna()'''),
        {EDGE},
    ),
    # assert is not a ValueError (and disappears under python -O)
    "assert_for_bad_fraction": (
        swap(LEARNER, '''    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")''',
             '    assert 0 < test_fraction < 1, f"test_fraction must be between 0 and 1, got {test_fraction}"'),
        {BAD},
    ),
    # missing timestamps quietly dropped instead of refused
    "drops_missing_timestamps": (
        swap(LEARNER, '''    if transactions["timestamp"].isna().any():
        raise ValueError("some timestamps are missing")''', '    transactions = transactions.dropna(subset=["timestamp"])'),
        {BAD},
    ),
    # test_fraction read as a share of the time span, not of the rows
    "share_of_time_span": (
        swap(LEARNER, '''    n_test = max(1, math.ceil(len(ordered) * test_fraction))
    cutoff = ordered["timestamp"].iloc[len(ordered) - n_test]''', '''    first, last = ordered["timestamp"].iloc[0], ordered["timestamp"].iloc[-1]
    cutoff = first + (last - first) * (1 - test_fraction)'''),
        {EDGE},
    ),
}


@pytest.fixture(scope="session")
def graded(grade_batch: Any) -> dict[str, Graded]:
    variants = {f"right:{name}": {ANSWER: code} for name, code in RIGHT.items()}
    variants["right:reference"] = {}
    variants |= {f"wrong:{name}": {ANSWER: code} for name, (code, _) in WRONG.items()}
    return grade_batch("00", NOTEBOOK, variants)


@pytest.mark.parametrize("name", ["reference", *sorted(RIGHT)])
def test_correct_answers_score_full_marks(graded: dict[str, Graded], name: str) -> None:
    result = graded[f"right:{name}"]
    assert (result.score, result.failed, result.manual) == (AUTOGRADED, {}, MANUAL), result.explain()


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_wrong_answers_lose_points_in_the_named_tests(graded: dict[str, Graded], name: str) -> None:
    """Each mistake costs points, in the test that names it, with a reason the learner can read."""
    result = graded[f"wrong:{name}"]
    must_fail = WRONG[name][1]
    assert result.score < AUTOGRADED, f"{name} got full marks"
    assert must_fail <= set(result.failed), f"{name}: expected {sorted(must_fail)} to fail\n{result.explain()}"
    assert all(result.failed.values()), f"{name}: a failed test gave no reason\n{result.explain()}"
