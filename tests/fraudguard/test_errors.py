"""Tests for fraudguard/errors.py: one base class, user errors that are also ValueErrors."""

from __future__ import annotations

import pytest

from fraudguard import errors


@pytest.mark.parametrize("name", errors.__all__)
def test_every_public_error_is_a_fraudguard_error(name: str) -> None:
    assert issubclass(getattr(errors, name), errors.FraudguardError)


@pytest.mark.parametrize(
    "cls", [errors.DataError, errors.FeatureError, errors.SettingsError, errors.BatchTooLargeError]
)
def test_input_errors_are_also_value_errors(cls: type[Exception]) -> None:
    """Can a caller who knows nothing of fraudguard still catch bad input as ValueError?"""
    assert issubclass(cls, ValueError)


def test_unsupported_currency_is_a_feature_error() -> None:
    assert issubclass(errors.UnsupportedCurrencyError, errors.FeatureError)
