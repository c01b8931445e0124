"""Tests for autograder/selfgrade.py: the learner's loop on module 00, with real kernels."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.selfgrade import render_report, self_grade
from ds2mle.cli import main
from ds2mle.errors import GradingError
from ds2mle.manifest import load_course
from ds2mle.notebooks import read_notebook, write_notebook

pytestmark = pytest.mark.slow

NOTEBOOK = "assignments/00-start-here/split-by-time.ipynb"

CORRECT_BUT_DIFFERENT = '''#| export
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
'''

WRONG_ANSWERS = {
    # the data scientist's habit: a random split
    "random_split": '''#| export
def split_by_time(transactions, *, test_fraction=0.2):
    shuffled = transactions.sample(frac=1.0, random_state=0)
    n_test = int(len(shuffled) * test_fraction)
    return shuffled.iloc[n_test:], shuffled.iloc[:n_test]
''',
    # sorts, but cuts by position so ties straddle the boundary
    "positional_cut": '''#| export
import math
def split_by_time(transactions, *, test_fraction=0.2):
    if not 0 < test_fraction < 1:
        raise ValueError(test_fraction)
    ordered = transactions.sort_values("timestamp")
    n_test = math.ceil(len(ordered) * test_fraction)
    return ordered.iloc[: len(ordered) - n_test], ordered.iloc[len(ordered) - n_test :]
''',
    # swallows bad input: silently drops NaT and clamps the fraction
    "swallows_errors": '''#| export
def split_by_time(transactions, *, test_fraction=0.2):
    test_fraction = min(max(test_fraction, 0.01), 0.99)
    ordered = transactions.dropna(subset=["timestamp"]).sort_values("timestamp") if "timestamp" in transactions else transactions
    if len(ordered) == 0:
        return ordered, ordered
    cutoff = ordered["timestamp"].quantile(1 - test_fraction)
    return ordered[ordered["timestamp"] < cutoff], ordered[ordered["timestamp"] >= cutoff]
''',
}


def answer(root: Path, code: str) -> None:
    path = root / NOTEBOOK
    nb = read_notebook(path)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "split_by_time")
    cell.source = code
    write_notebook(nb, path)


def test_reference_solution_scores_full_marks_and_exits_0(
    repo_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_copy()
    solution = read_notebook(root / "solutions/assignments/00-start-here/split-by-time.ipynb")
    code = next(c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "split_by_time")
    answer(root, re.sub(r"\s*### (BEGIN|END) SOLUTION", "", code))
    report = self_grade(load_course(root), "00")
    assert report.score == 8 and report.manual_points == 2 and report.passed
    assert (report.autograded_score, report.autograded_max) == (8, 8)
    assert all(t.status in ("passed", "manual") for r in report.notebooks for t in r.tests)
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(["grade", "--self", "00"]) == 0
    assert "Score: 8/8 autograded (+2 points of written answers, graded by hand)" in capsys.readouterr().out


SYNTAX_ERROR = """#| export
def split_by_time(transactions, *, test_fraction=0.2):
    ordered = transactions.sort_values("timestamp"
    return ordered, ordered
"""

RUNTIME_ERROR = """#| export
def split_by_time(transactions, *, test_fraction=0.2):
    if not 0 < test_fraction < 1:
        raise ValueError(test_fraction)
    ordered = transactions.sort_values("ts")
    return ordered, ordered
"""


def test_a_syntax_error_in_the_answer_is_shown_first_with_its_cell_and_line(repo_copy: Callable[[], Path]) -> None:
    """Does the learner see the SyntaxError itself, not a NameError in every test?"""
    root = repo_copy()
    answer(root, SYNTAX_ERROR)
    report = self_grade(load_course(root), "00")
    (nb,) = report.notebooks
    assert nb.answer_errors and re.match(
        r"SyntaxError: .* at line 3 of your answer cell split_by_time: ordered = transactions.sort_values", nb.answer_errors[0]
    ), nb.answer_errors
    text = render_report(report)
    assert text.index("SyntaxError") < text.index("FAIL"), text


def test_a_runtime_error_in_the_learners_function_shows_the_line_that_raised(repo_copy: Callable[[], Path]) -> None:
    """Does a KeyError raised inside the learner's function point at the learner's line?"""
    root = repo_copy()
    answer(root, RUNTIME_ERROR)
    report = self_grade(load_course(root), "00")
    failed = [t for r in report.notebooks for t in r.tests if t.status == "failed"]
    visible = next(t for t in failed if t.grade_id == "test_split_by_time_visible")
    assert visible.reason.startswith("KeyError: 'ts'")
    assert visible.where == 'line 5 of your answer cell split_by_time: ordered = transactions.sort_values("ts")'
    assert 'raised at line 5 of your answer cell split_by_time' in render_report(report)


def test_a_correct_solution_written_differently_passes(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    answer(root, CORRECT_BUT_DIFFERENT)
    report = self_grade(load_course(root), "00-start-here")
    failures = [(t.grade_id, t.reason) for r in report.notebooks for t in r.tests if t.status == "failed"]
    assert failures == [] and report.score == 8


@pytest.mark.parametrize("name", sorted(WRONG_ANSWERS))
def test_plausible_wrong_answers_lose_points_with_a_reason(repo_copy: Callable[[], Path], name: str) -> None:
    """Do the hidden tests catch the mistakes the visible ones let through?"""
    root = repo_copy()
    answer(root, WRONG_ANSWERS[name])
    report = self_grade(load_course(root), "00")
    assert report.score < 8
    failed = [t for r in report.notebooks for t in r.tests if t.status == "failed"]
    assert failed and all(t.reason for t in failed)


def test_not_started_is_told_so_not_a_traceback(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    with pytest.raises(GradingError, match=r"you have not started 00-start-here yet: open assignments/00-start-here/split-by-time.ipynb"):
        self_grade(load_course(root), "00")


def test_cli_prints_one_row_per_test_and_records_progress(
    repo_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_copy()
    answer(root, WRONG_ANSWERS["positional_cut"])
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(["export", NOTEBOOK]) == 0
    assert "def split_by_time" in (root / "src/fraudguard/splits.py").read_text(encoding="utf-8")
    assert main(["grade", "--self", "00"]) == 1  # a failed test: scripts can tell
    captured = capsys.readouterr()
    out = captured.out
    # signs of life while it runs (stderr is not a terminal here: one line per stage)
    assert "split-by-time.ipynb: starting a sandboxed kernel" in captured.err
    assert "split-by-time.ipynb: kernel ready, running your cells" in captured.err
    assert re.search(r"split-by-time.ipynb: ran (\d+)/\1 cells", captured.err), captured.err
    assert re.search(r"PASS\s+test_split_by_time_visible\s+2/2", out)
    assert re.search(r"FAIL\s+test_split_by_time_edge_cases\s+0/3\s+AssertionError: rows sharing the cut-off", out)
    assert re.search(r"----\s+leakage_explained\s+\?/2\s+graded by hand", out)
    assert "Score: 2/8 autograded (+2 points of written answers, graded by hand)" in out
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert re.search(r"00-start-here .* 1/1 .* 2/8 auto \+ 2 by hand", status)
