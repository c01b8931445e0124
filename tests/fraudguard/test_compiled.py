"""fraudguard/compiled.py: the trees on Treelite's runtime give scikit-learn's scores, and refuse what they cannot do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import treelite
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier

from fraudguard.compiled import (
    CompileError,
    ScoresDifferError,
    check_same_scores,
    compile_classifier,
    latency_per_row,
    route_by_rows,
    sklearn_predictor,
)
from fraudguard.errors import ArtifactError, DataError, FraudguardError
from fraudguard.train import FraudModel, load_model

Matrix = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def features(model: FraudModel, month: pd.DataFrame) -> Matrix:
    """The model's feature matrix for the last 3,000 transactions of the month, each with its real past."""
    matrix: Matrix = model.pipeline[0].transform(month.sort_values("timestamp", kind="stable"))[-3_000:]
    return matrix


@pytest.fixture(scope="module")
def classifier(model: FraudModel) -> HistGradientBoostingClassifier:
    fitted: HistGradientBoostingClassifier = model.pipeline[-1]
    return fitted


def test_compiled_scores_equal_scikit_learn_on_real_rows(classifier: HistGradientBoostingClassifier, features: Matrix) -> None:
    compiled = compile_classifier(classifier)
    scores = compiled(features)
    assert scores.shape == (len(features),) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, classifier.predict_proba(features)[:, 1], rtol=0, atol=1e-9)
    assert check_same_scores(sklearn_predictor(classifier), compiled, features) <= 1e-9


def test_compiled_scores_equal_at_split_thresholds_and_with_missing_values(
    classifier: HistGradientBoostingClassifier, features: Matrix
) -> None:
    """Do both runtimes send a value exactly at a threshold, and a NaN, the same way down each tree?"""
    trees = json.loads(treelite.sklearn.import_model(classifier).dump_as_json())["trees"]
    splits = sorted({(n["split_feature_id"], n["threshold"]) for t in trees for n in t["nodes"] if "threshold" in n})
    rows = features[np.arange(len(splits)) % len(features)].copy()
    above = rows.copy()
    for i, (feature, threshold) in enumerate(splits):
        rows[i, feature] = threshold
        above[i, feature] = np.nextafter(threshold, np.inf)
    gaps = features[:500].copy()
    gaps[np.arange(500), np.arange(500) % gaps.shape[1]] = np.nan
    compiled, reference = compile_classifier(classifier), sklearn_predictor(classifier)
    for matrix in (rows, above, gaps):
        assert check_same_scores(reference, compiled, matrix) <= 1e-9


def test_compiled_predictor_handles_one_row_and_no_rows(classifier: HistGradientBoostingClassifier, features: Matrix) -> None:
    compiled = compile_classifier(classifier)
    one = compiled(features[:1])
    assert one.shape == (1,)
    assert one[0] == pytest.approx(classifier.predict_proba(features[:1])[0, 1], abs=1e-12)
    assert compiled(features[:0]).shape == (0,)
    assert compiled(features[:5].astype(np.float32)).shape == (5,)  # any float dtype is converted


@pytest.mark.parametrize("shape", ["extra columns", "fewer columns", "one-dimensional"])
def test_compiled_predictor_refuses_a_matrix_of_the_wrong_shape(
    classifier: HistGradientBoostingClassifier, features: Matrix, shape: str
) -> None:
    """Treelite would read a 29-column matrix 27 numbers at a time: is it refused instead?"""
    bad = {
        "extra columns": np.c_[features[:10], features[:10, :2]],
        "fewer columns": features[:10, :-1],
        "one-dimensional": features[0],
    }[shape]
    with pytest.raises(DataError, match=f"{classifier.n_features_in_} features"):
        compile_classifier(classifier)(bad)


