"""The seeded Paylane transaction generator.

:func:`generate_transactions` builds a small world (customers with cards and
habits, merchants in categories and countries), lets the customers shop on a
daily and weekly rhythm, and adds fraud from four separate mechanisms (a
fifth, ``app_takeover``, appears under the ``fraud_pattern_shift`` drift). The
column reference, the fraud patterns and the label timing are documented in
``docs/paylane-data.md``.

Everything is vectorised with NumPy and driven by one
``numpy.random.default_rng(seed)`` stream (split into independent child
streams for the world, the fraud and the legitimate traffic), so the same
arguments always give the same DataFrame with a given NumPy version.

Examples
--------
>>> from ds2mle.data import generate_transactions
>>> df = generate_transactions(n_rows=2_000, seed=7)
>>> len(df), df["timestamp"].is_monotonic_increasing
(2000, True)
>>> df["transaction_id"].iloc[0]
'tx_000000000'
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ds2mle.data.drift import DRIFT_SCENARIOS, SimulationKnobs
from ds2mle.errors import DataError

__all__ = [
    "CHANNEL_DEVICES",
    "COLUMNS",
    "COLUMN_DTYPES",
    "CURRENCY_BY_COUNTRY",
    "FRAUD_PATTERNS",
    "MERCHANT_CATEGORIES",
    "STRING_DTYPE",
    "UTC_OFFSET_HOURS",
    "default_days",
    "fraud_patterns",
    "generate_transactions",
    "read_transactions",
    "write_parquet",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# --------------------------------------------------------------------------- schema

COLUMNS: Final[tuple[str, ...]] = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "card_id",
    "merchant_id",
    "merchant_category",
    "merchant_country",
    "amount_cents",
    "currency",
    "channel",
    "device",
    "customer_country",
    "is_fraud",
    "label_available_at",
)
"""The columns of a clean batch, in order."""


def _string_dtype() -> pd.StringDtype[Any]:
    """pandas 3's default ``str`` dtype: pyarrow-backed, missing values are NaN.

    pandas 2.2 spells the same dtype ``StringDtype("pyarrow_numpy")``.
    """
    try:
        dtype: pd.StringDtype[Any] = pd.StringDtype("pyarrow", na_value=np.nan)
    except TypeError:  # pandas < 2.3
        dtype = pd.StringDtype("pyarrow_numpy")  # type: ignore[call-overload,unused-ignore]
    return dtype


STRING_DTYPE: Final[pd.StringDtype[Any]] = _string_dtype()
"""Every text column uses pandas 3's default string dtype (``str``; pyarrow-backed, missing = NaN)."""

_TIMESTAMP_DTYPE: Final = pd.DatetimeTZDtype("ns", "UTC")

COLUMN_DTYPES: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        "transaction_id": STRING_DTYPE,
        "timestamp": _TIMESTAMP_DTYPE,
        "customer_id": STRING_DTYPE,
        "card_id": STRING_DTYPE,
        "merchant_id": STRING_DTYPE,
        "merchant_category": STRING_DTYPE,
        "merchant_country": STRING_DTYPE,
        "amount_cents": np.dtype("int64"),
        "currency": STRING_DTYPE,
        "channel": STRING_DTYPE,
        "device": STRING_DTYPE,
        "customer_country": STRING_DTYPE,
        "is_fraud": np.dtype("int8"),
        "label_available_at": _TIMESTAMP_DTYPE,
    }
)
"""The pandas dtype of each column (``df.astype(dict(COLUMN_DTYPES))`` restores them)."""

MERCHANT_CATEGORIES: Final[tuple[str, ...]] = (
    "grocery",
    "fuel",
    "restaurants",
    "travel",
    "electronics",
    "digital_goods",
    "gambling",
    "fashion",
    "pharmacy",
    "transport",
)
"""The fixed list of merchant categories."""

CHANNELS: Final[tuple[str, ...]] = ("in_store", "online", "mobile_app")
DEVICES: Final[tuple[str, ...]] = (
    "chip",
    "contactless",
    "swipe",
    "desktop_web",
    "mobile_web",
    "ios",
    "android",
)
CHANNEL_DEVICES: Final[MappingProxyType[str, tuple[str, ...]]] = MappingProxyType(
    {
        "in_store": ("chip", "contactless", "swipe"),
        "online": ("desktop_web", "mobile_web"),
        "mobile_app": ("ios", "android"),
    }
)
"""The devices each channel can report."""

FRAUD_PATTERNS: Final[tuple[str, ...]] = (
    "none",
    "card_testing",
    "account_takeover",
    "high_risk_merchant",
    "stolen_card",
    "app_takeover",
)
"""Ground-truth mechanism behind a row; see :func:`fraud_patterns`. ``none`` = legitimate."""

# code, currency, standard UTC offset (h), share of customers living there, EUR -> currency rate
_COUNTRY_TABLE: Final[tuple[tuple[str, str, int, float, float], ...]] = (
    ("PL", "PLN", 1, 0.22, 4.30),
    ("DE", "EUR", 1, 0.18, 1.00),
    ("FR", "EUR", 1, 0.14, 1.00),
    ("ES", "EUR", 1, 0.10, 1.00),
    ("IT", "EUR", 1, 0.10, 1.00),
    ("NL", "EUR", 1, 0.08, 1.00),
    ("GB", "GBP", 0, 0.10, 0.85),
    ("SE", "SEK", 1, 0.05, 11.20),
    ("IE", "EUR", 0, 0.03, 1.00),
    ("US", "USD", -5, 0.0, 1.08),
    ("CH", "CHF", 1, 0.0, 0.95),
    ("NO", "NOK", 1, 0.0, 11.50),
    ("MT", "EUR", 1, 0.0, 1.00),
    ("CY", "EUR", 2, 0.0, 1.00),
)
_COUNTRIES: Final[tuple[str, ...]] = tuple(row[0] for row in _COUNTRY_TABLE)
_CURRENCIES: Final[tuple[str, ...]] = tuple(sorted({row[1] for row in _COUNTRY_TABLE}))

CURRENCY_BY_COUNTRY: Final[MappingProxyType[str, str]] = MappingProxyType(
    {r[0]: r[1] for r in _COUNTRY_TABLE}
)
"""ISO-4217 currency of each merchant country (a transaction is in its merchant's currency)."""

UTC_OFFSET_HOURS: Final[MappingProxyType[str, int]] = MappingProxyType({r[0]: r[2] for r in _COUNTRY_TABLE})
"""Standard-time UTC offset of each country, in hours (daylight saving is ignored)."""

# --------------------------------------------------------------------------- world constants

_N_CAT = len(MERCHANT_CATEGORIES)
_N_COUNTRY = len(_COUNTRIES)
_CAT = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
_DEV = {name: i for i, name in enumerate(DEVICES)}
_IN_STORE, _ONLINE, _APP = 0, 1, 2

# per category: base share, median amount (EUR), lognormal sigma, P(in_store, online, mobile_app)
_CATEGORY_TABLE: Final[tuple[tuple[float, float, float, tuple[float, float, float]], ...]] = (
    (0.26, 28.0, 0.75, (0.90, 0.06, 0.04)),  # grocery
    (0.09, 55.0, 0.40, (0.97, 0.00, 0.03)),  # fuel
    (0.14, 24.0, 0.60, (0.80, 0.06, 0.14)),  # restaurants
    (0.04, 180.0, 0.90, (0.15, 0.60, 0.25)),  # travel
    (0.05, 120.0, 0.95, (0.50, 0.40, 0.10)),  # electronics
    (0.09, 9.0, 0.90, (0.00, 0.60, 0.40)),  # digital_goods
    (0.02, 25.0, 1.00, (0.10, 0.50, 0.40)),  # gambling
    (0.08, 55.0, 0.70, (0.60, 0.30, 0.10)),  # fashion
    (0.06, 16.0, 0.60, (0.92, 0.06, 0.02)),  # pharmacy
    (0.17, 3.5, 0.70, (0.60, 0.10, 0.30)),  # transport
)
_CAT_SHARE = np.array([r[0] for r in _CATEGORY_TABLE])
_CAT_MEDIAN = np.array([r[1] for r in _CATEGORY_TABLE])
_CAT_SIGMA = np.array([r[2] for r in _CATEGORY_TABLE])
_CAT_CHANNEL = np.array([r[3] for r in _CATEGORY_TABLE])

