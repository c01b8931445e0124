"""Tests for fraudguard/config.py: one validated, frozen Settings object."""

from __future__ import annotations

from pathlib import Path

import pytest
from fraudguard.config import Settings, describe_settings_error, load_settings
from pydantic import ValidationError


def test_defaults_are_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"FRAUDGUARD_{name.upper()}", raising=False)
    settings = load_settings()
    assert (settings.host, settings.port, settings.model_uri) == (
        "127.0.0.1",
        8000,
        "models:/fraudguard@production",
    )


def test_environment_overrides_defaults_and_arguments_override_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRAUDGUARD_PORT", "9001")
    monkeypatch.setenv("FRAUDGUARD_LOG_LEVEL", "debug")
    assert load_settings().port == 9001
    assert load_settings().log_level == "DEBUG"
    assert load_settings(port=9002).port == 9002
    assert load_settings(port=None).port == 9001  # None means "not given"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 0.0),
        ("threshold", 1.0),
        ("port", 0),
        ("port", 65_536),
        ("max_batch_size", 0),
        ("log_level", "LOUD"),
        ("model_name", "has spaces"),
        ("model_uri", ""),
        ("model_uri", "models:/fraudguard"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        load_settings(**{field: value})


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="treshold"):
        Settings(treshold=0.3)  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1


def test_default_tracking_uri_is_a_sqlite_file_in_the_artifacts_dir(tmp_path: Path) -> None:
    settings = load_settings(artifacts_dir=tmp_path / "artifacts")
    assert settings.resolved_tracking_uri == f"sqlite:///{(tmp_path / 'artifacts' / 'mlflow.db').as_posix()}"
    assert not (tmp_path / "artifacts").exists(), "building settings must not create folders"
    assert load_settings(tracking_uri="http://mlflow:5000").resolved_tracking_uri == "http://mlflow:5000"


def test_threshold_defaults_to_the_one_stored_with_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Is the threshold None (the model's cost-chosen one) unless someone sets it, and still range-checked?"""
    monkeypatch.delenv("FRAUDGUARD_THRESHOLD", raising=False)
    assert load_settings().threshold is None
    monkeypatch.setenv("FRAUDGUARD_THRESHOLD", "0.3")
    assert load_settings().threshold == 0.3
    with pytest.raises(ValidationError, match="less than 1"):
        Settings(threshold=1.5)


@pytest.mark.parametrize("uri", ["models:/fraudguard@production", "models:/fraudguard/3", "artifacts/model-1"])
def test_model_uris_with_an_alias_a_version_or_a_directory_are_accepted(uri: str) -> None:
    assert load_settings(model_uri=uri).model_uri == uri


def test_a_bad_environment_variable_is_described_in_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the message name FRAUDGUARD_PORT and its value, and every other bad value too?"""
    monkeypatch.setenv("FRAUDGUARD_PORT", "abc")
    monkeypatch.setenv("FRAUDGUARD_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    line = describe_settings_error(caught.value)
    assert "\n" not in line
    assert line.startswith("invalid settings: FRAUDGUARD_PORT='abc': Input should be a valid integer")
    assert "FRAUDGUARD_LOG_LEVEL='LOUD'" in line


def test_a_bad_argument_is_named_as_an_argument_not_a_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(port=70_000)
    assert describe_settings_error(caught.value, arguments=["port"]) == (
        "invalid settings: port=70000 (argument): Input should be less than or equal to 65535"
    )
