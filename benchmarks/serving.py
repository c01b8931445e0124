"""Benchmark fraudguard's HTTP services on localhost, side by side: module 01's and module 04's.

It trains a model on simulated Paylane data, then for each command of
``--command`` (default: both ``serve``, module 01's service, and
``serve-fast``, module 04's) starts the real service (uvicorn on a free
localhost port) and measures it with httpx:

1. one client, one request at a time: the service time without queueing, and
   the server's CPU time per prediction (from the process's CPU clock);
2. ``--clients`` concurrent clients sending single predictions as fast as they
   can: latency at saturation and the maximum request rate (its capacity);
3. requests on a fixed schedule at half that capacity (open loop): latency
   under a load the service can carry, each measured from the moment the
   request was *due*, so a stalled server cannot hide its queue
   (coordinated omission);
4. the same clients sending ``--batch-size`` rows per request: rows/s of the
   batched endpoint against single requests.

Every phase is bounded in requests and in seconds; each server is stopped at
the end, whatever happens. It prints figures and whether module 04's targets
are met (p99 at half capacity <= 5x the one-client p50; batched rows/s >= 20x
single); it does not pass or fail.

Usage::

    python benchmarks/serving.py                          # both services of the reference package
    python benchmarks/serving.py --command serve-fast     # one of them
    python benchmarks/serving.py --package src            # your own src/fraudguard
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil

from ds2mle.data import COLUMNS

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"reference": REPO / "solutions", "src": REPO / "src"}
COMMANDS = ("serve", "serve-fast")
# What a caller sends: every simulator column except the labels, which arrive later.
REQUEST_FIELDS = tuple(c for c in COLUMNS if c not in ("is_fraud", "label_available_at"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=sorted(PACKAGES), default="reference")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per load phase (default 2000)")
    parser.add_argument("--batch-size", type=int, default=50, help="rows per batched request (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit of each phase (default 30)")
    parser.add_argument(
        "--command",
        action="append",
        choices=COMMANDS,
        help="service to measure (repeatable; default: serve and serve-fast, in that order)",
    )
    args = parser.parse_args(argv)
    commands = args.command or list(COMMANDS)

    sys.path.insert(0, str(PACKAGES[args.package]))
    from fraudguard.train import save_model, train

    from ds2mle.data import generate_transactions, write_parquet

    with tempfile.TemporaryDirectory(prefix="fraudguard-bench-") as scratch_name:
        scratch = Path(scratch_name)
        started = time.perf_counter()
        transactions = generate_transactions(n_rows=60_000, seed=0)
        last_day = transactions["timestamp"].max().floor("D")
        past = transactions[transactions["timestamp"] < last_day]
        today = transactions[transactions["timestamp"] >= last_day]
        model = save_model(train(past), scratch / "model")
        write_parquet(past[past["timestamp"] >= last_day - pd.Timedelta(days=1)], scratch / "history.parquet")
        bodies = [_body(row) for row in today[list(REQUEST_FIELDS)].itertuples(index=False)]
        print(
            f"model {model.version} trained on {len(past):,} rows in {time.perf_counter() - started:.1f} s; "
            f"{len(bodies):,} transactions of {last_day:%Y-%m-%d} to send"
        )

        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(PACKAGES[args.package]), os.environ.get("PYTHONPATH", "")]),
            "FRAUDGUARD_MODEL_URI": str(scratch / "model"),
            "FRAUDGUARD_HISTORY_PATH": str(scratch / "history.parquet"),
            "FRAUDGUARD_LOG_LEVEL": "WARNING",
            "FRAUDGUARD_MAX_BATCH_SIZE": str(max(1_000, args.batch_size)),
        }
        every: dict[str, dict[str, dict[str, float]]] = {}
        for command in commands:
            with _server(env, command) as (base_url, process):
                every[command] = asyncio.run(_run(base_url, bodies, args, process))
            _report(command, every[command], args)
    if len(every) > 1:
        _compare(every)
    print(json.dumps({c: {k: {n: round(v, 3) for n, v in r.items()} for k, r in res.items()} for c, res in every.items()}))
    return 0


@contextmanager
def _server(env: dict[str, str], subcommand: str) -> Iterator[tuple[str, psutil.Process]]:
    """Start ``fraudguard <subcommand>`` on a free localhost port; always stop it."""
    port = _free_port()
    # the console script `pip install -e .` creates; it imports fraudguard from PYTHONPATH first
    command = [
        str(Path(sys.executable).with_name("fraudguard")),
        subcommand,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"the service exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not answer /health within 60 s")
            time.sleep(0.2)
        yield base_url, psutil.Process(process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _run(
    base_url: str, bodies: list[dict[str, Any]], args: argparse.Namespace, server: psutil.Process
) -> dict[str, dict[str, float]]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        await _closed_loop(
            client, bodies, clients=args.clients, total=200, seconds=args.seconds, path="/predict"
        )
        cpu_before = sum(server.cpu_times()[:2])
        sequential = await _closed_loop(
            client, bodies, clients=1, total=min(500, args.requests), seconds=args.seconds, path="/predict"
        )
        sequential["server_cpu_ms_per_prediction"] = (
            (sum(server.cpu_times()[:2]) - cpu_before) * 1_000 / sequential["requests"]
        )
        results = {
            "sequential": sequential,
            "saturated": await _closed_loop(
                client,
                bodies,
                clients=args.clients,
                total=args.requests,
                seconds=args.seconds,
                path="/predict",
            ),
        }
        rate = results["saturated"]["requests_per_s"] / 2
        results["half_load"] = await _open_loop(
            client, bodies, clients=args.clients, total=args.requests, seconds=args.seconds, rate=rate
        )
        batches = [
            {"transactions": bodies[i : i + args.batch_size]}
            for i in range(0, len(bodies) - args.batch_size + 1, args.batch_size)
        ]
        results["batched"] = await _closed_loop(
            client,
            batches,
            clients=args.clients,
            total=max(1, args.requests // 10),
            seconds=args.seconds,
            path="/predict-batch",
            rows_per_request=args.batch_size,
        )
    return results


async def _closed_loop(
    client: httpx.AsyncClient,
    bodies: list[dict[str, Any]],
    *,
    clients: int,
    total: int,
    seconds: float,
    path: str,
    rows_per_request: int = 1,
) -> dict[str, float]:
    """``clients`` workers, each sending its next request as soon as the last one answered."""
    latencies: list[float] = []
    next_index = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < total and time.perf_counter() < deadline:
            body = bodies[next_index % len(bodies)]
            next_index += 1
            sent = time.perf_counter()
            response = await client.post(path, json=body)
            latencies.append(time.perf_counter() - sent)
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return _summary(latencies, time.perf_counter() - started, rows_per_request)


async def _open_loop(
    client: httpx.AsyncClient,
    bodies: list[dict[str, Any]],
    *,
    clients: int,
    total: int,
    seconds: float,
    rate: float,
) -> dict[str, float]:
    """Requests due on a fixed schedule of ``rate`` per second, at most ``clients`` in flight.

    Latency counts from when a request was due, not from when a free
    connection let it go: time spent waiting behind a slow answer is
    latency the caller sees (no coordinated omission).
    """
    latencies: list[float] = []
    gate = asyncio.Semaphore(clients)
    n = min(total, int(rate * seconds))
    started = time.perf_counter()

    async def one(i: int) -> None:
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        async with gate:
            response = await client.post("/predict", json=bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - due)
            response.raise_for_status()

    await asyncio.gather(*(one(i) for i in range(n)))
    summary = _summary(latencies, time.perf_counter() - started, 1)
    summary["offered_rate"] = rate
    return summary


def _summary(latencies: list[float], seconds: float, rows_per_request: int) -> dict[str, float]:
    ms = np.asarray(latencies) * 1_000
    return {
        "requests": float(len(ms)),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "requests_per_s": len(ms) / seconds,
        "rows_per_s": len(ms) * rows_per_request / seconds,
    }


def _body(row: tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(REQUEST_FIELDS, row, strict=True))
    values["timestamp"] = values["timestamp"].isoformat()
    values["amount_cents"] = int(values["amount_cents"])
    return {key: value if isinstance(value, (int, str)) else str(value) for key, value in values.items()}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report(command: str, results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    labels = {
        "sequential": "single, 1 client",
        "saturated": f"single, {args.clients} clients, closed loop",
        "half_load": f"single, {args.clients} clients at {results['half_load']['offered_rate']:.0f} req/s",
        "batched": f"batch of {args.batch_size}, {args.clients} clients",
    }
    print(f"\n== fraudguard {command}: {results['sequential']['server_cpu_ms_per_prediction']:.2f} ms of server CPU per prediction")
    print(
        f"{'phase':<40} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'rows/s':>9}"
    )
    for key, label in labels.items():
        r = results[key]
        print(
            f"{label:<40} {r['requests']:8.0f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['requests_per_s']:8.0f} {r['rows_per_s']:9.0f}"
        )
    single, batched = results["saturated"]["rows_per_s"], results["batched"]["rows_per_s"]
    print(
        f"\nbatched vs single: {batched:,.0f} vs {single:,.0f} rows/s ({batched / single:.1f}x) "
        f"on {os.cpu_count()} CPU cores (client and server share them)"
    )
    tail = results["half_load"]["p99_ms"] / results["sequential"]["p50_ms"]
    print(
        f"targets: p99 at half capacity {tail:.1f}x the one-client p50 (goal <= 5x: "
        f"{'met' if tail <= 5 else 'missed'}); batched {batched / single:.1f}x single "
        f"(goal >= 20x: {'met' if batched / single >= 20 else 'missed'})"
    )


def _compare(every: dict[str, dict[str, dict[str, float]]]) -> None:
    """Before (the first command) against after (the last), as ratios from this one run."""
    (before_name, before), (after_name, after) = list(every.items())[0], list(every.items())[-1]
    rows = [
        ("server CPU ms per prediction", "sequential", "server_cpu_ms_per_prediction"),
        ("one client p50 ms", "sequential", "p50_ms"),
        ("one client p99 ms", "sequential", "p99_ms"),
        ("capacity, single requests/s", "saturated", "requests_per_s"),
        ("half capacity p50 ms", "half_load", "p50_ms"),
        ("half capacity p99 ms", "half_load", "p99_ms"),
        ("batched rows/s", "batched", "rows_per_s"),
    ]
    print(f"\n{'before/after, same run':<32} {before_name:>12} {after_name:>12} {'ratio':>8}")
    for label, phase, key in rows:
        b, a = before[phase][key], after[phase][key]
        print(f"{label:<32} {b:12.2f} {a:12.2f} {b / a if 'ms' in label else a / b:7.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
