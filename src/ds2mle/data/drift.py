"""Drift scenarios: named, documented ways in which Paylane's traffic changes.

A scenario is applied *while* generating, through
``generate_transactions(..., drift=NAME, drift_strength=S)``. It bends the
simulator's knobs (:class:`SimulationKnobs`) for the whole generated window,
so a drifted batch and a clean batch made with the same seed differ only in
what the scenario moves. ``drift_strength=0`` gives the clean batch back.

Every scenario names one statistic it moves and knows how to compute it::

    >>> from ds2mle.data import DRIFT_SCENARIOS
    >>> scenario = DRIFT_SCENARIOS["merchant_mix"]
    >>> scenario.statistic.description
    'share of transactions with merchant_category == "digital_goods"'
    >>> scenario.statistic.direction
    'up'

``scenario.statistic(df)`` returns that number for a DataFrame, so a lesson
(or a test) can check that the statistic moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

import pandas as pd

__all__ = [
    "DRIFT_SCENARIOS",
    "DriftScenario",
    "SimulationKnobs",
    "Statistic",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationKnobs:
    """The dials of the simulator that drift scenarios turn.

    The defaults describe Paylane's normal traffic. A scenario returns a
    modified copy; :func:`ds2mle.data.generate_transactions` reads it.

    Attributes
    ----------
    category_weights : mapping of str to float
        Multiplier on the base popularity of a merchant category; categories
        not listed keep 1.0.
    online_odds : float
        Multiplier on the odds of the ``online`` and ``mobile_app`` channels
        against ``in_store``.
    amount_factor : float
        Multiplier on every amount (price level).
    evening_boost : float
        Extra weight on local hours 17:00-22:59 (0 = none, 1 = doubled).
    weekend_boost : float
        Extra weight on Saturdays and Sundays (0 = none, 1 = doubled).
    volume_factor : float
        Multiplier on the number of transactions per day. It only acts when
        ``days`` is left to its default: the same ``n_rows`` then fit into
        fewer days.
    new_pattern_share : float
        Share of the fraud budget moved to the ``app_takeover`` pattern
        (mobile-app account takeover with normal-looking amounts).
    """

    category_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    online_odds: float = 1.0
    amount_factor: float = 1.0
    evening_boost: float = 0.0
    weekend_boost: float = 0.0
    volume_factor: float = 1.0
    new_pattern_share: float = 0.0


@dataclass(frozen=True)
class Statistic:
    """A number that a drift scenario moves, with the function that computes it.

    Calling the object computes the statistic: ``statistic(df) -> float``.

    Attributes
    ----------
    description : str
        One line: what is measured.
    compute : callable
        ``compute(df) -> float`` on a DataFrame with the simulator's columns.
    direction : {"up", "down"}
        Which way the scenario moves it when ``drift_strength > 0``.
    """

    description: str
    compute: Callable[[pd.DataFrame], float]
    direction: Literal["up", "down"]

    def __call__(self, df: pd.DataFrame) -> float:
        """Compute the statistic on ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            Transactions with the simulator's columns.

        Returns
        -------
        float
            The statistic; ``nan`` when it is undefined (e.g. no fraud rows).
        """
        return self.compute(df)

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class DriftScenario:
    """A named change in Paylane's traffic.

    Attributes
    ----------
    name : str
        Key in :data:`DRIFT_SCENARIOS` and value of ``drift=``.
    kind : {"covariate", "concept", "seasonal"}
        What kind of drift it is, in the monitoring vocabulary.
    description : str
        One line: the story behind the change.
    statistic : Statistic
        What moves; ``scenario.statistic(df)`` computes it.
    adjust : callable
        ``adjust(knobs, strength) -> knobs``: how the scenario bends the
        simulator. ``strength=0`` must return ``knobs`` unchanged.
    """

    name: str
    kind: Literal["covariate", "concept", "seasonal"]
    description: str
    statistic: Statistic
    adjust: Callable[[SimulationKnobs, float], SimulationKnobs]


def _share(mask: pd.Series) -> float:
    """Fraction of True values of a boolean Series, ``nan`` when it is empty."""
    if len(mask) == 0:
        return float("nan")
    return float(mask.fillna(False).astype(bool).mean())


def _digital_goods_share(df: pd.DataFrame) -> float:
    return _share(df["merchant_category"] == "digital_goods")


def _median_amount(df: pd.DataFrame) -> float:
    if len(df) == 0:
        return float("nan")
    return float(pd.to_numeric(df["amount_cents"]).median())


def _fraud_mobile_app_share(df: pd.DataFrame) -> float:
    fraud = df[df["is_fraud"] == 1]
    return _share(fraud["channel"] == "mobile_app")


def _travel_electronics_share(df: pd.DataFrame) -> float:
    return _share(df["merchant_category"].isin(["travel", "electronics"]))


def _scaled(weights: Mapping[str, float], extra: Mapping[str, float], strength: float) -> Mapping[str, float]:
    """Multiply category weights by ``1 + extra * strength`` (or divide when extra < 0)."""
    out = dict(weights)
    for category, amount in extra.items():
        factor = 1.0 + abs(amount) * strength
        out[category] = out.get(category, 1.0) * (factor if amount >= 0 else 1.0 / factor)
    return MappingProxyType(out)


def _adjust_merchant_mix(knobs: SimulationKnobs, strength: float) -> SimulationKnobs:
    extra = {"digital_goods": 2.0, "electronics": 0.5, "gambling": 0.5, "grocery": -0.4, "fuel": -0.4}
    return replace(
        knobs,
        category_weights=_scaled(knobs.category_weights, extra, strength),
        online_odds=knobs.online_odds * (1.0 + 1.0 * strength),
    )


def _adjust_amount_inflation(knobs: SimulationKnobs, strength: float) -> SimulationKnobs:
    return replace(knobs, amount_factor=knobs.amount_factor * (1.0 + 0.25 * strength))


def _adjust_fraud_pattern_shift(knobs: SimulationKnobs, strength: float) -> SimulationKnobs:
    share = min(0.9, knobs.new_pattern_share + 0.7 * strength)
    return replace(knobs, new_pattern_share=share)


def _adjust_holiday_season(knobs: SimulationKnobs, strength: float) -> SimulationKnobs:
    extra = {"travel": 1.2, "electronics": 1.0, "fashion": 0.6, "restaurants": 0.2, "transport": -0.3}
    return replace(
        knobs,
        category_weights=_scaled(knobs.category_weights, extra, strength),
        evening_boost=knobs.evening_boost + 0.6 * strength,
        weekend_boost=knobs.weekend_boost + 0.4 * strength,
        volume_factor=knobs.volume_factor * (1.0 + 0.5 * strength),
    )


DRIFT_SCENARIOS: Mapping[str, DriftScenario] = MappingProxyType(
    {
        "merchant_mix": DriftScenario(
            name="merchant_mix",
            kind="covariate",
            description=(
                "A marketing deal with app stores and game platforms: far more digital_goods, "
                "more online and in-app payments, less grocery and fuel."
            ),
            statistic=Statistic(
                'share of transactions with merchant_category == "digital_goods"',
                _digital_goods_share,
                "up",
            ),
            adjust=_adjust_merchant_mix,
        ),
        "amount_inflation": DriftScenario(
            name="amount_inflation",
            kind="covariate",
            description="Price inflation: every amount is about 25% x strength higher; the mix is unchanged.",
            statistic=Statistic("median amount_cents", _median_amount, "up"),
            adjust=_adjust_amount_inflation,
        ),
        "fraud_pattern_shift": DriftScenario(
            name="fraud_pattern_shift",
            kind="concept",
            description=(
                "Fraudsters move to mobile-app account takeover at home with normal-looking amounts, "
                "so 'abroad, new channel, big amount' stops flagging most fraud."
            ),
            statistic=Statistic(
                'share of fraud rows (is_fraud == 1) with channel == "mobile_app"',
                _fraud_mobile_app_share,
                "up",
            ),
            adjust=_adjust_fraud_pattern_shift,
        ),
        "holiday_season": DriftScenario(
            name="holiday_season",
            kind="seasonal",
            description=(
                "The holiday season: more transactions per day, more travel, electronics and fashion, "
                "more evening and weekend shopping."
            ),
            statistic=Statistic(
                'share of transactions with merchant_category in ("travel", "electronics")',
                _travel_electronics_share,
                "up",
            ),
            adjust=_adjust_holiday_season,
        ),
    }
)
"""Drift scenarios by name; pass the name as ``generate_transactions(drift=...)``."""
