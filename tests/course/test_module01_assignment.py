"""The module 01 assignment's hidden tests reject plausible wrong answers and accept different correct ones.

Each case fills the student version with the reference answers, swaps in one answer written the way a
learner plausibly would, and self-grades it with real kernels, hidden tests included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.selfgrade import self_grade
from ds2mle.manifest import load_course
from ds2mle.notebooks import read_notebook, write_notebook

pytestmark = pytest.mark.slow

SLUG = "01-engineering-foundations"
NOTEBOOK = f"{SLUG}/harden-fraudguard.ipynb"
AUTOGRADED, MANUAL = 24, 3

CARD_HISTORY_HEAD = """#| export
import numpy as np
import pandas as pd


def amount_vs_card_history(transactions, *, window="7D"):
"""

# ---------------------------------------------------------------- correct answers, written differently
DIFFERENT = {
    # pandas' own time-based rolling window, closed on the left, one card at a time
    "amount_vs_card_history": CARD_HISTORY_HEAD
    + """    span = pd.Timedelta(window)
    if span <= pd.Timedelta(0):
        raise ValueError("window must be positive")
    if transactions["timestamp"].dt.tz is None:
        raise ValueError("naive timestamps")
    out = pd.Series(np.nan, index=transactions.index, name="amount_vs_card_history", dtype=float)
    utc = transactions.assign(timestamp=transactions["timestamp"].dt.tz_convert("UTC"))
    for _, card in utc.groupby("card_id"):
        card = card.sort_values("timestamp", kind="stable")
        series = pd.Series(card["amount_eur"].to_numpy(), index=card["timestamp"])
        mean = series.rolling(span, closed="left").mean().to_numpy()
        out.loc[card.index] = card["amount_eur"].to_numpy() / mean
    return out
""",
    "scoring_settings": """from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="paylane_", extra="forbid")
    threshold: float = 0.5
    max_batch_size: int = 500
    model_uri: str = "models:/fraudguard@production"
    timeout_ms: int = 50

    @field_validator("threshold")
    @classmethod
    def _open_unit_interval(cls, value):
        if not 0 < value < 1:
            raise ValueError("threshold must be in (0, 1)")
        return value

    @field_validator("max_batch_size")
    @classmethod
    def _batch(cls, value):
        if not 1 <= value <= 10_000:
            raise ValueError("max_batch_size must be 1..10000")
        return value

    @field_validator("model_uri")
    @classmethod
    def _uri(cls, value):
        if not value:
            raise ValueError("model_uri is empty")
        return value

    @field_validator("timeout_ms")
    @classmethod
    def _timeout(cls, value):
        if value <= 0:
            raise ValueError("timeout_ms must be positive")
        return value
""",
    # an exception handler instead of try/except in the endpoint
    "review_app": """from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import AfterValidator, BaseModel, StringConstraints, conint


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp needs a time zone")
    return value


class ReviewRequest(BaseModel):
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount_cents: conint(strict=False, gt=0)
    currency: Annotated[str, StringConstraints(pattern="^[A-Z]{3}$")]
    timestamp: Annotated[datetime, AfterValidator(_aware)]


class ReviewResponse(BaseModel):
    transaction_id: str
    score: float
    decision: Literal["approve", "review"]


class _Domain(Exception):
    pass


def create_review_app(score, *, threshold=0.5):
    app = FastAPI()

    @app.exception_handler(_Domain)
    async def domain(request: Request, exc: _Domain):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.post("/review")
    async def review(body: ReviewRequest) -> ReviewResponse:
        try:
            value = score(body)
        except ValueError as exc:
            raise _Domain(str(exc)) from exc
        return ReviewResponse(transaction_id=body.transaction_id, score=value,
                              decision="approve" if value < threshold else "review")

    return app
""",
    "safe_artifacts": """def save_artifact(model, directory):
    directory = Path(directory)
    os.makedirs(directory, exist_ok=True)
    path = directory / "model.skops"
    sio.dump(model, str(path))
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    (directory / "metadata.json").write_text(json.dumps({"sha256": digest.hexdigest(), "format": "skops"}))
    return directory


def load_artifact(directory, *, trusted=None):
    directory = Path(directory)
    if not (directory / "metadata.json").exists():
        raise TamperedArtifactError("metadata.json is missing")
    try:
        recorded = json.loads((directory / "metadata.json").read_text())["sha256"]
    except Exception as exc:
        raise TamperedArtifactError("unreadable metadata") from exc
    data = (directory / "model.skops").read_bytes()
    if hashlib.sha256(data).hexdigest() != recorded:
        raise TamperedArtifactError("checksum mismatch")
    if not zipfile.is_zipfile(directory / "model.skops"):
        raise UntrustedArtifactError("not a skops archive")
    found = sio.get_untrusted_types(data=data)
    refused = [t for t in found if t not in (trusted or ())]
    if refused:
        raise UntrustedArtifactError(f"refusing {refused}")
    return sio.loads(data, trusted=found)
""",
}

# ---------------------------------------------------------------- plausible wrong answers
WRONG = {
    # Dana's habit: the card's mean over the whole table, future payments included
    "future_leakage": (
        "amount_vs_card_history",
        CARD_HISTORY_HEAD
        + """    if pd.Timedelta(window) <= pd.Timedelta(0):
        raise ValueError("window must be positive")
    if transactions["timestamp"].dt.tz is None:
        raise ValueError("naive timestamps")
    others = transactions.groupby("card_id")["amount_eur"].transform("sum") - transactions["amount_eur"]
    count = transactions.groupby("card_id")["amount_eur"].transform("count") - 1
    return (transactions["amount_eur"] / (others / count.where(count > 0))).rename("amount_vs_card_history").astype(float)
