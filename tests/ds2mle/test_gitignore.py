"""What a learner's working clone writes is git-ignored, so `git status` shows only their own work.

The paths come from the code that writes them where that is possible: fraudguard's settings defaults
(solutions/fraudguard/config.py) for the model store and MLflow, ds2mle.progress for `ds2mle status`.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _helpers import REPO


def fraudguard_defaults() -> list[str]:
    """Where the reference fraudguard writes by default: the artifacts folder and its MLflow SQLite file."""
    spec = importlib.util.spec_from_file_location("_reference_config", REPO / "solutions/fraudguard/config.py")
    assert spec and spec.loader
    config = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = config  # pydantic resolves the annotations through sys.modules
    try:
        spec.loader.exec_module(config)
        settings = config.Settings()
    finally:
        del sys.modules[spec.name]
    mlflow_db = Path(settings.resolved_tracking_uri.removeprefix("sqlite:///")).relative_to(Path.cwd().resolve())
    return [
        f"{settings.artifacts_dir.as_posix()}/mlruns/1/meta.yaml",
        mlflow_db.as_posix(),
        settings.data_path.as_posix(),
    ]


@pytest.fixture
def ignored() -> list[str]:
    """Paths of a learner's working clone that `git check-ignore` ignores."""

    def check(paths: list[str]) -> list[str]:
        proc = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(paths),
                              capture_output=True, text=True, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.stdout.splitlines()

    return check  # type: ignore[return-value]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_learners_outputs_are_ignored(ignored, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Are catch-up's *.mine files, fraudguard's default outputs, scores and ds2mle's state all ignored?"""
    monkeypatch.chdir(REPO)
    outputs = [
        "src/fraudguard/splits.py.mine", "src/fraudguard/splits.py.mine.1", "src/fraudguard/cli.py.bak",
        "mlruns/0/meta.yaml", "mlflow.db", "scores.parquet", "tx.parquet", "yesterday.parquet",
        ".ds2mle/progress.json", *fraudguard_defaults(),
    ]
    assert sorted(ignored(outputs)) == sorted(outputs)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_course_itself_is_not_ignored(ignored) -> None:  # type: ignore[no-untyped-def]
    """Are the files a learner edits or the course ships still tracked, not swallowed by the new patterns?"""
    kept = ["src/fraudguard/splits.py", "src/fraudguard/_entry.py", "solutions/fraudguard/cli.py",
            "course/00-start-here/00-how-this-course-works.ipynb", "tests/data/sample.parquet"]
    assert ignored(kept) == []
