"""Benchmark fraudguard's data checks: false alarms on clean batches, catch rate per fault.

The learner-facing checks of module 02 run on each batch in the order a
pipeline runs them:

1. the hard rules (``fraudguard.schema_changes.refuse_breaking_changes``):
   a renamed, missing, retyped or unit-changed column refuses the batch;
2. the contract (``fraudguard.ingest.split_batch`` with
   ``fraudguard.contracts``): rows that break it are quarantined;
3. the batch checks (``fraudguard.batch_checks``): freshness, completeness,
   volume and two ranges, with bands learned from 28 clean simulated days.

A batch *raises an alarm* when it is refused, has a quarantined row, or a
batch check warns or fails. The script prints the share of alarms on
``--clean`` clean one-day batches (different seeds and weekdays from the days
the bands were learned on) and, for every fault of the simulator's catalogue,
on ``--damaged`` damaged copies of such days (a different fault seed each), with
the layer that caught it first. ``corrupted_file`` damages the Parquet file's
bytes (truncate and garbage in turn) and goes through ``read_batch``.

Usage::

    python benchmarks/data_checks.py                  # the reference package (solutions/fraudguard)
    python benchmarks/data_checks.py --package src    # your own src/fraudguard
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"reference": REPO / "solutions", "src": REPO / "src"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=sorted(PACKAGES), default="reference")
    parser.add_argument("--clean", type=int, default=20, help="clean batches (default 20)")
    parser.add_argument("--damaged", type=int, default=20, help="damaged batches per fault (default 20)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(PACKAGES[args.package]))
    import logging

    from fraudguard.batch_checks import learn_thresholds, measure, run_batch_checks
    from fraudguard.errors import DataError
    from fraudguard.ingest import read_batch, split_batch
    from fraudguard.schema_changes import BatchRefused, refuse_breaking_changes

    from ds2mle.data import FAULTS, corrupt_file, generate_transactions, inject_fault, write_parquet

    logging.getLogger("fraudguard").setLevel(logging.ERROR)
    started = time.perf_counter()

    def as_of(day: pd.DataFrame) -> pd.Timestamp:
        """The daily job runs at 01:00 UTC the next day."""
        first: pd.Timestamp = day["timestamp"].dt.floor("D").mode().iloc[0]
        return first + pd.Timedelta(hours=25)

    learning = generate_transactions(n_rows=56_000, seed=100, start="2026-01-05", days=28)
    clean_days = [group for _, group in learning.groupby(learning["timestamp"].dt.floor("D"))]
    thresholds = learn_thresholds(pd.DataFrame([measure(day, as_of=as_of(day)) for day in clean_days]))

    def one_day(index: int) -> pd.DataFrame:
        """Batch ``index``: one UTC day of a week simulated with its own seed, weekdays in turn."""
        week = generate_transactions(n_rows=14_000, seed=1_000 + index, start="2026-03-02", days=7)
        days = week["timestamp"].dt.floor("D")
        return week[days == days.unique()[index % 7]].reset_index(drop=True)

    def judge(frame: pd.DataFrame, when: pd.Timestamp) -> str:
        """The first layer that raises an alarm: 'hard rule', 'contract', 'batch check', or '' for none."""
        try:
            ready = refuse_breaking_changes(frame)
        except BatchRefused:
            return "hard rule"
        try:
            _, quarantined = split_batch(ready)
        except BatchRefused:
            return "contract"
        if len(quarantined):
            return "contract"
        results = run_batch_checks(ready, thresholds=thresholds, as_of=when)
        return "batch check" if any(result.status != "ok" for result in results) else ""

    batches = [one_day(i) for i in range(max(args.clean, args.damaged))]
    clean = [judge(day, as_of(day)) for day in batches[: args.clean]]
    rows = [("(clean)", sum(bool(c) for c in clean), args.clean, _layers(clean))]
    with tempfile.TemporaryDirectory(prefix="fraudguard-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for name, fault in FAULTS.items():
            outcomes = []
            for i in range(args.damaged):
                day = batches[i]
                if fault.kind == "file":
                    write_parquet(day, scratch / "day.parquet")
                    mode = "truncate" if i % 2 == 0 else "garbage"
                    (scratch / "bad.parquet").write_bytes(corrupt_file(scratch / "day.parquet", seed=i, mode=mode))
                    try:
                        read = read_batch(scratch / "bad.parquet")
                    except DataError:
                        outcomes.append("unreadable file")
                        continue
                    outcomes.append(judge(read, as_of(day)))
                else:
                    outcomes.append(judge(inject_fault(day, name, seed=i), as_of(day)))
            rows.append((name, sum(bool(o) for o in outcomes), args.damaged, _layers(outcomes)))

    print(f"bands learned on {len(clean_days)} clean days (seed 100); batches: one UTC day each, about 2,000 rows\n")
    print(f"{'batches':<18} {'alarms':>8} {'rate':>6}   caught first by")
    for name, alarms, total, layers in rows:
        print(f"{name:<18} {alarms:>3} / {total:<3} {alarms / total:>6.0%}   {layers}")
    print(f"\nfalse-alarm rate on clean batches: {rows[0][1] / rows[0][2]:.0%}; "
          f"faults caught in every batch: {sum(r[1] == r[2] for r in rows[1:])} of {len(rows) - 1}; "
          f"{time.perf_counter() - started:.0f} s")
    return 0


def _layers(outcomes: list[str]) -> str:
    counts = pd.Series([o for o in outcomes if o], dtype="str").value_counts()
    return ", ".join(f"{layer} {count}" for layer, count in counts.items()) or "-"


if __name__ == "__main__":
    raise SystemExit(main())