# relative weight of each local hour 00..23 (weekday); weekends start later and run later
_HOURS_WEEKDAY = np.array(
    [0.8, 0.45, 0.25, 0.15, 0.12, 0.2, 0.6, 1.6, 2.8, 3.2, 3.5, 4.2,
     5.6, 5.2, 4.0, 3.8, 4.2, 5.0, 5.8, 5.6, 4.6, 3.4, 2.2, 1.4]
)  # fmt: skip
_HOURS_WEEKEND = np.array(
    [1.2, 0.8, 0.45, 0.25, 0.15, 0.15, 0.25, 0.6, 1.3, 2.4, 3.6, 4.4,
     5.2, 5.2, 4.6, 4.3, 4.3, 4.8, 5.6, 5.8, 5.2, 4.2, 3.0, 2.0]
)  # fmt: skip
_EVENING = np.zeros(24)
_EVENING[17:23] = 1.0
# Monday..Sunday volume
_DOW_WEIGHT = np.array([0.93, 0.95, 0.97, 1.0, 1.12, 1.10, 0.85])
# category multipliers on weekends
_WEEKEND_CAT = np.array([1.05, 0.8, 1.45, 1.2, 1.1, 1.3, 1.4, 1.3, 0.7, 0.55])
_WEEKEND_ONLINE_ODDS = 1.25

_SECONDS_PER_DAY: Final[int] = 86_400
_NS: Final[int] = 1_000_000_000
_LEGIT_LABEL_DELAY_DAYS: Final[int] = 60
_FRAUD_RATE: Final[float] = 0.01
# share of the fraud budget per pattern (card_testing, account_takeover, high_risk_merchant, stolen_card)
_PATTERN_SHARE: Final[tuple[float, ...]] = (0.25, 0.30, 0.15, 0.30)
# an average customer pays about 0.8 times a day (all cards together)
_ROWS_PER_CUSTOMER_DAY: Final[float] = 0.8
_ROWS_PER_DAY: Final[int] = 2_000
_CONTACTLESS_LIMIT_EUR: Final[float] = 50.0


def _category_hour_multipliers() -> FloatArray:
    """Multiplier of each category's weight by local hour, shape (24, n_categories)."""
    m = np.ones((24, _N_CAT))
    m[[12, 13, 19, 20, 21], _CAT["restaurants"]] = 1.9
    m[[7, 8, 16, 17, 18], _CAT["transport"]] = 1.8
    m[[7, 8, 17, 18], _CAT["fuel"]] = 1.3
    m[[21, 22, 23, 0, 1], _CAT["gambling"]] = 1.8
    m[[20, 21, 22, 23, 0], _CAT["digital_goods"]] = 1.5
    m[[0, 1, 2, 3, 4, 5], _CAT["grocery"]] = 0.4
    return m


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class _Pools:
    """Merchants grouped by a key, ready for vectorised weighted sampling.

    ``cum`` is sorted; the merchants of key ``k`` occupy ``(k, k + 1]`` with
    spacing proportional to their popularity, so ``searchsorted(cum, k + u)``
    draws a merchant of key ``k`` for ``u`` uniform in [0, 1).
    """

    cum: FloatArray
    merchant: IntArray

    def draw(self, key: IntArray, u: FloatArray) -> IntArray:
        pos = np.searchsorted(self.cum, key + u, side="right")
        return np.asarray(self.merchant[np.minimum(pos, len(self.merchant) - 1)], dtype=np.int64)


def _make_pools(key: IntArray, weight: FloatArray) -> _Pools:
    order = np.lexsort((np.arange(len(key)), key))
    k, w = key[order], weight[order]
    csum = np.cumsum(w)
    starts = np.searchsorted(k, k, side="left")
    ends = np.searchsorted(k, k, side="right") - 1
    before = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0.0)
    within = (csum - before) / (csum[ends] - before)
    # the last merchant of each key gets exactly k + 1; clip the tiny float error
    within = np.clip(within, 1e-12, 1.0)
    return _Pools(cum=k + within, merchant=order.astype(np.int64))


@dataclass(frozen=True)
class _World:
    """Customers and merchants of one simulation (integer codes, no strings)."""

    cust_country: IntArray
    cust_level: FloatArray
    cust_activity_cum: FloatArray
    cust_pref: FloatArray  # (n_customers, n_categories), rows sum to 1
    cust_online: FloatArray
    cust_desktop: FloatArray  # P(desktop_web | online)
    cust_phone: IntArray  # device code of the customer's phone
    cust_ncards: IntArray
    cust_fav: IntArray  # (n_customers, n_categories, 2) favourite domestic merchants
    merch_cat: IntArray
    merch_country: IntArray
    merch_pop: FloatArray
    merch_high_risk: BoolArray
    by_cat_country: _Pools  # key = category * n_countries + country
    by_cat: _Pools  # key = category
    high_risk: _Pools  # key = 0
    fx: FloatArray = field(default_factory=lambda: np.array([r[4] for r in _COUNTRY_TABLE]))

    @property
    def n_customers(self) -> int:
        return len(self.cust_country)


