"""Benchmark module 03's drift detectors and alert rules: false alarms on clean weeks, delay on drift.

Every day of replayed Paylane traffic (``ds2mle.data.replay``, 600 payments a day) is compared with a
reference week, on the monitor's inputs: the amount in euros, the merchant category and the channel.
Five detectors are measured, all from the reference package:

- ``PSIDetector``, ``KSDetector`` and ``ChiSquareDetector`` (``fraudguard.drift``) with their textbook
  thresholds (PSI 0.2, p < 0.01): a day *alarms* when any watched column is ``drifted``;
- ``budget rules``: one ``fraudguard.monitoring.AlertRule`` per column on the PSI, with its threshold
  from ``threshold_from_budget`` (one false page per rule per eight weeks) on 8 clean weeks of other
  seeds, evaluated with ``evaluate_rules`` (lesson 04's design);
- ``budget rules, 2 days``: the same, firing after two breaching days in a row.

It prints, per detector, the false-alarm rate over ``--weeks`` clean replayed weeks (share of days
with an alarm) and, per drift scenario (switched on at day 7 of a 14-day replay, ``--seeds`` replays
each), the median detection delay in days (1 = the day the drift starts) and how many replays it
detected at all.

Usage::

    python benchmarks/monitoring.py                   # the reference package (solutions/fraudguard)
    python benchmarks/monitoring.py --package src     # your own src/fraudguard
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"reference": REPO / "solutions", "src": REPO / "src"}
COLUMNS = ["amount_eur", "merchant_category", "channel"]
SCENARIOS = ["merchant_mix", "amount_inflation", "holiday_season", "fraud_pattern_shift"]
START = "2026-01-05"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", choices=sorted(PACKAGES), default="reference")
    parser.add_argument("--weeks", type=int, default=50, help="clean replayed weeks for the false-alarm rate")
    parser.add_argument("--seeds", type=int, default=5, help="drifted replays per scenario")
    parser.add_argument("--rows-per-day", type=int, default=600)
    args = parser.parse_args()
    sys.path.insert(0, str(PACKAGES[args.package]))

    from tqdm.auto import tqdm

    from ds2mle.data import ReplayPlan, build_stream
    from fraudguard.drift import ChiSquareDetector, KSDetector, PSIDetector
    from fraudguard.features import amount_in_eur
    from fraudguard.monitoring import AlertRule, evaluate_rules, threshold_from_budget, window_table

    def days(seed: int, *, n_days: int = 14, start: str = START, drift: str | None = None) -> pd.DataFrame:
        stream = build_stream(ReplayPlan(days=n_days, rows_per_day=args.rows_per_day, seed=seed, start=start,
                                         drift=drift, drift_at_day=7 if drift else 0))
        tx = stream.transactions
        return tx.assign(amount_eur=amount_in_eur(tx), fraud_probability=0.0, flagged=False)

    started = time.perf_counter()
    reference = days(1, n_days=7, start="2025-12-29")
    textbook = {
        "PSIDetector (0.2)": [PSIDetector(columns=COLUMNS).fit(reference)],
        "KSDetector (p<0.01)": [KSDetector(columns=["amount_eur"]).fit(reference)],
        "ChiSquareDetector (p<0.01)": [ChiSquareDetector(columns=["merchant_category", "channel"]).fit(reference)],
    }
    psi = [PSIDetector(columns=COLUMNS).fit(reference)]
    calibration = pd.concat([window_table(days(seed), detectors=psi, start=START) for seed in
                             tqdm(range(900, 904), desc="calibration (8 clean weeks)")])
    budget = 1 / 56
    rules = {
        "budget rules": [AlertRule(c, f"psi:{c}", threshold_from_budget(calibration[f"psi:{c}"], budget=budget)) for c in COLUMNS],
    }
    rules["budget rules, 2 days"] = [AlertRule(r.name, r.metric, r.threshold, consecutive=2) for r in rules["budget rules"]]

    def alarm_days(frame: pd.DataFrame) -> dict[str, set[int]]:
        """Days (window numbers) on which each detector alarms."""
        out: dict[str, set[int]] = {}
        day = (frame["timestamp"] - pd.Timestamp(START, tz="UTC")).dt.days
        for name, detectors in textbook.items():
            out[name] = {int(d) for d, part in frame.groupby(day) if any(det.score(part)["drifted"].any() for det in detectors)}
        table = window_table(frame, detectors=psi, start=START)
        for name, rule_set in rules.items():
            out[name] = set(evaluate_rules(table, rule_set)["window"].astype(int))
        return out

    names = [*textbook, *rules]
    clean_alarms = dict.fromkeys(names, 0)
    n_days = 0
    for seed in tqdm(range(1000, 1000 + (args.weeks + 1) // 2), desc=f"{args.weeks} clean weeks"):
        frame = days(seed)
        n_days += 14
        for name, fired in alarm_days(frame).items():
            clean_alarms[name] += len(fired)
    delays: dict[str, dict[str, list[float]]] = {name: {s: [] for s in SCENARIOS} for name in names}
    for scenario in SCENARIOS:
        for seed in tqdm(range(2000, 2000 + args.seeds), desc=scenario):
            for name, fired in alarm_days(days(seed, drift=scenario)).items():
                after = [d for d in fired if d >= 7]
                delays[name][scenario].append(min(after) - 7 + 1 if after else np.nan)
    rows = []
    for name in names:
        row: dict[str, object] = {"detector": name, "false alarms per clean day": clean_alarms[name] / n_days}
        for scenario in SCENARIOS:
            values = np.array(delays[name][scenario])
            found = values[~np.isnan(values)]
            row[scenario] = f"{np.median(found):.0f} d ({len(found)}/{len(values)})" if len(found) else f"- (0/{len(values)})"
        rows.append(row)
    table = pd.DataFrame(rows).set_index("detector")
    print(f"\nreference package: {PACKAGES[args.package]}; {n_days} clean days ({n_days // 7} weeks), "
          f"{args.seeds} drifted replays per scenario, {args.rows_per_day} payments a day, drift from day 7")
    print("delay: median days from the drift's first day to the first alarm at or after it (1 = that day), "
          "(replays detected / replays); an alarm on a clean day is a false alarm\n")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
