"""Benchmark: serial ``nbgrader autograde`` against ``ds2mle grade -j 2`` with the sandbox on.

Builds 40 submissions of module 00's assignment (right, wrong and broken
ones) in a scratch copy of the course and grades them

1. with plain ``nbgrader autograde 00-start-here`` (one submission at a time,
   as nbgrader does);
2. with ``ds2mle grade 00 -j 2`` (sandbox on where bubblewrap is installed),
   each notebook forked from a pre-imported zygote where it can be
   (:mod:`autograder.zygote`: Linux, root, bubblewrap);
3. the same with ``DS2MLE_GRADE_ZYGOTE=0``: a new worker and kernel per
   notebook, as before the zygote;

then measures the per-submission overhead: one notebook whose only cell is
``pass`` graded as one job, with a worker and kernel started for it and
forked from the zygote (the median of several runs each), and the sandbox's
own cost on the right answer, sandbox on and off. Prints the times and
ratios. A benchmark, not a test: it asserts nothing.

Usage::

    python benchmarks/grading.py [--submissions 40] [--jobs 2] [--overhead-sample 10]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "00-start-here"
NOTEBOOK = "split-by-time.ipynb"

WRONG = '''#| export
import math
def split_by_time(transactions, *, test_fraction=0.2):
    if not 0 < test_fraction < 1:
        raise ValueError(test_fraction)
    if "timestamp" not in transactions or transactions["timestamp"].isna().any():
        raise ValueError("need complete timestamps")
    ordered = transactions.sort_values("timestamp")
    n_test = math.ceil(len(ordered) * test_fraction)
    return ordered.iloc[: len(ordered) - n_test], ordered.iloc[len(ordered) - n_test :]
'''


def scratch_course(base: Path, name: str) -> Path:
    root = base / name
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".ds2mle", "gradebook.db", "*.egg-info",
        "tests", "benchmarks", ".pytest_cache", ".mypy_cache", "submitted", "autograded", "feedback", "exports",
    ))
    return root


def submissions(root: Path, n: int) -> dict[str, bytes]:
    """``n`` submissions: half right, a quarter wrong, the rest unanswered, broken JSON or killing the kernel."""
    release = nbformat.read(str(root / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4)
    source = nbformat.read(str(root / "solutions" / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4)
    right = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "split_by_time")
    right = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", right)

    def with_answer(code: str, *, exit_after: bool = False) -> bytes:
        nb = copy.deepcopy(release)
        for index, cell in enumerate(nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "split_by_time":
                cell.source = code
                if exit_after:
                    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
                break
        return nbformat.writes(nb).encode()

    out: dict[str, bytes] = {}
    for i in range(n):
        kind = i % 20
        if kind < 10:
            data = with_answer(right)
        elif kind < 15:
            data = with_answer(WRONG)
        elif kind < 17:
            data = nbformat.writes(release).encode()
        elif kind < 19:
            data = with_answer(right, exit_after=True)
        else:
            data = with_answer(right)[:-300]  # broken JSON
        out[f"s{i:03d}"] = data
    return out


def place(root: Path, subs: dict[str, bytes]) -> None:
    for student, data in subs.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        (folder / NOTEBOOK).write_bytes(data)
        (folder / "timestamp.txt").write_text("2026-02-01 12:00:00 UTC", encoding="utf-8")


def env() -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "DS2MLE_ROOT": ""}


def timed(command: list[str], cwd: Path, *, check: bool = True, extra_env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env={**env(), **(extra_env or {})}, check=check, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--overhead-sample", type=int, default=10, help="runs of one notebook with and without sandbox")
    args = parser.parse_args()
    ds2mle = [sys.executable, "-m", "ds2mle.cli", "-q", "grade", "00"]
    bwrap = shutil.which("bwrap") is not None
    with tempfile.TemporaryDirectory(prefix="ds2mle-bench-") as tmp:
        base = Path(tmp)
        first = scratch_course(base, "nbgrader")
        subs = submissions(first, args.submissions)
        place(first, subs)
        print(f"{len(subs)} submissions of {ASSIGNMENT} on {os.cpu_count()} cores; bubblewrap: {'yes' if bwrap else 'NO'}",
              flush=True)

        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                       cwd=first, env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # nbgrader exits 1 when any submission cannot be graded (the broken ones): time it all the same
        serial = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], first, check=False)
        print(f"  nbgrader autograde (serial):            {serial:7.1f} s  ({serial / len(subs):.2f} s/submission)",
              flush=True)

        runs: dict[str, float] = {}
        for label, zygote in (("zygote", "1"), ("a new worker and kernel per notebook", "0")):
            root = scratch_course(base, f"ds2mle-{zygote}")
            place(root, subs)
            runs[label] = timed([*ds2mle, "-j", str(args.jobs), "--sandbox", "auto"], root,
                                extra_env={"DS2MLE_GRADE_ZYGOTE": zygote})
            print(f"  ds2mle grade -j {args.jobs} (sandbox {'on' if bwrap else 'off'}, {label}): {runs[label]:7.1f} s  "
                  f"({runs[label] / len(subs):.2f} s/submission)", flush=True)

        # the per-submission overhead: a notebook with nothing to run, as one job
        from nbformat.v4 import new_code_cell, new_notebook

        from autograder.intake import reference_files
        from autograder.jobs import build_job, close_slots, run_job
        from autograder.merge import merge_submission
        from autograder.sandbox import SandboxPolicy
        from ds2mle.manifest import load_course

        course = load_course(root)
        module = course.module("00")
        policy = SandboxPolicy(cell_timeout=120, budget=600)
        reference = reference_files(course, module)

        def median_run(notebook: nbformat.NotebookNode, mode: str, zygote: str) -> float:
            os.environ["DS2MLE_GRADE_ZYGOTE"] = zygote
            values = []
            for _ in range(args.overhead_sample):
                job = build_job(merged=notebook, name=NOTEBOOK, student="bench", files=None, reference=reference,
                                policy=policy, sandbox=mode)  # type: ignore[arg-type]
                started = time.perf_counter()
                run_job(job)
                values.append(time.perf_counter() - started)
            close_slots()
            return statistics.median(values)

        empty = new_notebook(cells=[new_code_cell("pass")])
        overhead = {"before": median_run(empty, "on" if bwrap else "off", "0")}
        if bwrap:
            median_run(empty, "on", "1")  # the zygote's own start-up, once per slot and batch, is not per submission
            overhead["after"] = median_run(empty, "on", "1")
        for when, value in overhead.items():
            print(f"  per-submission overhead {when:<6} (an empty notebook, median of {args.overhead_sample}): "
                  f"{value:6.2f} s", flush=True)

        right = next(v for i, (k, v) in enumerate(subs.items()) if i % 20 < 10)
        merged = merge_submission(
            submission=nbformat.reads(right.decode(), as_version=4),
            source=nbformat.read(str(root / "solutions" / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4),
            release=nbformat.read(str(root / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4),
        )
        timings = {"off": median_run(merged, "off", "0")}
        if bwrap:
            timings["on"] = median_run(merged, "on", "0")
        for mode, value in timings.items():
            print(f"  the right answer, one worker, sandbox {mode:<3} (median of {args.overhead_sample}): {value:7.2f} s",
                  flush=True)

    print()
    for label, seconds in runs.items():
        print(f"speed-up over serial nbgrader ({label}): {serial / seconds:.2f}x (goal >= 3x on 2 cores)")
    if "after" in overhead:
        print(f"per-submission overhead: {overhead['before']:.2f} s before, {overhead['after']:.2f} s with the zygote")
    if "on" in timings:
        print(f"sandbox cost per submission:  {100 * (timings['on'] / timings['off'] - 1):+.1f}% (goal <= 10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