def _build_world(rng: np.random.Generator, n_rows: int, span_days: int) -> _World:
    n_cust = max(20, math.ceil(n_rows / (span_days * _ROWS_PER_CUSTOMER_DAY)))
    n_home = sum(1 for r in _COUNTRY_TABLE if r[3] > 0)
    home_p = np.array([r[3] for r in _COUNTRY_TABLE[:n_home]])
    home_p = home_p / home_p.sum()

    cust_country = rng.choice(n_home, size=n_cust, p=home_p).astype(np.int64)
    cust_level = rng.lognormal(0.0, 0.45, n_cust)
    activity = rng.gamma(1.5, 1.0, n_cust)
    pref = rng.gamma(6.0 * _CAT_SHARE, 1.0, (n_cust, _N_CAT)) + 1e-6
    pref /= pref.sum(axis=1, keepdims=True)
    cust_online = rng.lognormal(0.0, 0.7, n_cust)
    cust_desktop = rng.beta(2.0, 2.0, n_cust)
    cust_phone = np.where(rng.random(n_cust) < 0.4, _DEV["ios"], _DEV["android"]).astype(np.int64)
    cust_ncards = 1 + rng.choice(3, size=n_cust, p=[0.6, 0.3, 0.1]).astype(np.int64)

    # merchants: one per (category, country) so every pool is non-empty, then random ones
    n_extra = max(60, min(6_000, n_rows // 150))
    merch_p = np.concatenate([home_p * 0.88, np.array([0.04, 0.025, 0.015, 0.025, 0.015])])
    merch_p /= merch_p.sum()
    base_cat = np.repeat(np.arange(_N_CAT), _N_COUNTRY)
    base_country = np.tile(np.arange(_N_COUNTRY), _N_CAT)
    extra_cat = rng.choice(_N_CAT, size=n_extra, p=_CAT_SHARE / _CAT_SHARE.sum())
    extra_country = rng.choice(_N_COUNTRY, size=n_extra, p=merch_p)
    # gambling licences cluster in Malta
    to_malta = (extra_cat == _CAT["gambling"]) & (rng.random(n_extra) < 0.3)
    extra_country = np.where(to_malta, _COUNTRIES.index("MT"), extra_country)
    merch_cat = np.concatenate([base_cat, extra_cat]).astype(np.int64)
    merch_country = np.concatenate([base_country, extra_country]).astype(np.int64)
    n_merch = len(merch_cat)
    merch_pop = rng.lognormal(0.0, 1.1, n_merch)
    # base merchants of a non-home country are small
    merch_pop[: _N_CAT * _N_COUNTRY] *= np.where(base_country < n_home, 1.0, 0.2)

    risky_candidates = np.flatnonzero(np.isin(merch_cat, [_CAT["digital_goods"], _CAT["gambling"]]))
    n_risky = max(3, round(0.06 * len(risky_candidates)))
    risky = rng.choice(risky_candidates, size=n_risky, replace=False)
    merch_high_risk = np.zeros(n_merch, dtype=bool)
    merch_high_risk[risky] = True
    merch_pop[risky] *= 2.5

    by_cat_country = _make_pools(merch_cat * _N_COUNTRY + merch_country, merch_pop)
    by_cat = _make_pools(merch_cat, merch_pop)
    high_risk = _make_pools(np.zeros(n_risky, dtype=np.int64), merch_pop[risky])
    high_risk = _Pools(cum=high_risk.cum, merchant=risky[high_risk.merchant].astype(np.int64))

    # two favourite domestic merchants per customer and category
    key = np.arange(_N_CAT)[None, :] * _N_COUNTRY + cust_country[:, None]  # (n_cust, n_cat)
    fav = by_cat_country.draw(
        np.repeat(key[:, :, None], 2, axis=2).ravel(), rng.random(n_cust * _N_CAT * 2)
    ).reshape(n_cust, _N_CAT, 2)

    activity_cum = np.cumsum(activity)
    return _World(
        cust_country=cust_country,
        cust_level=cust_level,
        cust_activity_cum=activity_cum / activity_cum[-1],
        cust_pref=pref,
        cust_online=cust_online,
        cust_desktop=cust_desktop,
        cust_phone=cust_phone,
        cust_ncards=cust_ncards,
        cust_fav=fav,
        merch_cat=merch_cat,
        merch_country=merch_country,
        merch_pop=merch_pop,
        merch_high_risk=merch_high_risk,
        by_cat_country=by_cat_country,
        by_cat=by_cat,
        high_risk=high_risk,
    )


# --------------------------------------------------------------------------- helpers


@dataclass
class _Rows:
    """Integer-coded transactions before they become a DataFrame."""

    ts: IntArray  # seconds since the window start
    customer: IntArray
    card: IntArray  # 1..3
    merchant: IntArray
    channel: IntArray
    device: IntArray
    amount: IntArray  # minor units of the merchant's currency
    label_ts: IntArray  # seconds since the window start
    pattern: IntArray  # index into FRAUD_PATTERNS

    def take(self, idx: IntArray | BoolArray) -> _Rows:
        return _Rows(**{k: v[idx] for k, v in vars(self).items()})

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        names = list(vars(parts[0]))
        return _Rows(**{k: np.concatenate([vars(p)[k] for p in parts]).astype(np.int64) for k in names})

    def __len__(self) -> int:
        return len(self.ts)


def _categorical(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One draw per row from row-wise probabilities (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    draws = np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)
    return np.asarray(draws, dtype=np.int64)


def _pick_card(rng: np.random.Generator, ncards: IntArray) -> IntArray:
    """Card number 1..n, favouring the first card."""
    u = rng.random(len(ncards))
    two = np.where(u < 0.75, 1, 2)
    three = np.where(u < 0.65, 1, np.where(u < 0.9, 2, 3))
    return np.where(ncards == 1, 1, np.where(ncards == 2, two, three)).astype(np.int64)


def _amount_minor(world: _World, merchant: IntArray, eur: FloatArray) -> IntArray:
    """Convert EUR amounts into integer minor units of each merchant's currency."""
    local = eur * world.fx[world.merch_country[merchant]]
    return np.maximum(1, np.rint(local * 100.0)).astype(np.int64)


def _in_store_device(
    rng: np.random.Generator, world: _World, merchant: IntArray, amount: IntArray
) -> IntArray:
    limit = _CONTACTLESS_LIMIT_EUR * 100.0 * world.fx[world.merch_country[merchant]]
    u = rng.random(len(amount))
    small = np.where(u < 0.8, _DEV["contactless"], np.where(u < 0.97, _DEV["chip"], _DEV["swipe"]))
    large = np.where(u < 0.95, _DEV["chip"], _DEV["swipe"])
    return np.where(amount <= limit, small, large).astype(np.int64)


def _foreign_merchant(
    rng: np.random.Generator, world: _World, cat: IntArray, home: IntArray, rounds: int = 8
) -> IntArray:
    """A merchant of category ``cat`` outside the ``home`` country (rejection sampling)."""
    merchant = world.by_cat.draw(cat, rng.random(len(cat)))
    for _ in range(rounds):
        again = world.merch_country[merchant] == home
        if not again.any():
            break
        merchant[again] = world.by_cat.draw(cat[again], rng.random(int(again.sum())))
    return merchant


# --------------------------------------------------------------------------- legitimate traffic


def _day_weights(start: pd.Timestamp, n_days: int, knobs: SimulationKnobs) -> tuple[FloatArray, BoolArray]:
    dow = (start.normalize().day_of_week + np.arange(n_days)) % 7
    weekend = dow >= 5
    w = _DOW_WEIGHT[dow] * np.where(weekend, 1.0 + knobs.weekend_boost, 1.0)
    return w, weekend


@dataclass(frozen=True)
class _Trips:
    """At most one trip abroad per customer inside the window (seconds since start)."""

    start: IntArray
    end: IntArray  # == start for customers who stay at home
    country: IntArray


def _trips(rng: np.random.Generator, world: _World, span_s: int) -> _Trips:
    n = world.n_customers
    travels = rng.random(n) < min(0.6, span_s / (150 * _SECONDS_PER_DAY))
    start = rng.integers(-5 * _SECONDS_PER_DAY, span_s, n)
    length = (2 + rng.poisson(4.0, n)) * _SECONDS_PER_DAY
    weights = np.array([0, 0.06, 0.16, 0.2, 0.2, 0.05, 0.1, 0, 0.02, 0.06, 0.04, 0.02, 0.04, 0.05])
    country = rng.choice(_N_COUNTRY, size=n, p=weights / weights.sum())
    # nobody travels "abroad" to their own country
    country = np.where(country == world.cust_country, _COUNTRIES.index("ES"), country)
    country = np.where(country == world.cust_country, _COUNTRIES.index("IT"), country)
    return _Trips(start=start, end=np.where(travels, start + length, start), country=country.astype(np.int64))


# on a trip: more restaurants, travel, transport; no fuel at home
_TRIP_CAT = np.array([0.6, 0.3, 2.0, 3.0, 0.8, 0.8, 0.5, 1.3, 0.6, 2.0])
# legitimate sessions: several payments at one merchant within minutes (in-game purchases, bets, tickets)
_SESSION_PROPENSITY = np.array([0.02, 0.0, 0.05, 0.02, 0.01, 0.3, 0.45, 0.02, 0.01, 0.12])
# legitimate errands: a few shops in a row, within an hour or two
_ERRAND_PROPENSITY = np.array([0.3, 0.15, 0.1, 0.0, 0.1, 0.0, 0.0, 0.25, 0.15, 0.0])
_ERRAND_NEXT = np.array([0.35, 0.08, 0.12, 0.0, 0.07, 0.0, 0.0, 0.2, 0.15, 0.03])
_SESSION_SHARE: Final[float] = 0.08
_ERRAND_SHARE: Final[float] = 0.12


def _legit(
    rng: np.random.Generator,
    world: _World,
    *,
    n: int,
    start: pd.Timestamp,
    span_days: int,
    knobs: SimulationKnobs,
) -> _Rows:
    """Normal traffic: ``n`` rows, of which about 20% follow an earlier payment within minutes or hours."""
    span_s = span_days * _SECONDS_PER_DAY
    trips = _trips(rng, world, span_s)
    n_session = round(_SESSION_SHARE * n) if n >= 20 else 0
    n_errand = round(_ERRAND_SHARE * n) if n >= 20 else 0
    base = _legit_base(
        rng, world, n=n - n_session - n_errand, start=start, span_days=span_days, knobs=knobs, trips=trips
    )
    if n_session + n_errand == 0:
        return base
    base_cat = world.merch_cat[base.merchant]

    # sessions copy a first payment, minutes later, with a similar amount
    session = base.take(_pick_parents(rng, _SESSION_PROPENSITY[base_cat], n_session))
    session.ts = session.ts + 20 + rng.exponential(600.0, n_session).astype(np.int64)
    session.amount = np.maximum(1, np.rint(session.amount * rng.lognormal(0.0, 0.5, n_session))).astype(
        np.int64
    )

    # errands: the same card in another local shop, up to a couple of hours later
    weight = _ERRAND_PROPENSITY[base_cat] * (base.channel == _IN_STORE)
    errand = base.take(_pick_parents(rng, weight, n_errand))
    cat = rng.choice(_N_CAT, size=n_errand, p=_ERRAND_NEXT / _ERRAND_NEXT.sum()).astype(np.int64)
    country = world.merch_country[errand.merchant]
    errand.merchant = world.by_cat_country.draw(cat * _N_COUNTRY + country, rng.random(n_errand))
    errand.ts = errand.ts + 120 + rng.exponential(2_400.0, n_errand).astype(np.int64)
    eur = (
        _CAT_MEDIAN[cat]
        * world.cust_level[errand.customer]
        * np.exp(_CAT_SIGMA[cat] * rng.standard_normal(n_errand))
    )
    errand.amount = _amount_minor(world, errand.merchant, eur * knobs.amount_factor)
    errand.device = _in_store_device(rng, world, errand.merchant, errand.amount)

    out = _Rows.concat([base, session, errand])
    out.ts = np.minimum(out.ts, span_s - 1)
    out.label_ts = out.ts + _LEGIT_LABEL_DELAY_DAYS * _SECONDS_PER_DAY
    return out


def _pick_parents(rng: np.random.Generator, weight: FloatArray, n: int) -> IntArray:
    """``n`` row numbers drawn with probability proportional to ``weight`` (with replacement)."""
    cum = np.cumsum(weight)
    if n == 0 or cum[-1] <= 0:
        return rng.integers(0, len(weight), n)
    pos = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.minimum(pos, len(weight) - 1).astype(np.int64)


def _legit_base(
    rng: np.random.Generator,
    world: _World,
    *,
    n: int,
    start: pd.Timestamp,
    span_days: int,
    knobs: SimulationKnobs,
    trips: _Trips,
) -> _Rows:
    span_s = span_days * _SECONDS_PER_DAY
    customer = np.searchsorted(world.cust_activity_cum, rng.random(n), side="right").astype(np.int64)
    customer = np.minimum(customer, world.n_customers - 1)
    home = world.cust_country[customer]

    # local calendar: day (weekly rhythm), hour (daily rhythm), second
    offset_s = int((start - start.normalize()).total_seconds())
    n_days = span_days + 1 if offset_s else span_days
    day_w, weekend_days = _day_weights(start, n_days, knobs)
    day = np.searchsorted(np.cumsum(day_w) / day_w.sum(), rng.random(n), side="right")
    day = np.minimum(day, n_days - 1)
    weekend = weekend_days[day]
    hours_wd = _HOURS_WEEKDAY * (1.0 + knobs.evening_boost * _EVENING)
    hours_we = _HOURS_WEEKEND * (1.0 + knobs.evening_boost * _EVENING)
    u = rng.random(n)
    hour = np.where(
        weekend,
        np.searchsorted(np.cumsum(hours_we) / hours_we.sum(), u, side="right"),
        np.searchsorted(np.cumsum(hours_wd) / hours_wd.sum(), u, side="right"),
    )
    hour = np.minimum(hour, 23).astype(np.int64)
    second = rng.integers(0, 3_600, n)
    tz = np.array([r[2] for r in _COUNTRY_TABLE])[home] * 3_600
    ts = (day * _SECONDS_PER_DAY + hour * 3_600 + second - tz - offset_s) % span_s
    on_trip = (ts >= trips.start[customer]) & (ts < trips.end[customer])

    # category: the customer's taste x time of week and day x trips x the scenario
    cat_knob = np.array([knobs.category_weights.get(c, 1.0) for c in MERCHANT_CATEGORIES])
    time_mult = np.stack([_category_hour_multipliers(), _category_hour_multipliers() * _WEEKEND_CAT])
    probs = world.cust_pref[customer] * time_mult[weekend.astype(np.int64), hour] * cat_knob
    probs[on_trip] *= _TRIP_CAT
    cat = _categorical(rng, probs)

    # channel: category's mix, tilted by the customer's online habit
    odds = world.cust_online[customer] * knobs.online_odds * np.where(weekend, _WEEKEND_ONLINE_ODDS, 1.0)
    ch_p = _CAT_CHANNEL[cat].copy()
    ch_p[:, 1:] *= odds[:, None]
    channel = _categorical(rng, ch_p)

    # merchant: mostly domestic, mostly a favourite; on a trip, mostly in the trip's country
    cross_border = rng.random(n) < np.array([0.02, 0.15, 0.08])[channel]
    u_fav = rng.random(n)
    fav_slot = (u_fav >= 0.45).astype(np.int64)
    favourite = world.cust_fav[customer, cat, fav_slot]
    pooled = world.by_cat_country.draw(cat * _N_COUNTRY + home, rng.random(n))
    merchant = np.where(u_fav < 0.62, favourite, pooled)
    if cross_border.any():
        merchant[cross_border] = _foreign_merchant(rng, world, cat[cross_border], home[cross_border])
    abroad = on_trip & (rng.random(n) < np.array([0.9, 0.3, 0.6])[channel])
    trip_country = trips.country[customer[abroad]]
    merchant[abroad] = world.by_cat_country.draw(
        cat[abroad] * _N_COUNTRY + trip_country, rng.random(len(trip_country))
    )

    z = rng.standard_normal(n)
    eur = _CAT_MEDIAN[cat] * world.cust_level[customer] * np.exp(_CAT_SIGMA[cat] * z) * knobs.amount_factor
    eur = np.where(abroad, eur * 1.3, eur)
    amount = _amount_minor(world, merchant, eur)

    device = np.where(
        channel == _ONLINE,
        np.where(rng.random(n) < world.cust_desktop[customer], _DEV["desktop_web"], _DEV["mobile_web"]),
        world.cust_phone[customer],
    )
    store = channel == _IN_STORE
    device[store] = _in_store_device(rng, world, merchant[store], amount[store])
    card = _pick_card(rng, world.cust_ncards[customer])

    return _Rows(
        ts=ts.astype(np.int64),
        customer=customer,
        card=card,
        merchant=merchant.astype(np.int64),
        channel=channel,
        device=device.astype(np.int64),
        amount=amount,
        label_ts=ts + _LEGIT_LABEL_DELAY_DAYS * _SECONDS_PER_DAY,
        pattern=np.zeros(n, dtype=np.int64),
    )


# --------------------------------------------------------------------------- fraud


@dataclass(frozen=True)
class _Events:
    """Fraud events expanded to one entry per row."""

    event: IntArray  # event number of each row
    first: BoolArray  # first row of its event
    size: IntArray  # size of each event


def _events_within_budget(sizes: IntArray, budget: int) -> _Events:
    keep = np.cumsum(sizes) <= budget
    sizes = sizes[keep]
    event = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    first = np.ones(len(event), dtype=bool)
    first[1:] = event[1:] != event[:-1]
    return _Events(event=event, first=first, size=sizes.astype(np.int64))


def _campaign_times(rng: np.random.Generator, n: int, span_s: int) -> IntArray:
    """Event start times: fraud comes in campaigns, so weekly intensity varies a lot."""
    week_s = 7 * _SECONDS_PER_DAY
    n_weeks = max(1, math.ceil(span_s / week_s))
    length = np.minimum(week_s, span_s - np.arange(n_weeks) * week_s).astype(np.float64)
    intensity = rng.gamma(1.2, 1.0, n_weeks) * length
    week = np.searchsorted(np.cumsum(intensity) / intensity.sum(), rng.random(n), side="right")
    week = np.minimum(week, n_weeks - 1)
    return (week * week_s + rng.random(n) * length[week]).astype(np.int64)


def _week(t: IntArray, span_s: int) -> tuple[IntArray, int]:
    """Campaign week of each time, and the number of weeks in the window."""
    week_s = 7 * _SECONDS_PER_DAY
    n_weeks = max(1, math.ceil(span_s / week_s))
    return np.clip(t // week_s, 0, n_weeks - 1).astype(np.int64), n_weeks


def _with_focus(
    rng: np.random.Generator, focus: IntArray, options: list[int], p: list[float], share: float
) -> IntArray:
    """Per row: the campaign's focus category with probability ``share``, else a draw from ``options``."""
    other = rng.choice(options, size=len(focus), p=p)
    return np.where(rng.random(len(focus)) < share, focus, other).astype(np.int64)


def _offsets(rng: np.random.Generator, ev: _Events, mean_gap_s: float, min_gap_s: float) -> IntArray:
    """Seconds from the event start of each row: cumulative exponential gaps."""
    gaps = rng.exponential(mean_gap_s, len(ev.event)) + min_gap_s
    gaps[ev.first] = 0.0
    cum = np.cumsum(gaps)
    start_of_event = np.repeat(cum[ev.first], ev.size)
    return (cum - start_of_event).astype(np.int64)


def _fraud_device(rng: np.random.Generator, channel: IntArray) -> IntArray:
    u = rng.random(len(channel))
    web = np.where(u < 0.7, _DEV["desktop_web"], _DEV["mobile_web"])
    app = np.where(u < 0.5, _DEV["ios"], _DEV["android"])
    return np.where(channel == _ONLINE, web, app).astype(np.int64)


def _victims(rng: np.random.Generator, world: _World, n: int) -> IntArray:
    c = np.searchsorted(world.cust_activity_cum, rng.random(n), side="right")
    return np.minimum(c, world.n_customers - 1).astype(np.int64)


def _card_testing(
    rng: np.random.Generator, world: _World, *, budget: int, span_s: int
) -> tuple[_Rows, _Events]:
    """Bursts of tiny online payments on one card within minutes, often followed by big ones.

    The first cash-out comes minutes after the tests; when the card is sold
    on, more follow over the next days.
    """
    n_ev = budget // 3 + 2
    n_tests = 3 + rng.poisson(4.0, n_ev)
    n_cash = np.where(rng.random(n_ev) < 0.55, 1 + rng.poisson(0.8, n_ev), 0)
    ev = _events_within_budget(n_tests + n_cash, budget)
    k = len(ev.size)
    n_tests = n_tests[:k]
    rows = len(ev.event)

    t0 = _campaign_times(rng, k, span_s)
    cust = _victims(rng, world, k)
    card = 1 + (rng.random(k) * world.cust_ncards[cust]).astype(np.int64)
    # each weekly campaign has its own testing merchant, channel, test amounts and cash-out category
    week, n_weeks = _week(t0, span_s)
    w_merchant = world.by_cat.draw(np.full(n_weeks, _CAT["digital_goods"]), rng.random(n_weeks))
    w_channel = np.where(rng.random(n_weeks) < 0.8, _ONLINE, _APP)
    w_low = rng.uniform(0.1, 1.0, n_weeks)
    w_high = w_low * rng.uniform(2.0, 10.0, n_weeks)
    cash_options = [_CAT[c] for c in ("electronics", "digital_goods", "fashion", "travel")]
    w_cash_cat = rng.choice(cash_options, size=n_weeks)
    r_week = week[ev.event]
    pos = np.arange(rows) - np.repeat(np.cumsum(ev.size) - ev.size, ev.size)
    cash_no = pos - np.repeat(n_tests, ev.size)
    is_cash_out = cash_no >= 0

    offsets = _offsets(rng, ev, mean_gap_s=90.0, min_gap_s=5.0)
    cash_delay = (
        300 + rng.exponential(2_400.0, rows) + cash_no * rng.exponential(1.5 * _SECONDS_PER_DAY, rows)
    )
    offsets = np.where(is_cash_out, offsets + cash_delay.astype(np.int64), offsets)

    cash_cat = _with_focus(rng, w_cash_cat[r_week], cash_options, [0.4, 0.3, 0.15, 0.15], 0.7)
    merchant = np.where(is_cash_out, world.by_cat.draw(cash_cat, rng.random(rows)), w_merchant[r_week])
    eur = np.where(
        is_cash_out,
        rng.lognormal(np.log(150.0), 0.7, rows),
        np.round(rng.uniform(w_low[r_week], w_high[r_week]), 1),
    )
    channel = np.where(is_cash_out & (rng.random(rows) < 0.2), _APP, w_channel[r_week]).astype(np.int64)
    out = _Rows(
        ts=t0[ev.event] + offsets,
        customer=cust[ev.event],
        card=card[ev.event],
        merchant=merchant.astype(np.int64),
        channel=channel,
        device=_fraud_device(rng, channel),
        amount=_amount_minor(world, merchant, eur),
        label_ts=np.zeros(rows, dtype=np.int64),
        pattern=np.full(rows, FRAUD_PATTERNS.index("card_testing"), dtype=np.int64),
    )
    return out, ev


def _account_takeover(
    rng: np.random.Generator, world: _World, *, budget: int, span_s: int
) -> tuple[_Rows, _Events]:
    """A compromised customer: new device, abroad, amounts far above habit, over hours or days."""
    n_ev = budget // 3 + 2
    ev = _events_within_budget(2 + rng.poisson(2.5, n_ev), budget)
    k = len(ev.size)
    rows = len(ev.event)
    t0 = _campaign_times(rng, k, span_s)
    cust = _victims(rng, world, k)
    home = world.cust_country[cust]
    # each weekly campaign has its favourite channel, category, share abroad and amount level
    week, n_weeks = _week(t0, span_s)
    w_online = rng.random(n_weeks)
    options = [_CAT[c] for c in ("electronics", "travel", "fashion", "digital_goods", "gambling")]
    w_cat = rng.choice(options, size=n_weeks)
    w_abroad = rng.uniform(0.2, 0.8, n_weeks)
    w_factor = rng.uniform(1.5, 4.0, n_weeks)
    r_week = week[ev.event]
    # the fraudster uses a channel and device the customer never uses
    ev_channel = np.where(rng.random(k) < w_online[week], _ONLINE, _APP).astype(np.int64)
    usual_web = np.where(world.cust_desktop[cust] > 0.5, _DEV["mobile_web"], _DEV["desktop_web"])
    other_phone = np.where(world.cust_phone[cust] == _DEV["ios"], _DEV["android"], _DEV["ios"])
    ev_device = np.where(ev_channel == _ONLINE, usual_web, other_phone).astype(np.int64)

    cat = _with_focus(rng, w_cat[r_week], options, [0.35, 0.2, 0.2, 0.15, 0.1], 0.6)
    r_home = home[ev.event]
    abroad = rng.random(rows) < w_abroad[r_week]
    merchant = world.by_cat_country.draw(cat * _N_COUNTRY + r_home, rng.random(rows))
    if abroad.any():
        merchant[abroad] = _foreign_merchant(rng, world, cat[abroad], r_home[abroad])
    eur = (
        _CAT_MEDIAN[cat] * world.cust_level[cust[ev.event]] * w_factor[r_week] * rng.lognormal(0.0, 0.5, rows)
    )
    out = _Rows(
        ts=t0[ev.event] + _offsets(rng, ev, mean_gap_s=4 * 3_600.0, min_gap_s=60.0),
        customer=cust[ev.event],
        card=np.ones(rows, dtype=np.int64),
        merchant=merchant.astype(np.int64),
        channel=ev_channel[ev.event],
        device=ev_device[ev.event],
        amount=_amount_minor(world, merchant, eur),
        label_ts=np.zeros(rows, dtype=np.int64),
        pattern=np.full(rows, FRAUD_PATTERNS.index("account_takeover"), dtype=np.int64),
    )
    return out, ev


def _high_risk_merchant(
    rng: np.random.Generator, world: _World, *, budget: int, span_s: int
) -> tuple[_Rows, _Events]:
    """Stolen cards cashed out at a few high-risk digital-goods and gambling merchants."""
    n_ev = budget // 2 + 2
    ev = _events_within_budget(1 + rng.poisson(1.5, n_ev), budget)
    k = len(ev.size)
    rows = len(ev.event)
    t0 = _campaign_times(rng, k, span_s)
    cust = _victims(rng, world, k)
    card = 1 + (rng.random(k) * world.cust_ncards[cust]).astype(np.int64)
    # each week one of the high-risk merchants is the ring's favourite
    week, n_weeks = _week(t0, span_s)
    w_hot = world.high_risk.draw(np.zeros(n_weeks, dtype=np.int64), rng.random(n_weeks))
    ev_merchant = world.high_risk.draw(np.zeros(k, dtype=np.int64), rng.random(k))
    ev_merchant = np.where(rng.random(k) < 0.6, w_hot[week], ev_merchant)
    merchant = ev_merchant[ev.event]
    cat = world.merch_cat[merchant]
    ch_p = _CAT_CHANNEL[cat].copy()
    ch_p[:, _IN_STORE] = 0.0
    channel = _categorical(rng, ch_p)
    eur = _CAT_MEDIAN[cat] * rng.lognormal(np.log(2.0), 0.6, rows)
    out = _Rows(
        ts=t0[ev.event] + _offsets(rng, ev, mean_gap_s=1_800.0, min_gap_s=30.0),
        customer=cust[ev.event],
        card=card[ev.event],
        merchant=merchant.astype(np.int64),
        channel=channel,
        device=_fraud_device(rng, channel),
        amount=_amount_minor(world, merchant, eur),
        label_ts=np.zeros(rows, dtype=np.int64),
        pattern=np.full(rows, FRAUD_PATTERNS.index("high_risk_merchant"), dtype=np.int64),
    )
    return out, ev


def _stolen_card(
    rng: np.random.Generator, world: _World, *, budget: int, span_s: int
) -> tuple[_Rows, _Events]:
    """A stolen physical card: a contactless spree in local shops, under the no-PIN limit, within hours."""
    n_ev = budget // 3 + 2
    ev = _events_within_budget(2 + rng.poisson(3.0, n_ev), budget)
    k = len(ev.size)
    rows = len(ev.event)
    cust = _victims(rng, world, k)
    card = 1 + (rng.random(k) * world.cust_ncards[cust]).astype(np.int64)
    # the spree starts during opening hours, local time
    day = _campaign_times(rng, k, span_s) // _SECONDS_PER_DAY
    tz = np.array([r[2] for r in _COUNTRY_TABLE])[world.cust_country[cust]] * 3_600
    t0 = day * _SECONDS_PER_DAY + rng.integers(9 * 3_600, 19 * 3_600, k) - tz
    # each weekly wave of thefts has its favourite kind of shop and spending level
    week, n_weeks = _week(t0, span_s)
    options = [_CAT[c] for c in ("grocery", "fuel", "fashion", "electronics", "pharmacy", "restaurants")]
    w_cat = rng.choice(options, size=n_weeks)
    w_median = rng.uniform(12.0, 40.0, n_weeks)
    r_week = week[ev.event]
    cat = _with_focus(rng, w_cat[r_week], options, [0.3, 0.15, 0.2, 0.15, 0.1, 0.1], 0.5)
    r_cust = cust[ev.event]
    merchant = world.by_cat_country.draw(cat * _N_COUNTRY + world.cust_country[r_cust], rng.random(rows))
    eur = np.minimum(w_median[r_week] * rng.lognormal(0.0, 0.5, rows), _CONTACTLESS_LIMIT_EUR * 0.98)
    amount = _amount_minor(world, merchant, eur)
    out = _Rows(
        ts=t0[ev.event] + _offsets(rng, ev, mean_gap_s=1_200.0, min_gap_s=60.0),
        customer=r_cust,
        card=card[ev.event],
        merchant=merchant.astype(np.int64),
        channel=np.full(rows, _IN_STORE, dtype=np.int64),
        device=_in_store_device(rng, world, merchant, amount),
        amount=amount,
        label_ts=np.zeros(rows, dtype=np.int64),
        pattern=np.full(rows, FRAUD_PATTERNS.index("stolen_card"), dtype=np.int64),
    )
    return out, ev


def _app_takeover(
    rng: np.random.Generator, world: _World, *, budget: int, span_s: int
) -> tuple[_Rows, _Events]:
    """Drift-only pattern: mobile-app takeover at home with amounts close to the customer's habit."""
    n_ev = budget // 3 + 2
    ev = _events_within_budget(2 + rng.poisson(3.0, n_ev), budget)
    k = len(ev.size)
    rows = len(ev.event)
    t0 = _campaign_times(rng, k, span_s)
    cust = _victims(rng, world, k)
    r_cust = cust[ev.event]
    probs = world.cust_pref[r_cust] * np.array([1.0, 0.0, 1.0, 0.5, 2.0, 2.0, 0.5, 2.0, 0.5, 0.5])
    cat = _categorical(rng, probs)
    merchant = world.by_cat_country.draw(cat * _N_COUNTRY + world.cust_country[r_cust], rng.random(rows))
    same_phone = rng.random(k) < 0.5
    other_phone = np.where(world.cust_phone[cust] == _DEV["ios"], _DEV["android"], _DEV["ios"])
    device = np.where(same_phone, world.cust_phone[cust], other_phone)[ev.event]
    eur = _CAT_MEDIAN[cat] * world.cust_level[r_cust] * rng.lognormal(np.log(1.3), 0.5, rows)
    out = _Rows(
        ts=t0[ev.event] + _offsets(rng, ev, mean_gap_s=8 * 3_600.0, min_gap_s=300.0),
        customer=r_cust,
        card=np.ones(rows, dtype=np.int64),
        merchant=merchant.astype(np.int64),
        channel=np.full(rows, _APP, dtype=np.int64),
        device=device.astype(np.int64),
        amount=_amount_minor(world, merchant, eur),
        label_ts=np.zeros(rows, dtype=np.int64),
        pattern=np.full(rows, FRAUD_PATTERNS.index("app_takeover"), dtype=np.int64),
    )
    return out, ev


def _chargeback_labels(rng: np.random.Generator, rows: _Rows, ev: _Events) -> IntArray:
    """When each fraud row's chargeback arrives: one report per event, days to weeks later.

    The delay after the event's last payment is lognormal (median 17 days),
    clipped so that every row's delay stays within 3-90 days; each row then
    gets up to 6 hours of processing jitter.
    """
    k = len(ev.size)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    first_rows = np.cumsum(ev.size) - ev.size
    starts = np.minimum.reduceat(rows.ts, first_rows)
    ends = np.maximum.reduceat(rows.ts, first_rows)
    longest = np.maximum(3.0, 90.0 - (ends - starts) / _SECONDS_PER_DAY)
    delay_days = np.clip(rng.lognormal(np.log(17.0), 0.65, k), 3.0, longest)
    report = ends + (delay_days * _SECONDS_PER_DAY).astype(np.int64)
    jitter = rng.integers(0, 6 * 3_600, len(rows))
    return report[ev.event] + jitter


_FRAUD_MAKERS: Final = (_card_testing, _account_takeover, _high_risk_merchant, _stolen_card, _app_takeover)


def _fraud(
    rngs: list[np.random.Generator], world: _World, *, n_rows: int, span_s: int, knobs: SimulationKnobs
) -> _Rows:
    """All fraud rows: about 1% of ``n_rows``, split between the patterns."""
    budget = round(_FRAUD_RATE * n_rows)
    new_share = knobs.new_pattern_share
    shares = [s * (1.0 - new_share) for s in _PATTERN_SHARE] + [new_share]
    parts: list[_Rows] = []
    for share, make, child in zip(shares, _FRAUD_MAKERS, rngs, strict=True):
        rows, ev = make(child, world, budget=round(budget * share), span_s=span_s)
        rows.label_ts = _chargeback_labels(child, rows, ev)
        parts.append(rows)
    out = _Rows.concat(parts)
    return out.take((out.ts >= 0) & (out.ts < span_s))


# --------------------------------------------------------------------------- public API


def default_days(n_rows: int, *, drift: str | None = None, drift_strength: float = 1.0) -> int:
    """Number of days ``generate_transactions`` spans when ``days`` is not given.

    Paylane carries about 2,000 transactions a day, so the window is
    ``max(7, ceil(n_rows / 2000))`` days: at least one full week, so the
    weekly rhythm is always present. A drift scenario that raises the daily
    volume (``holiday_season``) shortens the window accordingly.

    Parameters
    ----------
    n_rows : int
        Number of transactions to generate.
    drift : str, optional
        Name of a drift scenario.
    drift_strength : float, default 1.0
        Strength of the drift scenario.

    Returns
    -------
    int
        Number of days.

    Examples
    --------
    >>> default_days(50_000), default_days(1_000_000), default_days(100)
    (25, 500, 7)
    """
    knobs = _knobs(drift, drift_strength)
    per_day = _ROWS_PER_DAY * knobs.volume_factor
    return max(7, math.ceil(n_rows / per_day))


def _knobs(drift: str | None, drift_strength: float) -> SimulationKnobs:
    knobs = SimulationKnobs()
    if drift is None:
        return knobs
    if drift not in DRIFT_SCENARIOS:
        valid = ", ".join(sorted(DRIFT_SCENARIOS))
        raise DataError(
            f"Unknown drift scenario {drift!r}. Expected one of: {valid}; or drift=None for none."
        )
    if not (
        isinstance(drift_strength, int | float) and math.isfinite(drift_strength) and drift_strength >= 0
    ):
        raise DataError(
            f"drift_strength was {drift_strength!r}; expected a finite number >= 0 "
            "(0 = no drift, 1 = the documented effect)."
        )
    return DRIFT_SCENARIOS[drift].adjust(knobs, float(drift_strength))


def _parse_start(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"start={start!r} is not a date; expected an ISO date such as '2026-01-01' or a pandas Timestamp."
        ) from exc
    if pd.isna(ts):
        raise DataError(f"start={start!r} is not a date; expected an ISO date such as '2026-01-01'.")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("ns")


def _check_int(name: str, value: object, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DataError(
            f"{name} was {value!r} ({type(value).__name__}); expected an integer >= {minimum}. {hint}"
        )
    if value < minimum:
        raise DataError(f"{name} was {value}; expected an integer >= {minimum}. {hint}")
    return int(value)


def _simulate(
    *,
    n_rows: int,
    seed: int,
    start: str | pd.Timestamp,
    days: int | None,
    drift: str | None,
    drift_strength: float,
) -> tuple[pd.DataFrame, IntArray]:
    n_rows = _check_int("n_rows", n_rows, 1, "Ask for at least one row, e.g. n_rows=50_000.")
    seed = _check_int("seed", seed, 0, "Use a non-negative integer such as seed=0.")
    knobs = _knobs(drift, drift_strength)
    t_start = _parse_start(start)
    if days is None:
        span_days = default_days(n_rows, drift=drift, drift_strength=drift_strength)
    else:
        span_days = _check_int("days", days, 1, "Use days=None to pick a realistic span from n_rows.")
    span_s = span_days * _SECONDS_PER_DAY

    # independent child streams, so e.g. a drift that only touches amounts leaves the rest identical
    streams = np.random.SeedSequence(seed).spawn(2 + len(_FRAUD_MAKERS))
    world_rng, legit_rng = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    fraud_rngs = [np.random.default_rng(s) for s in streams[2:]]
    world = _build_world(world_rng, n_rows, span_days)
    fraud = _fraud(fraud_rngs, world, n_rows=n_rows, span_s=span_s, knobs=knobs)
    legit = _legit(legit_rng, world, n=n_rows - len(fraud), start=t_start, span_days=span_days, knobs=knobs)
    rows = _Rows.concat([legit, fraud])
    rows = rows.take(np.argsort(rows.ts, kind="stable"))
    logger.debug(
        "simulated %d rows over %d days from %s (%d fraud, drift=%s)",
        n_rows,
        span_days,
        t_start,
        len(fraud),
        drift,
    )
    return _to_frame(rows, world, t_start), rows.pattern


def _strings(codes: IntArray, names: tuple[str, ...] | Any) -> Any:
    """pyarrow string array from integer codes into ``names`` (a tuple or pyarrow array)."""
    dictionary = names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary).cast(pa.string())


def _padded(prefix: str, numbers: IntArray, width: int) -> Any:
    """pyarrow array of ``prefix + zero-padded number`` strings."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _timestamps(start: pd.Timestamp, seconds: IntArray) -> Any:
    ns = start.value + seconds.astype(np.int64) * _NS
    return pa.array(ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))


def _arrow_to_pandas(table: Any) -> pd.DataFrame:
    """Convert a pyarrow Table with the house dtypes (text -> :data:`STRING_DTYPE`)."""
    mapper = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}
    df: pd.DataFrame = table.to_pandas(types_mapper=mapper.get)
    return df


def _to_frame(rows: _Rows, world: _World, start: pd.Timestamp) -> pd.DataFrame:
    n = len(rows)
    n_cust = world.n_customers
    cust_w = max(6, len(str(n_cust)))
    card_names = pc.binary_join_element_wise(
        "card_",
        _padded("", np.repeat(np.arange(1, n_cust + 1), 3), cust_w),
        pa.array(np.tile(["_1", "_2", "_3"], n_cust)),
        "",
    )
    n_merch = len(world.merch_cat)
    merchant_country = world.merch_country[rows.merchant]
    currency_of = np.array([_CURRENCIES.index(r[1]) for r in _COUNTRY_TABLE])
    columns = {
        "transaction_id": _padded("tx_", np.arange(n), max(9, len(str(n - 1)))),
        "timestamp": _timestamps(start, rows.ts),
        "customer_id": _strings(rows.customer, _padded("cus_", np.arange(1, n_cust + 1), cust_w)),
        "card_id": _strings(rows.customer * 3 + rows.card - 1, card_names),
        "merchant_id": _strings(
            rows.merchant, _padded("mer_", np.arange(1, n_merch + 1), max(5, len(str(n_merch))))
        ),
        "merchant_category": _strings(world.merch_cat[rows.merchant], MERCHANT_CATEGORIES),
        "merchant_country": _strings(merchant_country, _COUNTRIES),
        "amount_cents": pa.array(rows.amount.astype(np.int64)),
        "currency": _strings(currency_of[merchant_country], _CURRENCIES),
        "channel": _strings(rows.channel, CHANNELS),
        "device": _strings(rows.device, DEVICES),
        "customer_country": _strings(world.cust_country[rows.customer], _COUNTRIES),
        "is_fraud": pa.array((rows.pattern > 0).astype(np.int8)),
        "label_available_at": _timestamps(start, rows.label_ts),
    }
    return _arrow_to_pandas(pa.table([columns[c] for c in COLUMNS], names=list(COLUMNS)))


def generate_transactions(
    *,
    n_rows: int,
    seed: int = 0,
    start: str | pd.Timestamp = "2026-01-01",
    days: int | None = None,
    drift: str | None = None,
    drift_strength: float = 1.0,
) -> pd.DataFrame:
    """Simulate a batch of Paylane card transactions.

    Parameters
    ----------
    n_rows : int
        Number of transactions (exactly this many rows), at least 1.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the same arguments always give
        the same DataFrame.
    start : str or pandas.Timestamp, default "2026-01-01"
        Start of the window. A naive date or timestamp is read as UTC.
    days : int, optional
        Length of the window in days. ``None`` picks ``max(7, ceil(n_rows /
        2000))``: about 2,000 transactions a day (see :func:`default_days`).
    drift : str, optional
        Name of a scenario in :data:`DRIFT_SCENARIOS`, applied to the whole
        window; ``None`` for normal traffic.
    drift_strength : float, default 1.0
        How strongly the scenario acts; 0 gives normal traffic. Ignored when
        ``drift`` is None.

    Returns
    -------
    pandas.DataFrame
        One row per transaction with the columns :data:`COLUMNS` and dtypes
        :data:`COLUMN_DTYPES`, sorted by ``timestamp``, on a RangeIndex.
        ``df.attrs`` is left empty.

    Raises
    ------
    DataError
        If ``n_rows`` < 1, ``days`` < 1, ``seed`` < 0, ``start`` is not a date,
        ``drift`` is unknown or ``drift_strength`` is negative.

    See Also
    --------
    fraud_patterns : which fraud mechanism produced each row.

    Examples
    --------
    >>> df = generate_transactions(n_rows=1_000, seed=1)
    >>> list(df.columns) == list(COLUMNS)
    True
    >>> df.equals(generate_transactions(n_rows=1_000, seed=1))
    True
    """
    df, _ = _simulate(
        n_rows=n_rows, seed=seed, start=start, days=days, drift=drift, drift_strength=drift_strength
    )
    return df


def fraud_patterns(
    *,
    n_rows: int,
    seed: int = 0,
    start: str | pd.Timestamp = "2026-01-01",
    days: int | None = None,
    drift: str | None = None,
    drift_strength: float = 1.0,
) -> pd.Series:
    """The hidden ground truth: which fraud mechanism produced each row.

    Call it with the same arguments as :func:`generate_transactions`; the
    result lines up with that DataFrame row by row. It re-runs the simulation,
    so it costs as much as generating the batch again. The pattern is not a
    column of the batch because a real processor never sees it.

    Parameters
    ----------
    n_rows, seed, start, days, drift, drift_strength
        As for :func:`generate_transactions`.

    Returns
    -------
    pandas.Series
        Named ``fraud_pattern``, string dtype, one of :data:`FRAUD_PATTERNS`
        (``"none"`` for legitimate rows).

    Raises
    ------
    DataError
        As for :func:`generate_transactions`.

    Examples
    --------
    >>> p = fraud_patterns(n_rows=20_000, seed=3)
    >>> sorted(set(p) - {"none"})
    ['account_takeover', 'card_testing', 'high_risk_merchant', 'stolen_card']
    """
    df, pattern = _simulate(
        n_rows=n_rows, seed=seed, start=start, days=days, drift=drift, drift_strength=drift_strength
    )
    table = pa.table([_strings(pattern, FRAUD_PATTERNS)], names=["fraud_pattern"])
    out = _arrow_to_pandas(table)["fraud_pattern"]
    out.index = df.index
    return out


# --------------------------------------------------------------------------- files


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to a Parquet file, byte-identical for identical frames.

    Uses pyarrow with zstd compression, no index and no write-time metadata,
    so the same seed always gives the same bytes (with the same pyarrow
    version).

    Parameters
    ----------
    df : pandas.DataFrame
        Transactions, clean or damaged.
    path : str or pathlib.Path
        Destination; parent folders are created.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DataError
        If pyarrow cannot convert a column (e.g. mixed types in one column).
    """
    out = Path(path)
    try:
        with warnings.catch_warnings():
            # pyarrow reads tz-aware columns through Series.values, which pandas >= 3.1 flags
            warnings.filterwarnings(
                "ignore", message="Series.values returning an ndarray that drops timezone"
            )
            table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"Cannot write the frame to Parquet: {exc}. Expected one type per column; "
            "cast mixed columns with df[col].astype(str) first."
        ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table, out, compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True
    )
    logger.debug("wrote %d rows to %s", len(df), out)
    return out


def _normalise_strings(df: pd.DataFrame) -> pd.DataFrame:
    """Give every text column the house string dtype (pandas 2 reads object, 3 reads ``str``)."""
    for col in df.columns:
        s = df[col]
        if s.dtype == STRING_DTYPE:
            continue
        is_text = s.dtype == object or pd.api.types.is_string_dtype(s.dtype)
        if is_text and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
            df[col] = s.astype(STRING_DTYPE)
    return df


def read_transactions(path: str | Path) -> pd.DataFrame:
    """Read a batch written by :func:`write_parquet` or as CSV.

    The frame is returned as the file holds it, without validation, so a
    damaged batch stays damaged: that is the data contract's job. Text
    columns get the house string dtype; in CSV files the ``timestamp`` and
    ``label_available_at`` columns are parsed as UTC datetimes when they are
    well formed.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.parquet`` or ``.csv`` file.

    Returns
    -------
    pandas.DataFrame
        The transactions.

    Raises
    ------
    DataError
        If the file is missing, has another suffix, or cannot be parsed
        (truncated or corrupted).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise DataError(f"Cannot read {p}: suffix {p.suffix!r}; expected a .parquet or .csv file.")
    if not p.is_file():
        raise DataError(
            f"Cannot read {p}: no such file. Check the path, or create it with `ds2mle data generate`."
        )
    try:
        if suffix == ".parquet":
            df = _arrow_to_pandas(pq.read_table(p))
        else:
            text = [c for c in COLUMNS if COLUMN_DTYPES[c] == STRING_DTYPE]
            df = pd.read_csv(
                p, dtype=dict.fromkeys(text, STRING_DTYPE), keep_default_na=False, na_values=[""]
            )
    except Exception as exc:  # pyarrow, csv and codec errors have no common base
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"Cannot read {p}: the file is truncated or corrupted ({first_line}). "
            "Expected a complete Parquet/CSV file; regenerate it or restore it from the source."
        ) from exc
    if suffix == ".csv":
        # CSV has no types: give integer columns their documented width, parse timestamps
        for col, dtype in COLUMN_DTYPES.items():
            if (
                col in df.columns
                and isinstance(dtype, np.dtype)
                and pd.api.types.is_integer_dtype(df[col].dtype)
            ):
                df[col] = df[col].astype(dtype)
        for col in ("timestamp", "label_available_at"):
            if col in df.columns:
                try:
                    df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601").dt.as_unit("ns")
                except (TypeError, ValueError):
                    logger.warning("column %r of %s is not a well-formed timestamp; left as text", col, p)
    return _normalise_strings(df)
