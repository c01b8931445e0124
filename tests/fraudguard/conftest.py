"""Fixtures for the fraudguard tests: which package is under test, seeded data, one trained model.

The tests check the course's *reference* package, ``solutions/fraudguard`` (``src/fraudguard`` is the
learner's skeleton). To run the same suite against your own package once you have exported module 01::

    FRAUDGUARD_UNDER_TEST=src python -m pytest tests/fraudguard

Subprocesses (the real uvicorn server, the console script) get the same package through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _helpers import REPO

UNDER_TEST = os.environ.get("FRAUDGUARD_UNDER_TEST", "reference")
PACKAGE_ROOT = {"reference": REPO / "solutions", "src": REPO / "src"}[UNDER_TEST]

# Put the package under test first on sys.path before any test module imports fraudguard.
for name in [m for m in sys.modules if m == "fraudguard" or m.startswith("fraudguard.")]:
    del sys.modules[name]
sys.path.insert(0, str(PACKAGE_ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import fraudguard  # noqa: E402 - after sys.path points at the package under test

assert Path(fraudguard.__file__).resolve().parent == PACKAGE_ROOT / "fraudguard", fraudguard.__file__


@pytest.fixture(scope="session")
def package_env() -> dict[str, str]:
    """Environment for subprocesses that must import the package under test."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


@pytest.fixture(scope="session")
def fraudguard_command() -> str:
    """The ``fraudguard`` console script of this environment (``pip install -e .`` creates it)."""
    script = Path(sys.executable).with_name("fraudguard")
    if not script.is_file():
        pytest.fail(f"{script} is missing: run `python -m pip install -e .` to create the console script")
    return str(script)


@pytest.fixture(scope="session")
def transactions() -> pd.DataFrame:
    """Two thousand seeded Paylane transactions: every code path, in milliseconds."""
    from ds2mle.data import generate_transactions

    return generate_transactions(n_rows=2_000, seed=7)


@pytest.fixture(scope="session")
def month() -> pd.DataFrame:
    """A month of traffic: enough fraud to train and evaluate a model."""
    from ds2mle.data import generate_transactions

    return generate_transactions(n_rows=30_000, seed=0)


@pytest.fixture(scope="session")
def saved_model(month: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the month and saved with fraudguard.train.save_model."""
    from fraudguard.train import save_model, train

    directory = tmp_path_factory.mktemp("model") / "model"
    save_model(train(month, max_iter=60), directory)
    return directory


def free_port() -> int:
    """A TCP port on localhost that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Undo any logging set-up a test's CLI run did (a handler on a closed capture stream breaks later tests)."""
    import logging

    def loggers() -> list[logging.Logger]:
        names = [n for n in logging.Logger.manager.loggerDict if n == "fraudguard" or n.startswith("fraudguard.")]
        return [logging.getLogger(), *(logging.getLogger(n) for n in names)]

    saved = {id(lg): (lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers()}
    yield
    for lg in loggers():
        if id(lg) in saved:
            _, handlers, level, propagate = saved[id(lg)]
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
        else:
            lg.handlers.clear()
            lg.setLevel(logging.NOTSET)
            lg.propagate = True
