"""The ``ds2mle data`` subcommands: generate, list faults and drifts, damage a batch.

The main CLI (``ds2mle.cli``) calls :func:`register` on its subparsers. Each
subcommand's handler takes the parsed arguments, prints one short result line
and returns 0; a user error raises :class:`ds2mle.errors.DataError`, which the
main CLI prints as ``error: <message>`` before exiting 1. The handlers check
the options themselves before calling the Python API, so that a message names
the command line's flags (``--rows``), never the API's arguments (``n_rows``).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="ds2mle")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["data", "faults"])
>>> args.func.__name__
'run_faults'
"""

from __future__ import annotations

import argparse
import inspect
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ds2mle.data.drift import DRIFT_SCENARIOS
from ds2mle.data.faults import FAULTS, corrupt_file, inject_fault
from ds2mle.data.transactions import default_days, generate_transactions, read_transactions, write_parquet
from ds2mle.errors import DataError

__all__ = ["register", "run_damage", "run_drifts", "run_faults", "run_generate"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".parquet", ".csv")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``data`` command and its subcommands to the main parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned in the main CLI (any
        ``ArgumentParser`` subclass as ``parser_class``).
    """
    data = subparsers.add_parser(
        "data",
        help="generate or damage Paylane transaction data",
        description="Generate Paylane transactions, list faults and drift scenarios, damage a batch.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="{generate,faults,drifts,damage}", required=True)

    gen = sub.add_parser(
        "generate",
        help="simulate a batch of transactions",
        description=inspect.cleandoc(run_generate.__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the example commands on their lines
    )
    gen.add_argument("--rows", type=int, required=True, help="number of transactions")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--start", default="2026-01-01", help="first day, e.g. 2026-01-01 (UTC)")
    gen.add_argument("--days", type=int, default=None, help="window length (default: about 2,000 rows a day)")
    gen.add_argument(
        "--day",
        default=None,
        metavar="DATE",
        help="write only this UTC day of the window; run again with another --day (same other options) "
        "for a consecutive day that shares the same cards and no transaction id",
    )
    gen.add_argument("--drift", default=None, help="a drift scenario (see `ds2mle data drifts`)")
    gen.add_argument(
        "--strength", type=float, default=None, help="drift strength (default 1.0; needs --drift)"
    )
    gen.add_argument("--out", type=Path, required=True, help="output file, .parquet or .csv")
    gen.set_defaults(func=run_generate)

    faults = sub.add_parser("faults", help="list the fault catalogue", description=run_faults.__doc__)
    faults.set_defaults(func=run_faults)

    drifts = sub.add_parser("drifts", help="list the drift scenarios", description=run_drifts.__doc__)
    drifts.set_defaults(func=run_drifts)

    dmg = sub.add_parser("damage", help="write a damaged copy of a batch", description=run_damage.__doc__)
    dmg.add_argument("input", type=Path, metavar="IN", help="a .parquet or .csv batch")
    dmg.add_argument("--fault", required=True, help="a fault name (see `ds2mle data faults`)")
    dmg.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dmg.add_argument(
        "--rate", type=float, default=None, help="share of rows to damage (default: the fault's)"
    )
    dmg.add_argument(
        "--mode",
        choices=("truncate", "garbage"),
        default="truncate",
        help="for corrupted_file: cut the file short or overwrite bytes (default truncate)",
    )
    dmg.add_argument("--out", type=Path, required=True, help="output file, .parquet or .csv")
    dmg.set_defaults(func=run_damage)


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in _SUFFIXES:
        raise DataError(f"--out {path} has suffix {path.suffix!r}; expected .parquet or .csv.")


def _write(df: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        write_parquet(df, path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise DataError(f"--seed was {seed}; expected an integer >= 0, e.g. --seed 0.")


def _parse_date(flag: str, value: str) -> pd.Timestamp:
    problem = f"{flag} {value!r} is not a date; expected an ISO date such as {flag} 2026-01-01."
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise DataError(problem) from None
    if pd.isna(ts):
        raise DataError(problem)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _check_generate_options(args: argparse.Namespace) -> None:
    """Raise DataError, naming the flag, for any option generate_transactions would refuse."""
    if args.rows < 1:
        raise DataError(f"--rows was {args.rows}; expected an integer >= 1, e.g. --rows 50000.")
    _check_seed(args.seed)
    if args.days is not None and args.days < 1:
        raise DataError(
            f"--days was {args.days}; expected an integer >= 1, or leave --days out for about 2,000 rows a day."
        )
    start = _parse_date("--start", args.start)
    if args.day is not None:
        day = _parse_date("--day", args.day).normalize()
        strength = 1.0 if args.strength is None else args.strength
        span = args.days if args.days is not None else default_days(args.rows, drift=args.drift, drift_strength=strength)
        first, last = start.normalize(), (start + pd.Timedelta(days=span) - pd.Timedelta(1, "ns")).normalize()
        if not first <= day <= last:
            raise DataError(
                f"--day {args.day} is outside the simulated window, {first:%Y-%m-%d} to {last:%Y-%m-%d} "
                "(--start, --days); pick a day in it, or move --start or widen --days."
            )
    if args.drift is not None and args.drift not in DRIFT_SCENARIOS:
        raise DataError(
            f"Unknown drift scenario {args.drift!r} for --drift. Expected one of: "
            f"{', '.join(sorted(DRIFT_SCENARIOS))} (see `ds2mle data drifts`), or leave --drift out."
        )
    if args.strength is not None and args.drift is None:
        raise DataError("--strength was given without --drift; add --drift NAME (see `ds2mle data drifts`).")
    if args.strength is not None and not (math.isfinite(args.strength) and args.strength >= 0):
        raise DataError(
            f"--strength was {args.strength:g}; expected a number >= 0 (0 = no drift, 1 = the documented effect)."
        )


def run_generate(args: argparse.Namespace) -> int:
    """Simulate a batch of Paylane transactions and write it to a .parquet or .csv file.

    With --day, write only that UTC day of the simulated window. Two runs with the same
    options and consecutive --day values give a consecutive pair of days from one
    simulation (the same customers and cards, no transaction id twice), e.g. yesterday's
    history and today's batch to score:

      ds2mle data generate --rows 4000 --start 2026-03-01 --days 2 --day 2026-03-01 --out yesterday.parquet
      ds2mle data generate --rows 4000 --start 2026-03-01 --days 2 --day 2026-03-02 --out today.parquet
    """
    out: Path = args.out
    _check_suffix(out)
    _check_generate_options(args)
    df = generate_transactions(
        n_rows=args.rows,
        seed=args.seed,
        start=args.start,
        days=args.days,
        drift=args.drift,
        drift_strength=1.0 if args.strength is None else args.strength,
    )
    if args.day is not None:
        day = _parse_date("--day", args.day).normalize()
        df = df[df["timestamp"].dt.floor("D") == day].reset_index(drop=True)
        if df.empty:
            raise DataError(f"--day {args.day} has no transactions among --rows {args.rows}; ask for more --rows.")
    _write(df, out)
    first, last = df["timestamp"].iloc[0], df["timestamp"].iloc[-1]
    print(
        f"wrote {len(df):,} transactions ({df['is_fraud'].mean():.2%} fraud, "
        f"{first:%Y-%m-%d} to {last:%Y-%m-%d}) to {out}"
    )
    return 0


def run_faults(args: argparse.Namespace) -> int:
    """List the fault catalogue, one fault per line."""
    width = max(len(name) for name in FAULTS)
    for name, fault in FAULTS.items():
        rate = "" if fault.default_rate is None else f" [rate {fault.default_rate:g}]"
        kind = " (file)" if fault.kind == "file" else ""
        print(f"{name:<{width}}  {fault.description}{kind}{rate}")
    return 0


def run_drifts(args: argparse.Namespace) -> int:
    """List the drift scenarios and the statistic each one moves."""
    width = max(len(name) for name in DRIFT_SCENARIOS)
    for name, scenario in DRIFT_SCENARIOS.items():
        print(f"{name:<{width}}  [{scenario.kind}] {scenario.description}")
        print(f"{'':<{width}}  moves {scenario.statistic.direction}: {scenario.statistic.description}")
    return 0


def run_damage(args: argparse.Namespace) -> int:
    """Write a damaged copy of a batch file, using one fault from the catalogue."""
    source: Path = args.input
    out: Path = args.out
    name: str = args.fault
    if name not in FAULTS:
        raise DataError(f"Unknown fault {name!r}. Expected one of: {', '.join(sorted(FAULTS))}.")
    fault = FAULTS[name]
    _check_seed(args.seed)
    if fault.kind == "file":
        if args.rate is not None:
            raise DataError(f"Fault {name!r} takes no --rate; use --mode truncate or --mode garbage.")
        if not source.is_file():
            raise DataError(f"Cannot read {source}: no such file. Check the path.")
        damaged = corrupt_file(source, seed=args.seed, mode=args.mode)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(damaged)
        print(f"wrote {len(damaged):,} corrupted bytes ({args.mode}) of {source} to {out}")
        return 0
    _check_suffix(out)
    if args.rate is not None:
        if fault.default_rate is None:
            raise DataError(f"Fault {name!r} changes a whole column and takes no --rate; leave --rate out.")
        if not (math.isfinite(args.rate) and 0 < args.rate <= 1):
            raise DataError(
                f"--rate was {args.rate:g}; expected a share of rows in (0, 1], e.g. --rate {fault.default_rate:g}."
            )
    df = read_transactions(source)
    if df.empty:
        raise DataError(f"{source} has no rows; damage a batch with rows (make one with `ds2mle data generate`).")
    broken = inject_fault(df, name, seed=args.seed, rate=args.rate)
    _write(broken, out)
    print(f"wrote {len(broken):,} rows with fault {name!r} (from {len(df):,} rows in {source}) to {out}")
    return 0
