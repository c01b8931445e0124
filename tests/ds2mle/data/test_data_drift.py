"""Tests for ds2mle.data.drift: each scenario moves its statistic, and only when asked."""

from __future__ import annotations

import pandas as pd
import pytest

from ds2mle.data import DRIFT_SCENARIOS, fraud_patterns, generate_transactions
from ds2mle.errors import DataError

N = 30_000
SEED = 4
NAMES = sorted(DRIFT_SCENARIOS)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return generate_transactions(n_rows=N, seed=SEED)


def test_catalogue_has_the_documented_scenarios() -> None:
    """Are the four public scenario names there, each with a one-line story and statistic?"""
    assert {"merchant_mix", "amount_inflation", "fraud_pattern_shift", "holiday_season"} <= set(NAMES)
    for name, scenario in DRIFT_SCENARIOS.items():
        assert scenario.name == name
        assert scenario.kind in {"covariate", "concept", "seasonal"}
        assert "\n" not in scenario.description
        assert str(scenario.statistic) == scenario.statistic.description
        assert scenario.statistic.direction in {"up", "down"}


@pytest.mark.parametrize("name", NAMES)
def test_scenario_moves_its_statistic_in_the_stated_direction(clean: pd.DataFrame, name: str) -> None:
    """Does the drifted batch move the scenario's statistic by at least 20% the stated way?"""
    scenario = DRIFT_SCENARIOS[name]
    before = scenario.statistic(clean)
    after = scenario.statistic(generate_transactions(n_rows=N, seed=SEED, drift=name))
    if scenario.statistic.direction == "up":
        assert after > 1.2 * before, (before, after)
    else:
        assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("name", NAMES)
def test_zero_strength_is_no_drift(clean: pd.DataFrame, name: str) -> None:
    """Is drift_strength=0 exactly the clean batch?"""
    pd.testing.assert_frame_equal(
        generate_transactions(n_rows=N, seed=SEED, drift=name, drift_strength=0.0), clean
    )


@pytest.mark.parametrize("name", NAMES)
def test_stronger_drift_moves_the_statistic_further(name: str) -> None:
    """Does strength 2 move the statistic further than strength 0.5?"""
    scenario = DRIFT_SCENARIOS[name]
    weak = scenario.statistic(generate_transactions(n_rows=N, seed=SEED, drift=name, drift_strength=0.5))
    strong = scenario.statistic(generate_transactions(n_rows=N, seed=SEED, drift=name, drift_strength=2.0))
    assert (strong > weak) if scenario.statistic.direction == "up" else (strong < weak)


def test_amount_inflation_scales_amounts_by_a_quarter(clean: pd.DataFrame) -> None:
    """Are amounts about 25% higher and everything else the same?"""
    drifted = generate_transactions(n_rows=N, seed=SEED, drift="amount_inflation")
    legit = clean["is_fraud"] == 0
    ratio = (drifted["amount_cents"] / clean["amount_cents"])[legit]
    assert ratio.median() == pytest.approx(1.25, abs=0.01)
    assert drifted["merchant_id"].equals(clean["merchant_id"])


def test_holiday_season_packs_more_transactions_into_each_day(clean: pd.DataFrame) -> None:
    """With days=None, do the same rows fit into fewer days (more volume per day)?"""
    drifted = generate_transactions(n_rows=N, seed=SEED, drift="holiday_season")
    def span(df):
        return (df["timestamp"].max() - df["timestamp"].min()).days
    assert span(drifted) < 0.8 * span(clean)
    def evening(df):
        return df["timestamp"].dt.hour.between(16, 21).mean()
    assert evening(drifted) > evening(clean)


def test_fraud_pattern_shift_moves_fraud_to_app_takeover_at_home() -> None:
    """Does concept drift replace the old fraud signals while keeping fraud rare?"""
    drifted = generate_transactions(n_rows=N, seed=SEED, drift="fraud_pattern_shift")
    clean = generate_transactions(n_rows=N, seed=SEED)
    patterns = fraud_patterns(n_rows=N, seed=SEED, drift="fraud_pattern_shift")
    assert (patterns == "app_takeover").sum() > 0.5 * drifted["is_fraud"].sum()
    assert 0.005 <= drifted["is_fraud"].mean() <= 0.02

    def abroad_share(df: pd.DataFrame) -> float:
        fraud = df[df["is_fraud"] == 1]
        return float((fraud["merchant_country"] != fraud["customer_country"]).mean())

    assert abroad_share(drifted) < 0.7 * abroad_share(clean)


def test_merchant_mix_shifts_traffic_online(clean: pd.DataFrame) -> None:
    drifted = generate_transactions(n_rows=N, seed=SEED, drift="merchant_mix")
    def online(df):
        return (df["channel"] != "in_store").mean()
    assert online(drifted) > online(clean) + 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"drift": "brexit"}, r"Unknown drift scenario 'brexit'. Expected one of: amount_inflation, "),
        (
            {"drift": "merchant_mix", "drift_strength": -0.5},
            r"drift_strength was -0.5; expected a finite number >= 0",
        ),
        ({"drift": "merchant_mix", "drift_strength": float("nan")}, r"expected a finite number >= 0"),
    ],
)
def test_bad_drift_arguments_raise_data_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        generate_transactions(n_rows=100, **kwargs)  # type: ignore[arg-type]