""",
        {"test_card_history_never_uses_the_future"},
    ),
    # rolling over the past, but the window's boundary is excluded: (t - window, t)
    "off_by_one_window": (
        "amount_vs_card_history",
        DIFFERENT["amount_vs_card_history"].replace('closed="left"', 'closed="neither"'),
        {"test_card_history_window_edges"},
    ),
    # naive timestamps silently read as UTC instead of refused
    "naive_datetimes_accepted": (
        "amount_vs_card_history",
        DIFFERENT["amount_vs_card_history"].replace(
            """    if transactions["timestamp"].dt.tz is None:
        raise ValueError("naive timestamps")
""",
            """    if transactions["timestamp"].dt.tz is None:
        transactions = transactions.assign(timestamp=transactions["timestamp"].dt.tz_localize("UTC"))
""",
        ),
        {"test_card_history_bad_input"},
    ),
    # bad settings "fixed" by clamping into range, and typos ignored
    "clamped_settings": (
        "scoring_settings",
        """from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYLANE_", extra="ignore")
    threshold: float = 0.5
    max_batch_size: int = 500
    model_uri: str = "models:/fraudguard@production"
    timeout_ms: int = 50

    @field_validator("threshold")
    @classmethod
    def _clamp_threshold(cls, value):
        if value >= 1:
            raise ValueError("threshold must be below 1")
        return min(max(value, 0.01), 0.99)

    @field_validator("max_batch_size", "timeout_ms")
    @classmethod
    def _clamp_ints(cls, value):
        return min(max(value, 1), 10_000)
""",
        {"test_settings_refuse_bad_values"},
    ),
    # every error from the model turned into a harmless-looking 200
    "swallowed_errors": (
        "review_app",
        DIFFERENT["review_app"].replace(
            """        try:
            value = score(body)
        except ValueError as exc:
            raise _Domain(str(exc)) from exc""",
            """        try:
            value = score(body)
        except Exception:
            value = 0.0""",
        ),
        {"test_review_maps_domain_errors"},
    ),
    # the checksum is written but never checked, and every type in the file is trusted
    "unchecked_artifacts": (
        "safe_artifacts",
        """def save_artifact(model, directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sio.dump(model, directory / "model.skops")
    (directory / "metadata.json").write_text(json.dumps({"sha256": hashlib.sha256((directory / "model.skops").read_bytes()).hexdigest()}))
    return directory


def load_artifact(directory, *, trusted=None):
    path = Path(directory) / "model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))
""",
        {"test_artifacts_refuse_tampering", "test_artifacts_refuse_untrusted_code"},
    ),
    # pickle with a checksum: tamper-evident, but loading still runs whatever the file says
    "pickle_artifacts": (
        "safe_artifacts",
        """def save_artifact(model, directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.skops").write_bytes(pickle.dumps(model))
    (directory / "metadata.json").write_text(json.dumps({"sha256": hashlib.sha256((directory / "model.skops").read_bytes()).hexdigest()}))
    return directory


def load_artifact(directory, *, trusted=None):
    directory = Path(directory)
    try:
        recorded = json.loads((directory / "metadata.json").read_text())["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise TamperedArtifactError(str(exc)) from None
    data = (directory / "model.skops").read_bytes()
    if hashlib.sha256(data).hexdigest() != recorded:
        raise TamperedArtifactError("checksum mismatch")
    return pickle.loads(data)
""",
        {"test_artifacts_refuse_tampering", "test_artifacts_refuse_untrusted_code"},
    ),
}


def reference_answers(root: Path) -> dict[str, str]:
    source = read_notebook(root / "solutions" / "assignments" / NOTEBOOK)
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            answers[meta["grade_id"]] = re.sub(r"\n?[ \t]*### (BEGIN|END) SOLUTION[ \t]*", "", cell.source)
    return answers


def submit(root: Path, answers: dict[str, str]) -> None:
    path = root / "assignments" / NOTEBOOK
    nb = read_notebook(path)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    write_notebook(nb, path)


def grade(root: Path) -> tuple[float, set[str], list[tuple[str, str]]]:
    report = self_grade(load_course(root), "01")
    failed = [(t.grade_id, t.reason) for r in report.notebooks for t in r.tests if t.status == "failed"]
    assert report.manual_points == MANUAL
    return report.score, {gid for gid, _ in failed}, failed


def test_reference_answers_score_full_marks(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    submit(root, reference_answers(root))
    score, failed, reasons = grade(root)
    assert (score, failed) == (AUTOGRADED, set()), reasons


def test_correct_answers_written_differently_score_full_marks(repo_copy: Callable[[], Path]) -> None:
    root = repo_copy()
    submit(root, {**reference_answers(root), **DIFFERENT})
    score, failed, reasons = grade(root)
    assert (score, failed) == (AUTOGRADED, set()), reasons


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_wrong_answers_lose_points_in_their_task(repo_copy: Callable[[], Path], name: str) -> None:
    """Do the hidden tests catch each mistake the visible tests let through, with a reason?"""
    root = repo_copy()
    grade_id, code, must_fail = WRONG[name]
    submit(root, {**reference_answers(root), grade_id: code})
    score, failed, reasons = grade(root)
    assert score < AUTOGRADED
    assert must_fail <= failed, f"{name}: expected {must_fail} to fail, failed: {reasons}"
    assert all(reason for _, reason in reasons)
