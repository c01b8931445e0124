"""The module 01 assignment (harden-fraudguard) grades honestly: wrong answers lose points, right ones keep them.

Each variant fills the student version with the reference answers and swaps in one answer cell written the
way a learner plausibly would. All variants are graded together, for real, in one batch per session
(``grade_batch`` in ``conftest.py``), hidden tests included.
"""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import reference_answers, swap

pytestmark = pytest.mark.slow

SLUG = "01-engineering-foundations"
NOTEBOOK = f"{SLUG}/harden-fraudguard.ipynb"
AUTOGRADED, MANUAL = 24, 3

Graded = Any  # conftest.Graded: score, failed {grade_id: reason}, outcome, max_auto, manual, explain()


REF = reference_answers(NOTEBOOK)


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



# ---------------------------------------------------------------- a second set of correct answers, written differently
DIFFERENT_2 = {
    # pandas' groupby-rolling on a time column; the result comes back per card and is put back in input order
    "amount_vs_card_history": CARD_HISTORY_HEAD
    + """    if not pd.Timedelta(window) > pd.Timedelta(0):
        raise ValueError(f"window {window!r} is not positive")
    if not isinstance(transactions["timestamp"].dtype, pd.DatetimeTZDtype):
        raise ValueError("timestamp must carry a time zone")
    frame = pd.DataFrame({
        "card_id": transactions["card_id"].to_numpy(),
        "t": transactions["timestamp"].dt.tz_convert(None).to_numpy(),
        "amount": transactions["amount_eur"].to_numpy(dtype=float),
        "row": np.arange(len(transactions)),
    }).sort_values(["card_id", "t"], kind="stable")
    if frame.empty:
        return pd.Series([], index=transactions.index, dtype=float, name="amount_vs_card_history")
    past = frame.groupby("card_id", sort=False).rolling(pd.Timedelta(window), on="t", closed="left")["amount"].mean()
    ratio = np.empty(len(frame))
    ratio[frame["row"].to_numpy()] = frame["amount"].to_numpy() / past.to_numpy()
    return pd.Series(ratio, index=transactions.index, name="amount_vs_card_history")
""",
    # Annotated constraints instead of Field(...); BaseSettings forbids unknown fields by default
    "scoring_settings": """from typing import Annotated

from pydantic import Field, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="paylane_")

    threshold: Probability = 0.5
    max_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    model_uri: Annotated[str, Field(min_length=1)] = "models:/fraudguard@production"
    timeout_ms: PositiveInt = 50
""",
    # validators written by hand, and the domain error returned as a JSONResponse
    "review_app": """import re
from datetime import datetime
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, PositiveInt, field_validator


class ReviewRequest(BaseModel):
    transaction_id: str
    amount_cents: PositiveInt
    currency: str
    timestamp: datetime

    @field_validator("transaction_id")
    @classmethod
    def _id(cls, value):
        if not 1 <= len(value) <= 64:
            raise ValueError("transaction_id must have 1 to 64 characters")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value):
        if re.fullmatch(r"[A-Z]{3}", value) is None:
            raise ValueError("currency must be three upper-case letters")
        return value

    @field_validator("timestamp")
    @classmethod
    def _zone(cls, value):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError("timestamp must have a time zone")
        return value


class ReviewResponse(BaseModel):
    transaction_id: str
    score: float
    decision: Literal["approve", "review"]


def create_review_app(score, *, threshold=0.5):
    app = FastAPI()

    @app.post("/review", response_model=ReviewResponse)
    def review(request: ReviewRequest):
        try:
            value = score(request)
        except ValueError as error:
            return JSONResponse(status_code=422, content={"detail": str(error)})
        decision = "review" if value >= threshold else "approve"
        return ReviewResponse(transaction_id=request.transaction_id, score=value, decision=decision)

    return app
""",
    # bytes read once, compared in constant time; the allow-list checked with a comprehension
    "safe_artifacts": """import hmac


def save_artifact(model, directory):
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    data = sio.dumps(model)
    (folder / "model.skops").write_bytes(data)
    (folder / "metadata.json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}))
    return folder


def load_artifact(directory, *, trusted=None):
    folder = Path(directory)
    try:
        meta = json.loads((folder / "metadata.json").read_text())
        recorded = str(meta["sha256"])
    except Exception as exc:
        raise TamperedArtifactError(f"metadata unreadable: {exc!r}") from exc
    data = (folder / "model.skops").read_bytes()
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), recorded):
        raise TamperedArtifactError("sha256 mismatch")
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise UntrustedArtifactError(f"cannot read as skops: {exc!r}") from exc
    allowed = set(trusted or ())
    refused = [name for name in found if name not in allowed]
    if refused:
        raise UntrustedArtifactError(f"not trusted: {refused}")
    return sio.loads(data, trusted=found)
""",
}

