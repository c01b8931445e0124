"""Tests for fraudguard/registry.py, against a real MLflow on a SQLite file (no mocks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fraudguard.config import Settings, load_settings
from fraudguard.errors import RegistryError
from fraudguard.registry import download_model, log_training_run, promote, register_model, tracking_client
from fraudguard.train import load_model


@pytest.fixture(scope="module")
def registry(saved_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    """A local registry holding two versions of the same saved model."""
    settings = load_settings(artifacts_dir=tmp_path_factory.mktemp("registry") / "artifacts")
    meta = load_model(saved_model).metadata
    versions = []
    for candidate in ("a", "b"):
        run_id = log_training_run(
            saved_model,
            params=meta.params,
            metrics=meta.metrics,
            tags={"data_sha256": meta.data_sha256, "candidate": candidate},
            settings=settings,
        )
        versions.append(register_model(run_id, settings=settings))
    return settings, versions


def test_runs_record_params_metrics_and_tags(registry: tuple[Settings, list[str]]) -> None:
    settings, _ = registry
    client = tracking_client(settings)
    runs = client.search_runs([client.get_experiment_by_name(settings.experiment).experiment_id])
    assert sorted(run.data.tags["candidate"] for run in runs) == ["a", "b"]
    assert all("roc_auc" in run.data.metrics and run.data.params["max_iter"] == "60" for run in runs)


def test_versions_are_numbered_and_aliases_resolve(
    registry: tuple[Settings, list[str]], tmp_path: Path
) -> None:
    settings, versions = registry
    assert versions == ["1", "2"]
    promote("2", settings=settings)
    path, version = download_model("models:/fraudguard@production", settings=settings, destination=tmp_path)
    assert version == "2" and (path / "model.skops").is_file()
    assert load_model(path).version


def test_rollback_moves_the_alias(registry: tuple[Settings, list[str]], tmp_path: Path) -> None:
    settings, _ = registry
    promote("1", settings=settings)
    assert (
        download_model("models:/fraudguard@production", settings=settings, destination=tmp_path / "a")[1]
        == "1"
    )
    assert download_model("models:/fraudguard/2", settings=settings, destination=tmp_path / "b")[1] == "2"
    promote("2", settings=settings)


@pytest.mark.parametrize(
    "uri", ["models:/fraudguard@canary", "models:/nobody@production", "models:/fraudguard/9"]
)
def test_unknown_names_aliases_and_versions_are_registry_errors(
    registry: tuple[Settings, list[str]], tmp_path: Path, uri: str
) -> None:
    with pytest.raises(RegistryError, match="does not resolve"):
        download_model(uri, settings=registry[0], destination=tmp_path)


def test_promoting_a_missing_version_is_a_registry_error(registry: tuple[Settings, list[str]]) -> None:
    with pytest.raises(RegistryError, match="has no version '42'"):
        promote("42", settings=registry[0])


def test_a_path_is_not_a_registry_uri(registry: tuple[Settings, list[str]], tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not a registry URI"):
        download_model("/models/current", settings=registry[0], destination=tmp_path)


def test_importing_the_package_does_no_work(package_env: dict[str, str], tmp_path: Path) -> None:
    """Does importing every module leave MLflow unimported, and create no files?"""
    code = (
        "import sys, fraudguard.cli, fraudguard.registry, fraudguard.serving, fraudguard.batch, fraudguard.train;"
        "print('mlflow' in sys.modules, 'uvicorn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=package_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]
    assert list(tmp_path.iterdir()) == []


def test_lesson_functions_return_what_their_annotation_says() -> None:
    """Does no function in lessons 04-06 promise one object and return a tuple (production_model did)?"""
    import ast
    import json

    from _helpers import REPO

    folder = REPO / "solutions" / "course" / "01-engineering-foundations"
    for name in ("04-training-artifacts-registry", "05-serving-with-fastapi", "06-shipping"):
        cells = json.loads((folder / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or source.startswith("%%"):
                continue
            tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith(("%", "!"))))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef) or node.returns is None:
                    continue
                promised = ast.unparse(node.returns)
                returns = [r for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
                if any(isinstance(r.value, ast.Tuple) for r in returns):
                    assert promised.startswith(("tuple", "Tuple")), f"{name}: {node.name} returns a tuple, annotated {promised}"
