"""fraudguard/cost.py: euros per million predictions from a measured throughput."""

from __future__ import annotations

import pytest

from fraudguard.cost import cost_per_million


def test_a_thousand_rows_a_second_on_one_core_at_0_036_eur_is_a_cent_per_million() -> None:
    assert cost_per_million(rows_per_second=1_000, price_per_core_hour=0.036) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("kwargs", "factor"),
    [({"rows_per_second": 2_000}, 0.5), ({"cores": 2}, 2.0), ({"utilisation": 0.25}, 4.0), ({"price_per_core_hour": 0.072}, 2.0)],
)
def test_cost_scales_with_throughput_cores_utilisation_and_price(kwargs: dict[str, float], factor: float) -> None:
    base = {"rows_per_second": 1_000.0, "price_per_core_hour": 0.036}
    assert cost_per_million(**(base | kwargs)) == pytest.approx(0.01 * factor)


@pytest.mark.parametrize("kwargs", [{"utilisation": 0.0}, {"utilisation": 1.5}, {"rows_per_second": 0.0}])
def test_impossible_inputs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        cost_per_million(**({"rows_per_second": 1_000.0, "price_per_core_hour": 1.0} | kwargs))
