"""Paylane live: a deterministic replay of weeks of traffic, with labels that arrive late.

Monitoring, shadow and canary rollouts, incident drills and load tests all
need traffic. :func:`build_stream` turns the simulator into a stream of
events in time order:

- a **transaction** event when a payment is authorised (the request a
  payment gateway would send to the fraud service);
- a **label** event when its chargeback outcome becomes known
  (``label_available_at``, days to weeks later).

A drift scenario or a fault can be switched on at a chosen moment. The
whole window is simulated once per variant with the *same* seed, so
customers, cards and merchants are the same before and after the switch,
and only what the scenario moves changes.

:func:`replay` plays a stream against a target: a function that scores a
list of transactions (a batch scorer), or the real service over HTTP
(:class:`HttpTarget`, for uvicorn on localhost). It can keep the stream's
own clock at a chosen speed-up, and records what was sent, what came back
and when. The stream is the same for the same plan; so are the responses of
a deterministic scorer.

This module never imports ``fraudguard``: it speaks HTTP or calls a function
it is given.

Examples
--------
>>> from ds2mle.data.replay import ReplayPlan, build_stream, replay
>>> stream = build_stream(ReplayPlan(days=7, rows_per_day=300, seed=3, drift="merchant_mix", drift_at_day=4))
>>> stream.transactions["drifted"].any() and not stream.transactions["drifted"].iloc[0]
True
>>> log = replay(stream, lambda batch: [{"fraud_probability": 0.0} for _ in batch], batch_size=100)
>>> len(log.responses) == len(stream.transactions)
True
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ds2mle.data.drift import DRIFT_SCENARIOS
from ds2mle.data.faults import FAULTS, inject_fault
from ds2mle.data.transactions import generate_transactions
from ds2mle.errors import DataError

__all__ = ["HttpTarget", "ReplayLog", "ReplayPlan", "Stream", "build_stream", "replay"]

Scorer = Callable[[list[dict[str, Any]]], Sequence[dict[str, Any]]]

_LABEL_COLUMNS = ("transaction_id", "is_fraud", "label_available_at")


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay.

    Attributes
    ----------
    days : int
        Length of the window in days (weeks of traffic: 7, 14, 28, ...).
    rows_per_day : int
        Average transactions a day (Paylane carries about 2,000).
    seed : int
        The simulator's seed: the same plan gives the same stream.
    start : str
        First day of the window (UTC).
    drift : str, optional
        A drift scenario (``ds2mle data drifts`` lists them), switched on at
        ``drift_at_day``.
    drift_at_day : int
        Day (0-based) from which transactions come from the drifted traffic.
    drift_strength : float
        How far the scenario moves its statistic (1 = as documented).
    fault : str, optional
        A fault from the catalogue (``ds2mle data faults``), applied to the
        transactions from ``fault_at_day`` on.
    fault_at_day : int
        Day (0-based) from which the fault is on.
    fault_rate : float, optional
        The fault's rate; its documented default when None.
    """

    days: int = 14
    rows_per_day: int = 2_000
    seed: int = 0
    start: str = "2026-01-01"
    drift: str | None = None
    drift_at_day: int = 0
    drift_strength: float = 1.0
    fault: str | None = None
    fault_at_day: int = 0
    fault_rate: float | None = None

    def validate(self) -> None:
        """Raise :class:`DataError` naming the field and the fix when the plan is impossible."""
        if not isinstance(self.days, int) or self.days < 1:
            raise DataError(f"days was {self.days!r}; replay at least one whole day, e.g. days=14")
        if not isinstance(self.rows_per_day, int) or self.rows_per_day < 10:
            raise DataError(f"rows_per_day was {self.rows_per_day!r}; use at least 10, e.g. rows_per_day=2_000")
        if self.drift is not None and self.drift not in DRIFT_SCENARIOS:
            raise DataError(f"unknown drift scenario {self.drift!r}; choose one of {', '.join(sorted(DRIFT_SCENARIOS))}")
        if self.fault is not None and self.fault not in FAULTS:
            raise DataError(f"unknown fault {self.fault!r}; choose one of {', '.join(sorted(FAULTS))}")
        for name in ("drift_at_day", "fault_at_day"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < self.days:
                raise DataError(f"{name} was {value!r}; it must be a day of the window, 0 to {self.days - 1}")


@dataclass(frozen=True)
class Stream:
    """A replayable stream: transactions and their late labels, each in time order.

    Attributes
    ----------
    plan : ReplayPlan
    transactions : DataFrame
        The simulator's columns without the label columns, plus ``drifted``
        and ``faulty`` flags (what the replay switched on, for evaluating a
        detector; a scorer never sees them), sorted by ``timestamp``.
    labels : DataFrame
        ``transaction_id``, ``is_fraud``, ``label_available_at``, sorted by
        ``label_available_at``.
    """

    plan: ReplayPlan
    transactions: pd.DataFrame
    labels: pd.DataFrame

    def events(self) -> Iterator[tuple[pd.Timestamp, Literal["transaction", "label"], dict[str, Any]]]:
        """Every event in time order: ``(when, kind, record)``; at equal times a transaction comes first."""
        tx = self.transactions
        lb = self.labels
        tx_times = list(tx["timestamp"])
        lb_times = list(lb["label_available_at"])
        tx_records = _records(tx.drop(columns=["drifted", "faulty"]))
        lb_records = _records(lb)
        i = j = 0
        while i < len(tx) or j < len(lb):
            if j >= len(lb) or (i < len(tx) and tx_times[i] <= lb_times[j]):
                yield tx_times[i], "transaction", tx_records[i]
                i += 1
            else:
                yield lb_times[j], "label", lb_records[j]
                j += 1


def build_stream(plan: ReplayPlan) -> Stream:
    """Simulate the plan's window and switch its drift and fault on at their moments.

    Parameters
    ----------
    plan : ReplayPlan

    Returns
    -------
    Stream

    Raises
    ------
    DataError
        If the plan is impossible (an unknown scenario or fault, a day outside the window).
    """
    plan.validate()
    n_rows = plan.days * plan.rows_per_day
    clean = generate_transactions(n_rows=n_rows, seed=plan.seed, start=plan.start, days=plan.days)
    start = pd.Timestamp(plan.start, tz="UTC")
    frame = clean.assign(drifted=False)
    if plan.drift is not None:
        drifted = generate_transactions(
            n_rows=n_rows, seed=plan.seed, start=plan.start, days=plan.days, drift=plan.drift,
            drift_strength=plan.drift_strength,
        )
        switch = start + pd.Timedelta(days=plan.drift_at_day)
        frame = pd.concat(
            [clean[clean["timestamp"] < switch].assign(drifted=False), drifted[drifted["timestamp"] >= switch].assign(drifted=True)],
            ignore_index=True,
        )
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    width = max(9, len(str(len(frame))))
    frame["transaction_id"] = [f"tx_{i:0{width}d}" for i in range(len(frame))]  # unique across the splice
    frame["faulty"] = False
    if plan.fault is not None:
        switch = start + pd.Timedelta(days=plan.fault_at_day)
        after = frame["timestamp"] >= switch
        broken = inject_fault(frame[after].drop(columns=["drifted", "faulty"]), plan.fault, seed=plan.seed,
                              rate=plan.fault_rate)
        frame = _splice_fault(frame[~after], broken, frame[after])
    labels = frame[list(_LABEL_COLUMNS)].dropna(subset=["label_available_at"])
    labels = labels.sort_values("label_available_at", kind="stable").reset_index(drop=True)
    transactions = frame.drop(columns=[c for c in ("is_fraud", "label_available_at") if c in frame.columns])
    return Stream(plan=plan, transactions=transactions.reset_index(drop=True), labels=labels)


def _splice_fault(before: pd.DataFrame, broken: pd.DataFrame, original_after: pd.DataFrame) -> pd.DataFrame:
    """The rows before the switch, then the faulty rows (whatever their columns now are)."""
    flags = original_after[["transaction_id", "drifted"]]
    if "transaction_id" in broken.columns:
        broken = broken.merge(flags, on="transaction_id", how="left")
        broken["drifted"] = broken["drifted"].astype("boolean").fillna(False).astype(bool)
    else:  # a fault that renamed or dropped the id: keep the flags by position
        broken = broken.assign(drifted=original_after["drifted"].to_numpy()[: len(broken)])
    broken = broken.assign(faulty=True)
    return pd.concat([before, broken], ignore_index=True)


@dataclass(frozen=True)
class HttpTarget:
    """The real service, over HTTP (uvicorn on localhost, or any base URL).

    Attributes
    ----------
    base_url : str
        For example ``"http://127.0.0.1:8000"``.
    path : str
        The endpoint each transaction is POSTed to as JSON.
    timeout : float
        Seconds to wait for one answer.
    """

    base_url: str
    path: str = "/predict"
    timeout: float = 10.0


@dataclass
class ReplayLog:
    """What was sent, what came back, and when.

    Attributes
    ----------
    responses : DataFrame
        One row per transaction: ``transaction_id``, ``event_time`` (the
        stream's clock), ``sent_at`` (seconds since the replay started, wall
        clock), ``lag_s`` (how late it was sent against the schedule at the
        chosen speed-up: the stream's own backlog), ``latency_s``, ``status``
        (HTTP status, or 200 for a function target) and the response fields.
    labels : DataFrame
        The label events delivered, with their time.
    """

    responses: pd.DataFrame
    labels: pd.DataFrame = field(default_factory=pd.DataFrame)


def replay(
    stream: Stream,
    target: Scorer | HttpTarget,
    *,
    speedup: float | None = None,
    batch_size: int = 1,
    on_label: Callable[[dict[str, Any]], None] | None = None,
    limit: int | None = None,
) -> ReplayLog:
    """Play ``stream`` against ``target`` in time order and record what happened.

    Parameters
    ----------
    stream : Stream
        From :func:`build_stream`.
    target : callable or HttpTarget
        A function that scores a list of transaction records (JSON-ready
        dicts) and returns one dict per record, or the service over HTTP (one
        POST per transaction; ``batch_size`` must then be 1).
    speedup : float, optional
        Keep the stream's clock, this many times faster than real time
        (3600: an hour of Paylane a second). None: as fast as the target
        answers.
    batch_size : int, default 1
        Transactions handed to a function target at once (micro-batches).
    on_label : callable, optional
        Called with each label record when it arrives on the stream's clock.
    limit : int, optional
        Stop after this many transactions.

    Returns
    -------
    ReplayLog

    Raises
    ------
    DataError
        If an argument is out of range, or the target answers with the wrong
        number of results.
    """
    if speedup is not None and not (isinstance(speedup, int | float) and speedup > 0 and math.isfinite(speedup)):
        raise DataError(f"speedup was {speedup!r}; give a positive number (3600 = an hour a second) or None")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"batch_size was {batch_size!r}; give a positive whole number")
    if isinstance(target, HttpTarget) and batch_size != 1:
        raise DataError("an HttpTarget is sent one transaction per request; use batch_size=1")
    send = _http_sender(target) if isinstance(target, HttpTarget) else target
    rows: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    pending: list[tuple[pd.Timestamp, dict[str, Any]]] = []
    started = time.perf_counter()
    origin: pd.Timestamp | None = None

    def flush() -> None:
        if not pending:
            return
        first_time = pending[0][0]
        due = 0.0 if speedup is None or origin is None else (first_time - origin).total_seconds() / speedup
        now = time.perf_counter() - started
        if speedup is not None and due > now:
            time.sleep(due - now)
        sent_at = time.perf_counter() - started
        answers = list(send([record for _, record in pending]))
        latency = time.perf_counter() - started - sent_at
        if len(answers) != len(pending):
            raise DataError(f"the target answered {len(answers)} results for {len(pending)} transactions")
        for (when, record), answer in zip(pending, answers, strict=True):
            status = int(answer.pop("_status", 200)) if isinstance(answer, dict) else 200
            rows.append({
                "transaction_id": record.get("transaction_id"), "event_time": when, "sent_at": sent_at,
                "lag_s": max(0.0, sent_at - due), "latency_s": latency, "status": status,
                **(answer if isinstance(answer, dict) else {"response": answer}),
            })
        pending.clear()

    sent = 0
    for when, kind, record in stream.events():
        origin = when if origin is None else origin
        if kind == "label":
            labels.append({**record, "delivered_at_event_time": when})
            if on_label is not None:
                on_label(record)
            continue
        if limit is not None and sent >= limit:
            break
        pending.append((when, record))
        sent += 1
        if len(pending) >= batch_size:
            flush()
    flush()
    return ReplayLog(responses=pd.DataFrame(rows), labels=pd.DataFrame(labels))


def _http_sender(target: HttpTarget) -> Scorer:
    import httpx

    client = httpx.Client(base_url=target.base_url, timeout=target.timeout)

    def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers = []
        for record in batch:
            try:
                response = client.post(target.path, content=json.dumps(record), headers={"content-type": "application/json"})
            except httpx.HTTPError as exc:
                answers.append({"_status": 0, "error": f"{type(exc).__name__}: {exc}"})
                continue
            try:
                body = response.json()
            except ValueError:
                body = {"error": response.text[:200]}
            answers.append({"_status": response.status_code, **(body if isinstance(body, dict) else {"response": body})})
        return answers

    return send


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready dicts: timestamps as ISO 8601 with their offset, numpy scalars as Python ones, NaN as None."""
    out = []
    columns = list(frame.columns)
    values = [frame[c].to_numpy(dtype=object) for c in columns]
    for i in range(len(frame)):
        record = {}
        for name, column in zip(columns, values, strict=True):
            value = column[i]
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            record[name] = value
        out.append(record)
    return out
