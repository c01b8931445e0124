"""The process that runs one submission: ``python -m autograder.worker``.

It is started by :func:`autograder.jobs.run_job`, normally inside the
bubblewrap sandbox. It reads one JSON job on standard input (the merged
notebook and the limits), so the notebook, hidden tests included, is never a
file the learner's code could open. Then it

1. copies the submission's extra files from their read-only staging folder
   into its working folder (the sandbox's size-limited tmpfs), then lowers
   its own resource limits (inherited by the kernel it starts);
2. makes itself non-dumpable, so that the kernel, running as the same user,
   can neither ptrace it nor open its ``/proc`` files;
3. moves its real standard output to a private descriptor and points file
   descriptor 1 at standard error, so nothing but its own records reaches
   the coordinator (the kernel's standard streams go to ``/dev/null``);
4. instruments the notebook with the tamper guard and runs it cell by cell,
   writing one JSON line per finished cell, then a final ``done`` line.

The coordinator trusts none of it blindly: it validates every line against
a strict schema (:mod:`autograder.jobs`). Never pickle.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["main", "run_payload"]


def _apply_limits(limits: dict[str, int]) -> list[str]:
    problems = []
    try:
        import resource
    except ImportError:  # Windows
        return ["resource limits are not available on this platform"]
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            _, hard = resource.getrlimit(which)
            soft = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (soft, soft))
        except (ValueError, OSError) as exc:
            problems.append(f"{name}: {exc}")
    return problems


def _copy_staged(staged: Path, work: Path) -> None:
    """Copy the staged files (contents only: the folders belong to the sandbox)."""
    import shutil

    for root, dirs, names in os.walk(staged):
        here = work / Path(root).relative_to(staged)
        for name in dirs:
            (here / name).mkdir(exist_ok=True)
        for name in names:
            shutil.copyfile(Path(root) / name, here / name, follow_symlinks=False)


def _no_dump() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _private_stdout() -> TextIO:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.set_inheritable(out.fileno(), False)
    os.dup2(2, 1)
    return out


def main() -> int:
    """Run the job on standard input; records go to standard output, one JSON object a line."""
    # jsonschema (under nbformat) compiles an IRI grammar at import when rfc3987_syntax is installed:
    # most of a second per notebook, for a format check grading never uses.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    out = _private_stdout()

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event, ensure_ascii=True) + "\n")
        out.flush()

    try:
        raw = sys.stdin.buffer.read()
        sys.stdin.close()
    except OSError as exc:
        emit({"event": "done", "error": f"the grader could not read its job: {exc}"})
        return 0
    staged = os.environ.get("DS2MLE_STAGED")
    if staged and os.path.isdir(staged):  # into the size-limited working folder, before the limits drop
        _copy_staged(Path(staged), Path.cwd())
    run_payload(raw, emit=emit, apply_limits=True,
                kill_strays=os.environ.get("DS2MLE_SANDBOXED") == "1" and os.getpid() < 10)
    return 0


def run_payload(
    raw: bytes,
    *,
    emit: Callable[[dict[str, Any]], None],
    apply_limits: bool = False,
    kernel_manager: Any = None,
    kill_strays: bool = False,
) -> None:
    """Run one job (its JSON text) and emit its records, the last one ``done``.

    Parameters
    ----------
    raw : bytes
        The job: the merged notebook and the limits.
    emit : callable
        Writes one record.
    apply_limits : bool, default False
        Lower this process's limits first (the zygote's worker has already).
    kernel_manager : jupyter_client kernel manager, optional
        A kernel that is waiting to be started (the zygote's); by default a new ``python3``.
    kill_strays : bool, default False
        See :func:`autograder.engine.run_notebook`.
    """
    try:
        job = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        emit({"event": "done", "error": f"the grader could not read its job: {exc}"})
        return
    problems = _apply_limits({k: int(v) for k, v in job["limits"].items()}) if apply_limits else []
    _no_dump()
    emit({"event": "start", "pid": os.getpid(), "limits": problems})

    import nbformat

    from autograder.engine import run_notebook
    from autograder.guard import instrument

    merged = nbformat.from_dict(job["notebook"])
    instrumented, origin = instrument(merged)
    try:
        Path(os.environ.get("HOME", "/tmp")).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    error = run_notebook(
        instrumented,
        origin=origin,
        cwd=Path.cwd(),
        cell_timeout=float(job["cell_timeout"]),
        budget=float(job["budget"]),
        max_output_bytes=int(job["output_bytes"]),
        emit=emit,
        kill_strays=kill_strays,
        kernel_manager=kernel_manager,
    )
    emit({"event": "done", "error": error})


if __name__ == "__main__":
    raise SystemExit(main())
