"""Benchmark the Paylane simulator: time and peak memory to generate a batch.

Targets: 1,000,000 rows in at most 10 s and 1.5 GB peak memory (2 cores).
The generation runs in a fresh Python subprocess, so its peak resident
memory (``ru_maxrss``) belongs to this one run and nothing else. This is a
benchmark, not a test: it prints its figures and exits 0 either way.

Usage::

    python benchmarks/simulator.py               # 1,000,000 rows
    python benchmarks/simulator.py --rows 200000 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
TARGET_MB = 1_500.0


def _peak_mb() -> float:
    """Peak resident memory of this process, in MB (tracemalloc's view where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        import tracemalloc

        return tracemalloc.get_traced_memory()[1] / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, KiB on Linux


def _child(rows: int, seed: int) -> None:
    """Run once in the subprocess and print the measurements as JSON."""
    try:
        import resource  # noqa: F401
    except ImportError:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    from ds2mle.data import generate_transactions, write_parquet

    import_s = time.perf_counter() - t0
    baseline = _peak_mb()
    t1 = time.perf_counter()
    df = generate_transactions(n_rows=rows, seed=seed)
    seconds = time.perf_counter() - t1
    peak = _peak_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t2 = time.perf_counter()
        path = write_parquet(df, Path(tmp) / "batch.parquet")
        parquet_s = time.perf_counter() - t2
        parquet_mb = path.stat().st_size / 1e6
    print(
        json.dumps(
            {
                "rows": len(df),
                "seconds": seconds,
                "import_seconds": import_s,
                "baseline_mb": baseline,
                "peak_mb": peak,
                "fraud_rate": float(df["is_fraud"].mean()),
                "parquet_seconds": parquet_s,
                "parquet_mb": parquet_mb,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark in a subprocess and print a short report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.rows, args.seed)
        return 0

    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--rows",
        str(args.rows),
        "--seed",
        str(args.seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ.copy())
    if proc.returncode != 0:
        print(f"benchmark run failed (exit {proc.returncode}):\n{proc.stderr}")
        return 0
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    scale = r["rows"] / 1_000_000
    time_ok = r["seconds"] <= TARGET_SECONDS * max(scale, 1e-9)
    mem_ok = r["peak_mb"] <= TARGET_MB
    print(
        f"rows           {r['rows']:,} (fraud rate {r['fraud_rate']:.2%}), seed {args.seed}, cpus {os.cpu_count()}"
    )
    print(
        f"generate       {r['seconds']:.2f} s  ({r['rows'] / r['seconds']:,.0f} rows/s; import {r['import_seconds']:.2f} s)"
    )
    print(f"peak memory    {r['peak_mb']:,.0f} MB  (process after import: {r['baseline_mb']:,.0f} MB)")
    print(f"write_parquet  {r['parquet_seconds']:.2f} s, {r['parquet_mb']:.1f} MB on disk")
    print(
        f"targets        time <= {TARGET_SECONDS * scale:.1f} s: {'met' if time_ok else 'MISSED'}; "
        f"peak <= {TARGET_MB:,.0f} MB: {'met' if mem_ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