def _refused(thing: Any, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        compile_classifier(thing)


def test_compile_refuses_a_multiclass_classifier(features: Matrix) -> None:
    three = HistGradientBoostingClassifier(max_iter=3).fit(features[:300], np.arange(300) % 3)
    _refused(three, "binary.*3 classes")


def test_compile_refuses_other_models(features: Matrix) -> None:
    _refused(HistGradientBoostingRegressor(max_iter=3).fit(features[:300], np.arange(300.0)), "HistGradientBoostingRegressor")
    _refused(RandomForestClassifier(n_estimators=2).fit(features[:300], np.arange(300) % 2), "RandomForestClassifier")


def test_compile_refuses_a_whole_pipeline_and_says_what_to_pass(model: FraudModel) -> None:
    _refused(model.pipeline, r"pipeline\[-1\]")


def test_compile_refuses_an_unfitted_classifier() -> None:
    _refused(HistGradientBoostingClassifier(), "not fitted")


def test_errors_belong_to_fraudguards_hierarchy() -> None:
    assert issubclass(CompileError, ArtifactError) and issubclass(ScoresDifferError, ArtifactError)
    assert issubclass(CompileError, FraudguardError)


def _first(x: Matrix) -> Matrix:
    return x[:, 0]


@pytest.mark.parametrize(
    ("candidate", "match"),
    [
        (lambda x: 1 - x[:, 0], "differ by up to"),  # the other column of predict_proba
        (lambda x: x[:, 0] + np.where(np.arange(len(x)) == 7, 1e-6, 0.0), "row 7"),  # one row off: a mean hides it
        (lambda x: np.where(np.arange(len(x)) == 3, np.nan, x[:, 0]), "NaN"),  # nan > tolerance is False
        (lambda x: x[:-1, 0], "shape"),
    ],
    ids=["wrong column", "one row off", "a NaN score", "one score fewer"],
)
def test_check_same_scores_refuses_a_candidate_that_differs(candidate: Any, match: str) -> None:
    probabilities = np.random.default_rng(0).random((300, 2))
    with pytest.raises(ScoresDifferError, match=match):
        check_same_scores(_first, candidate, probabilities)


def test_check_same_scores_returns_the_largest_difference_and_honours_the_tolerance() -> None:
    probabilities = np.random.default_rng(1).random((300, 1))

    def one_row_off(x: Matrix) -> Matrix:
        return x[:, 0] + np.where(np.arange(len(x)) == 7, 1e-6, 0.0)

    assert check_same_scores(_first, one_row_off, probabilities, tolerance=1e-5) == pytest.approx(1e-6, rel=1e-6)
    with pytest.raises(ScoresDifferError, match="tolerance is 1e-07"):
        check_same_scores(_first, one_row_off, probabilities, tolerance=1e-7)
    assert check_same_scores(_first, _first, probabilities) == 0.0
    assert check_same_scores(_first, _first, np.zeros((0, 1))) == 0.0
    with pytest.raises(ValueError, match="tolerance"):
        check_same_scores(_first, _first, probabilities, tolerance=-1)


class _FakeClock:
    """Seconds that move only when a fake predictor says it worked."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_latency_per_row_keeps_the_median_and_times_predictors_in_turn() -> None:
    clock, calls = _FakeClock(), []

    def slow(x: Matrix) -> Matrix:  # 100 µs + 10 µs per row, and one pause of a second
        calls.append(("slow", len(x)))
        clock.now += 100e-6 + 10e-6 * len(x) + (1.0 if calls.count(("slow", 1)) == 4 else 0.0)
        return np.zeros(len(x))

    def fast(x: Matrix) -> Matrix:
        calls.append(("fast", len(x)))
        clock.now += 20e-6 + 5e-6 * len(x)
        return np.zeros(len(x))

    table = latency_per_row({"slow": slow, "fast": fast}, np.zeros((50, 2)), batch_sizes=(1, 10), repeats=5, clock=clock)
    assert list(table.columns) == ["predictor", "rows", "us_per_call", "us_per_row"]
    assert table["predictor"].tolist() == ["slow", "fast", "slow", "fast"] and table["rows"].tolist() == [1, 1, 10, 10]
    np.testing.assert_allclose(table["us_per_call"], [110, 25, 200, 70])
    np.testing.assert_allclose(table["us_per_row"], [110, 25, 20, 7])
    assert [name for name, _ in calls[:8]] == ["slow", "slow", "fast", "fast"] * 2  # warm-up, timed, in turn
    assert len(calls) == 40 and {n for _, n in calls[20:]} == {10}


def test_latency_per_row_does_not_time_the_warm_up() -> None:
    clock, made = _FakeClock(), []

    def cold_then_warm(x: Matrix) -> Matrix:
        made.append(len(x))
        clock.now += 1.0 if len(made) <= 2 else 1e-6
        return np.zeros(len(x))

    table = latency_per_row({"cold": cold_then_warm}, np.zeros((5, 1)), batch_sizes=(1,), repeats=1, warmup=2, clock=clock)
    assert table["us_per_call"].iloc[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "options", [{"batch_sizes": (0,)}, {"batch_sizes": (51,)}, {"batch_sizes": (1,), "repeats": 0}], ids=str
)
def test_latency_per_row_refuses_impossible_measurements(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        latency_per_row({"first": _first}, np.zeros((50, 1)), **options)
    with pytest.raises(ValueError, match="at least one predictor"):
        latency_per_row({}, np.zeros((50, 1)))


def test_latency_per_row_measures_real_predictors(classifier: HistGradientBoostingClassifier, features: Matrix) -> None:
    table = latency_per_row(
        {"scikit-learn": sklearn_predictor(classifier), "compiled": compile_classifier(classifier)},
        features,
        batch_sizes=(1, 32),
        repeats=3,
    )
    assert len(table) == 4 and (table["us_per_call"] > 0).all()


def test_route_by_rows_sends_small_batches_to_small_and_large_to_large() -> None:
    seen: list[tuple[str, int]] = []

    def small(x: Matrix) -> Matrix:
        seen.append(("small", len(x)))
        return np.zeros(len(x))

    def large(x: Matrix) -> Matrix:
        seen.append(("large", len(x)))
        return np.ones(len(x))

    routed = route_by_rows(small, large, max_small_rows=16)
    for n in (0, 1, 16, 17, 400):
        routed(np.zeros((n, 2)))
    assert seen == [("small", 0), ("small", 1), ("small", 16), ("large", 17), ("large", 400)]
    with pytest.raises(ValueError, match="max_small_rows"):
        route_by_rows(small, large, max_small_rows=-1)


def test_a_routed_compiled_model_gives_scikit_learns_scores(classifier: HistGradientBoostingClassifier, features: Matrix) -> None:
    reference = sklearn_predictor(classifier)
    routed = route_by_rows(compile_classifier(classifier), reference, max_small_rows=64)
    for rows in (1, 64, 65, 1_000):
        assert check_same_scores(reference, routed, features[:rows]) <= 1e-9
