"""Tests for fraudguard/config.py: one validated, frozen Settings object."""

from __future__ import annotations

from pathlib import Path

import pytest
from fraudguard.config import Settings, load_settings
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