# ---------------------------------------------------------------- more plausible wrong answers
WRONG |= {
    # the median of the window: equal to the mean whenever the window holds one or two payments
    "median_history": (
        "amount_vs_card_history",
        swap(DIFFERENT["amount_vs_card_history"], '.rolling(span, closed="left").mean()', '.rolling(span, closed="left").median()'),
        {"test_card_history_window_edges"},
    ),
    # rolling wants a plain index, so the zone is dropped: local wall-clock time, wrong across a DST change
    "wall_clock_time": (
        "amount_vs_card_history",
        swap(DIFFERENT["amount_vs_card_history"], 'transactions["timestamp"].dt.tz_convert("UTC")',
             'transactions["timestamp"].dt.tz_localize(None)'),
        {"test_card_history_time_zones"},
    ),
    # "normalises" the caller's column to UTC: right values, changed input (invisible on UTC data)
    "converts_callers_column": (
        "amount_vs_card_history",
        swap(REF["amount_vs_card_history"], '    result = np.full(len(transactions), np.nan)\n',
             '    transactions["timestamp"] = stamps.dt.tz_convert("UTC")\n    result = np.full(len(transactions), np.nan)\n'),
        {"test_card_history_bad_input"},
    ),
    # the window closed on both sides, minus the payment itself: ties at the same instant leak in
    "ties_as_history": (
        "amount_vs_card_history",
        swap(DIFFERENT["amount_vs_card_history"],
             '        mean = series.rolling(span, closed="left").mean().to_numpy()\n',
             '        both = series.rolling(span, closed="both")\n'
             '        count = both.count().to_numpy() - 1\n'
             '        total = both.sum().to_numpy() - card["amount_eur"].to_numpy()\n'
             '        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)\n'),
        {"test_card_history_window_edges"},
    ),
    # values computed in time order and returned in that order (right labels, wrong order)
    "input_order_lost": (
        "amount_vs_card_history",
        swap(REF["amount_vs_card_history"], '''        result[order] = ratio
    return pd.Series(result, index=transactions.index, name="amount_vs_card_history", dtype="float64")''',
             '''        return pd.Series(ratio, index=transactions.index[order], name="amount_vs_card_history", dtype="float64")
    return pd.Series(result, index=transactions.index, name="amount_vs_card_history", dtype="float64")'''),
        {"test_card_history_window_edges"},
    ),
    # a float timeout: 12.5 ms passes, although the table says int
    "float_timeout": (
        "scoring_settings",
        swap(REF["scoring_settings"], "timeout_ms: int = Field(default=50, gt=0)", "timeout_ms: float = Field(default=50, gt=0)"),
        {"test_settings_refuse_bad_values"},
    ),
    # validators written with `or`: NaN is neither <= 0 nor >= 1, so it gets through
    "nan_threshold": (
        "scoring_settings",
        """from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYLANE_", extra="forbid")
    threshold: float = 0.5
    max_batch_size: int = 500
    model_uri: str = "models:/fraudguard@production"
    timeout_ms: int = 50

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value):
        if value <= 0 or value >= 1:
            raise ValueError("threshold must be strictly between 0 and 1")
        return value

    @field_validator("max_batch_size")
    @classmethod
    def _batch(cls, value):
        if value < 1 or value > 10_000:
            raise ValueError("max_batch_size must be 1 to 10,000")
        return value

    @field_validator("model_uri")
    @classmethod
    def _uri(cls, value):
        if value == "":
            raise ValueError("model_uri is empty")
        return value

    @field_validator("timeout_ms")
    @classmethod
    def _timeout(cls, value):
        if value <= 0:
            raise ValueError("timeout_ms must be positive")
        return value
""",
        {"test_settings_refuse_bad_values"},
    ),
    # "20.0" from the environment made to work by truncating: 12.5 silently becomes 12
    "truncating_ints": (
        "scoring_settings",
        REF["scoring_settings"].replace("from pydantic import Field, ValidationError", "from pydantic import Field, ValidationError, field_validator")
        + '''
    @field_validator("max_batch_size", "timeout_ms", mode="before")
    @classmethod
    def _whole(cls, value):
        return int(float(value))
''',
        {"test_settings_refuse_bad_values"},
    ),
    # 0 and 1 let in: "between" read as inclusive
    "inclusive_threshold": (
        "scoring_settings",
        swap(REF["scoring_settings"], "Field(default=0.5, gt=0, lt=1)", "Field(default=0.5, ge=0, le=1)"),
        {"test_settings_refuse_bad_values"},
    ),
    # the length rule hand-written with < where the spec says "up to 64"
    "id_length_off_by_one": (
        "review_app",
        swap(
            swap(REF["review_app"], "transaction_id: str = Field(min_length=1, max_length=64)", """transaction_id: str

    @field_validator("transaction_id")
    @classmethod
    def _id_length(cls, value):
        if not 0 < len(value) < 64:
            raise ValueError("transaction_id must have 1 to 64 characters")
        return value"""),
            "from pydantic import AwareDatetime, BaseModel, Field", "from pydantic import AwareDatetime, BaseModel, Field, field_validator",
        ),
        {"test_review_rejects_malformed_requests"},
    ),
    # three characters, all "upper case": isupper() is True for "E1R"
    "currency_isupper": (
        "review_app",
        swap(
            swap(REF["review_app"], 'currency: str = Field(pattern=r"^[A-Z]{3}$")', """currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value):
        if len(value) != 3 or not value.isupper():
            raise ValueError("currency must be three upper-case letters")
        return value"""),
            "from pydantic import AwareDatetime, BaseModel, Field", "from pydantic import AwareDatetime, BaseModel, Field, field_validator",
        ),
        {"test_review_rejects_malformed_requests"},
    ),
    # every exception becomes a 422: bugs look like the client's fault
    "catch_all_422": (
        "review_app",
        swap(REF["review_app"], "except ValueError as exc:", "except Exception as exc:"),
        {"test_review_maps_domain_errors"},
    ),
    # a non-empty allow-list read as "the caller trusts this file": everything in it is loaded
    "trusted_means_everything": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], "unexpected = sorted(set(untrusted) - set(trusted or []))",
             "unexpected = [] if trusted else sorted(untrusted)"),
        {"test_artifacts_refuse_untrusted_code"},
    ),
    # the allow-list must match the file exactly: a longer, still safe list is refused
    "exact_allow_list": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], "unexpected = sorted(set(untrusted) - set(trusted or []))",
             "unexpected = sorted(set(untrusted) ^ set(trusted or []))"),
        {"test_artifacts_refuse_untrusted_code"},
    ),
    # a file that is not a skops zip: zipfile's error escapes instead of UntrustedArtifactError
    "not_skops_untyped": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], """    try:
        untrusted = sio.get_untrusted_types(file=source / "model.skops")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UntrustedArtifactError(f"not a skops file: {exc}") from None""",
             '    untrusted = sio.get_untrusted_types(file=source / "model.skops")'),
        {"test_artifacts_refuse_untrusted_code"},
    ),
    # only a missing metadata file is refused; unreadable JSON or a missing key escape as other errors
    "unreadable_metadata_untyped": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], "except (OSError, ValueError, KeyError, TypeError) as exc:", "except FileNotFoundError as exc:"),
        {"test_artifacts_refuse_tampering"},
    ),
    # the directory returned as a str
    "returns_str": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], "    return target\n", "    return str(target)\n"),
        {"test_artifacts_visible"},
    ),
    # mkdir without parents: fine for one new level, fails for runs/2026-01/model
    "mkdir_no_parents": (
        "safe_artifacts",
        swap(REF["safe_artifacts"], "target.mkdir(parents=True, exist_ok=True)", "target.mkdir(exist_ok=True)"),
        {"test_artifacts_visible"},
    ),
}

RIGHT = {"reference": {}, "different": DIFFERENT, "different_2": DIFFERENT_2}


@pytest.fixture(scope="session")
def graded(grade_batch: Any) -> dict[str, Graded]:
    variants = {f"right:{name}": answers for name, answers in RIGHT.items()}
    variants |= {f"wrong:{name}": {grade_id: code} for name, (grade_id, code, _) in WRONG.items()}
    return grade_batch("01", NOTEBOOK, variants)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_correct_answers_score_full_marks(graded: dict[str, Graded], name: str) -> None:
    result = graded[f"right:{name}"]
    assert (result.score, result.failed, result.manual) == (AUTOGRADED, {}, MANUAL), result.explain()


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_wrong_answers_lose_points_in_the_named_tests(graded: dict[str, Graded], name: str) -> None:
    """Each mistake costs points, in the test that names it, with a reason the learner can read."""
    result = graded[f"wrong:{name}"]
    must_fail = WRONG[name][2]
    assert result.score < AUTOGRADED, f"{name} got full marks"
    assert must_fail <= set(result.failed), f"{name}: expected {sorted(must_fail)} to fail\n{result.explain()}"
    assert all(result.failed.values()), f"{name}: a failed test gave no reason\n{result.explain()}"
