"""One grading job: plain JSON in, plain JSON out, wherever it runs.

A job is everything one notebook of one submission needs, as a JSON-ready
dict: the merged notebook, the submission's extra files, the filtered
reference ``fraudguard``, the limits. :func:`run_job` stages it in a private
scratch folder, starts :mod:`autograder.worker` (in the sandbox when it can)
and returns what the worker wrote, untouched, with its exit status. The same
function runs in a local thread pool or on a Dask worker
(:func:`run_job_json` takes and returns text, so nothing is ever pickled).

:func:`finish_job` runs on the trusted side. It validates the worker's lines
against a strict schema, puts the outputs back into the coordinator's own
copy of the merged notebook and scores it. Anything malformed scores zero
with a reason; nothing from the sandbox is executed or unpickled.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from nbformat import NotebookNode
from nbformat.v4 import new_output

from autograder.engine import CellRecord, NotebookResult, TestResult, first_line, score_cells
from autograder.guard import strip_guard_outputs
from autograder.merge import grade_id, is_answer_cell, is_test_cell, merge_submission
from autograder.sandbox import SandboxPolicy, _python_roots, bwrap_path, size, slot_uid, tasks_of, worker_command

__all__ = [
    "Outcome",
    "SandboxMode",
    "build_job",
    "collect_extra_files",
    "execute_and_score",
    "failed_result",
    "finish_job",
    "run_job",
    "run_job_json",
    "warm_slot",
]

logger = logging.getLogger(__name__)

SandboxMode = Literal["auto", "on", "off"]
Outcome = Literal[
    "completed", "cell-timeout", "budget-exhausted", "out-of-memory", "kernel-died", "grader-killed", "malformed-result",
    "invalid-notebook", "unsupported-nbformat", "missing-notebook", "tampering", "sandbox-unavailable",
    "grader-error",
]

JOB_VERSION = 1
MAX_FILES = 200
MAX_FILE_BYTES = 20 * 1024**2
MAX_RESULT_BYTES = 64 * 1024**2
_OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}
_STATUSES = {"ok", "error", "timeout", "died"}
_SHADOW_ALWAYS = {"sitecustomize", "usercustomize", "ds2mle", "autograder", "fraudguard", "IPython", "ipykernel"}
_top_level_cache: set[str] = set()


# --------------------------------------------------------------------------- building


def _top_level_modules() -> set[str]:
    if not _top_level_cache:
        import pkgutil

        _top_level_cache.update(m.name for m in pkgutil.iter_modules())
        _top_level_cache.update(sys.stdlib_module_names)
        _top_level_cache.update(sys.builtin_module_names)
        _top_level_cache.update(_SHADOW_ALWAYS)
    return _top_level_cache


def collect_extra_files(folder: Path | None) -> tuple[dict[str, bytes], list[str]]:
    """The files of a submission folder that go into the sandbox with it.

    Notebooks, symbolic links, checkpoints, ``.pth`` files and Python files
    or packages that would shadow an installed module (``pandas.py``,
    ``numpy/``) stay out; so does anything past 200 files or 20 MB.

    Parameters
    ----------
    folder : Path or None
        The submission folder.

    Returns
    -------
    files : dict of str to bytes
        Relative POSIX path to content.
    notes : list of str
        One line per file left out.
    """
    files: dict[str, bytes] = {}
    notes: list[str] = []
    if folder is None or not folder.is_dir():
        return files, notes
    total = 0
    shadowing = _top_level_modules()
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in sorted(dirs):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                notes.append(f"the symbolic link {rel} was not copied")
                dirs.remove(name)
            elif name in (".ipynb_checkpoints", "__pycache__", ".git"):
                dirs.remove(name)
            elif base == folder and name in shadowing:
                notes.append(f"the folder {rel}/ was not copied: it would hide the installed module {name!r}")
                dirs.remove(name)
        for name in sorted(names):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            stem, suffix = os.path.splitext(name)
            if path.is_symlink():
                notes.append(f"the symbolic link {rel} was not copied")
            elif suffix == ".ipynb" or name == "timestamp.txt":
                continue
            elif suffix == ".pth" or (base == folder and suffix in (".py", ".pyc", ".so") and stem in shadowing):
                notes.append(f"{rel} was not copied: it would change which code the tests import")
            elif not path.is_file():
                notes.append(f"{rel} is not a regular file and was not copied")
            elif len(files) >= MAX_FILES or total + path.stat().st_size > MAX_FILE_BYTES:
                notes.append(f"{rel} was not copied: a submission may bring at most {MAX_FILES} files and 20 MB")
            else:
                data = path.read_bytes()
                total += len(data)
                files[rel] = data
    return files, notes


def build_job(
    *,
    merged: NotebookNode,
    name: str,
    student: str,
    files: Path | dict[str, bytes] | None,
    reference: dict[str, str] | None,
    policy: SandboxPolicy,
    sandbox: SandboxMode,
) -> dict[str, Any]:
    """A JSON-ready job for :func:`run_job`.

    Parameters
    ----------
    merged : NotebookNode
        The notebook to run (see :func:`autograder.merge.merge_submission`).
    name : str
        The notebook's file name.
    student : str
        Whose submission it is (for logs).
    files : Path or dict or None
        The submission folder, or its extra files already collected.
    reference : dict of str to str, or None
        Reference package files (``"fraudguard/splits.py"`` to text), or
        ``None`` to let the kernel import what the environment has.
    policy : SandboxPolicy
    sandbox : {"auto", "on", "off"}
        ``"on"`` fails the job where bubblewrap is missing; ``"auto"`` falls back.

    Returns
    -------
    dict
    """
    if isinstance(files, Path) or files is None:
        files, _ = collect_extra_files(files)
    return {
        "version": JOB_VERSION,
        "student": student,
        "notebook": name,
        "merged": json.loads(json.dumps(merged)),
        "files": {rel: base64.b64encode(data).decode("ascii") for rel, data in files.items()},
        "reference": reference,
        "policy": policy.to_json(),
        "sandbox": sandbox,
    }


# --------------------------------------------------------------------------- running


def run_job_json(job_text: str) -> str:
    """:func:`run_job` for remote executors: JSON text in, JSON text out."""
    return json.dumps(run_job(json.loads(job_text)))


def run_job(job: dict[str, Any], on_event: Callable[[str, int | None], None] | None = None) -> dict[str, Any]:
    """Stage one job, run the worker on it and return its raw output.

    ``on_event(kind, index)`` is called as the worker reports progress (``"kernel"`` when the kernel
    is ready, ``"cell"`` with the merged cell's index as each cell ends); it is for display only.

    Returns
    -------
    dict
        ``stdout`` (the worker's lines, not yet trusted), ``stderr`` (its
        last 4 KB), ``returncode``, ``timed_out``, ``sandboxed``, ``seconds``
        and ``error`` (set when the job could not start at all).
    """
    started = time.monotonic()
    policy = SandboxPolicy.from_json(job["policy"])
    mode: SandboxMode = job.get("sandbox", "auto")
    bwrap = bwrap_path() if mode != "off" else None
    outcome: dict[str, Any] = {
        "stdout": "", "stderr": "", "returncode": None, "timed_out": False,
        "sandboxed": bwrap is not None, "seconds": 0.0, "error": "",
    }
    if mode == "on" and bwrap is None:
        outcome["error"] = "the sandbox is required but bubblewrap (bwrap) is not installed on this machine"
        return outcome
    if bwrap is not None and use_zygote():
        try:
            outcome.update(_slot(bwrap).run(job, policy=policy, on_event=on_event))
        except OSError as exc:
            outcome["error"] = f"the grader could not start the worker: {exc}"
        outcome["seconds"] = round(time.monotonic() - started, 3)
        return outcome
    scratch = Path(tempfile.mkdtemp(prefix="ds2mle-grade-"))
    try:
        with slot_uid() as uid:
            work = scratch / "work"
            work.mkdir()
            for rel, data in job["files"].items():
                target = (work / rel).resolve()
                if work.resolve() not in target.parents:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(base64.b64decode(data))
            reference_dir: Path | None = None
            if job.get("reference") is not None:
                reference_dir = scratch / "reference"
                for rel, text in job["reference"].items():
                    target = (reference_dir / rel).resolve()
                    if reference_dir.resolve() not in target.parents:
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
            os.chmod(scratch, 0o755)
            if bwrap is not None and os.geteuid() == 0:
                for root, dirs, names in os.walk(work):
                    for entry in [root, *(os.path.join(root, n) for n in dirs + names)]:
                        os.chown(entry, uid, uid)
                for root, dirs, names in os.walk(reference_dir or scratch / "none"):
                    os.chmod(root, 0o755)
                    for n in names:
                        os.chmod(os.path.join(root, n), 0o644)
            command, env, cwd = worker_command(
                bwrap=bwrap, work=work, reference=reference_dir, policy=policy, uid=uid
            )
            payload = json.dumps({
                "notebook": job["merged"],
                "cell_timeout": policy.cell_timeout,
                "budget": policy.budget,
                "output_bytes": policy.output_bytes,
                "limits": _limits(policy, own_uid=bwrap is not None and os.geteuid() == 0 and bool(shutil.which("setpriv"))),
            }).encode("utf-8")
            outcome.update(_communicate(command, env=env, cwd=cwd, payload=payload, policy=policy,
                                        sandboxed=bwrap is not None, on_event=on_event))
    except OSError as exc:
        outcome["error"] = f"the grader could not start the worker: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome["seconds"] = round(time.monotonic() - started, 3)
    return outcome


def _stage(job: dict[str, Any], base: Path) -> tuple[Path, Path | None]:
    """Write a job's extra files to ``base/files`` and its reference package to ``base/reference``."""
    work = base / "files"
    work.mkdir()
    for rel, data in job["files"].items():
        target = (work / rel).resolve()
        if work.resolve() not in target.parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
    reference_dir: Path | None = None
    if job.get("reference") is not None:
        reference_dir = base / "reference"
        reference_dir.mkdir()
        for rel, text in job["reference"].items():
            target = (reference_dir / rel).resolve()
            if reference_dir.resolve() not in target.parents:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for root, _, names in os.walk(reference_dir):
            os.chmod(root, 0o755)
            for n in names:
                os.chmod(os.path.join(root, n), 0o644)
    return work, reference_dir


def use_zygote() -> bool:
    """Fork submissions from a pre-imported zygote (:mod:`autograder.zygote`)?

    Yes where it keeps the sandbox whole: on Linux, as root (each slot drops to its own user id), with
    bubblewrap, unless ``DS2MLE_GRADE_ZYGOTE=0``. Otherwise each notebook starts its own worker.
    Not when Python itself lives under ``/tmp`` (a virtual environment in a checkout there): inside the
    sandbox ``/tmp`` is the job's own scratch space, which each job's fresh tmpfs would hide it under.
    """
    python_in_tmp = any(root == Path("/tmp") or Path("/tmp") in root.parents for root in _python_roots())
    return (sys.platform.startswith("linux") and os.geteuid() == 0 and bwrap_path() is not None
            and os.environ.get("DS2MLE_GRADE_ZYGOTE", "1") != "0" and not python_in_tmp)


class _Slot:
    """One grading slot's zygote: a long-lived sandbox that forks a fresh worker and kernel per job."""

    def __init__(self, bwrap: str) -> None:
        self._uid_context = slot_uid()
        self.uid = self._uid_context.__enter__()
        self.inbox = Path(tempfile.mkdtemp(prefix="ds2mle-slot-"))
        os.chmod(self.inbox, 0o700)
        command, _, cwd = worker_command(bwrap=bwrap, work=self.inbox, reference=None, policy=SandboxPolicy(),
                                         uid=self.uid, zygote=self.inbox)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, start_new_session=True)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.err = bytearray()
        self.alive = True
        threading.Thread(target=self._pump_out, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        line = self._next(time.monotonic() + KERNEL_STARTUP)
        if line is None or not line.startswith(b'{"event": "ready"'):
            self.close()
            raise OSError(f"the grading zygote did not start: {bytes(self.err[-300:]).decode('utf-8', 'replace')}")

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        pending = bytearray()
        while chunk := os.read(self.proc.stdout.fileno(), 1 << 16):
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                self.lines.put(bytes(pending[:end]))
                del pending[: end + 1]
            if len(pending) > MAX_RESULT_BYTES:  # a line longer than any result: keep its head only
                pending = pending[:256] + b" ..."
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        while chunk := os.read(self.proc.stderr.fileno(), 1 << 16):
            self.err.extend(chunk)
            del self.err[:-4096]

    def _next(self, deadline: float) -> bytes | None:
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError from None

    def run(self, job: dict[str, Any], *, policy: SandboxPolicy,
            on_event: Callable[[str, int | None], None] | None) -> dict[str, Any]:
        for entry in self.inbox.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        _stage(job, self.inbox)
        payload = self.inbox / "job.json"
        payload.write_text(json.dumps(_payload(job, policy, own_uid=True)), encoding="utf-8")
        os.chmod(payload, 0o600)
        errors_before = len(self.err)
        control = {"limits": _limits(policy, own_uid=True), "scratch": policy.scratch_bytes}
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(control) + "\n").encode())
        self.proc.stdin.flush()
        out = bytearray()
        returncode: int | None = None
        timed_out = False
        deadline = time.monotonic() + KERNEL_STARTUP + policy.startup_grace
        while True:
            try:
                line = self._next(deadline)
            except TimeoutError:
                timed_out = True
                self.close()
                break
            if line is None:  # the zygote itself died: this job ends like a killed worker
                self.close()
                returncode = self.proc.poll()
                break
            head = _EVENT_HEAD.match(line[:256])
            if head is not None and head.group(1) == b"exit":
                try:
                    returncode = int(json.loads(line)["returncode"])
                except (ValueError, KeyError, TypeError):
                    returncode = None
                break
            if len(out) <= MAX_RESULT_BYTES:
                out += line[: MAX_RESULT_BYTES + 1 - len(out)] + b"\n"
            if head is not None:
                if head.group(1) == b"kernel":
                    deadline = time.monotonic() + policy.budget + policy.startup_grace
                if on_event is not None:
                    try:
                        on_event(head.group(1).decode(), int(head.group(2)) if head.group(2) else None)
                    except Exception:  # a progress display never stops grading
                        logger.debug("progress callback failed", exc_info=True)
        err = bytes(self.err[-max(0, min(4096, len(self.err) - errors_before)):]) if len(self.err) > errors_before else b""
        return {"stdout": bytes(out).decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace"),
                "returncode": returncode, "timed_out": timed_out}

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(self.proc.pid)
        self.proc.wait()
        shutil.rmtree(self.inbox, ignore_errors=True)
        self._uid_context.__exit__(None, None, None)  # reaps whatever of the slot's user is left


_slots = threading.local()
_all_slots: list[_Slot] = []
_slots_lock = threading.Lock()


def _slot(bwrap: str) -> _Slot:
    slot: _Slot | None = getattr(_slots, "slot", None)
    if slot is None or not slot.alive:
        slot = _Slot(bwrap)
        _slots.slot = slot
        with _slots_lock:
            _all_slots.append(slot)
    return slot


def warm_slot(sandbox: SandboxMode) -> None:
    """Start this thread's zygote now, if its jobs will use one, so the first job does not wait for it.

    A grading thread calls it before its first job, while the coordinator is still reading the sources and
    the submissions. A zygote that cannot start is left for the first job to report.
    """
    bwrap = bwrap_path() if sandbox != "off" else None
    if bwrap is not None and use_zygote():
        try:
            _slot(bwrap)
        except OSError:
            logger.debug("the grading zygote did not start ahead of its first job", exc_info=True)


def close_slots() -> None:
    """Stop every zygote this process started (the coordinator calls it when a batch ends)."""
    with _slots_lock:
        slots, _all_slots[:] = list(_all_slots), []
    for slot in slots:
        slot.close()


atexit.register(close_slots)


def _payload(job: dict[str, Any], policy: SandboxPolicy, *, own_uid: bool) -> dict[str, Any]:
    return {
        "notebook": job["merged"],
        "cell_timeout": policy.cell_timeout,
        "budget": policy.budget,
        "output_bytes": policy.output_bytes,
        "limits": _limits(policy, own_uid=own_uid),
    }


def _limits(policy: SandboxPolicy, *, own_uid: bool) -> dict[str, int]:
    """The rlimits for the worker; without a user id of its own the process limit comes on top of the user's."""
    limits = policy.rlimits()
    if not own_uid:  # RLIMIT_NPROC counts every process of the real user, the grader's own included
        limits["RLIMIT_NPROC"] += sum(threads for _, threads in tasks_of(os.getuid()))
    return limits


#: Seconds a kernel may take to become ready (nbclient's ``startup_timeout`` in the worker).
KERNEL_STARTUP = 120.0
_EVENT_HEAD = re.compile(rb'^\{"event": "(\w+)"(?:, "index": (\d+))?')


def _communicate(
    command: list[str],
    *,
    env: dict[str, str] | None,
    cwd: str,
    payload: bytes,
    policy: SandboxPolicy,
    sandboxed: bool,
    on_event: Callable[[str, int | None], None] | None = None,
) -> dict[str, Any]:
    """Run the worker; stream its lines (``on_event(kind, cell index)`` for progress); kill it on time.

    The hard deadline is ``budget + startup_grace`` counted from the moment the kernel is ready (the
    worker's ``kernel`` line), so a slow start on a busy machine never eats the notebook's time; before
    that the kernel has ``KERNEL_STARTUP + startup_grace`` seconds.
    """
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=cwd, start_new_session=True,
    )
    out = bytearray()
    err = bytearray()
    started = time.monotonic()
    deadline = [started + KERNEL_STARTUP + policy.startup_grace]

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.close()
        except OSError:  # the worker died before reading its job: its exit status tells
            pass

    def pump_out() -> None:
        assert proc.stdout is not None
        pending = b""
        while chunk := os.read(proc.stdout.fileno(), 1 << 16):
            if len(out) <= MAX_RESULT_BYTES:
                out.extend(chunk[: MAX_RESULT_BYTES + 1 - len(out)])
            pending += chunk
            *lines, pending = pending.split(b"\n")
            pending = pending[-256:]  # only a line's head is read here
            for line in lines:
                head = _EVENT_HEAD.match(line[:256])
                if head is None:
                    continue
                if head.group(1) == b"kernel":
                    deadline[0] = time.monotonic() + policy.budget + policy.startup_grace
                if on_event is not None:
                    try:
                        on_event(head.group(1).decode(), int(head.group(2)) if head.group(2) else None)
                    except Exception:  # a progress display never stops grading
                        logger.debug("progress callback failed", exc_info=True)

    def pump_err() -> None:
        assert proc.stderr is not None
        while chunk := os.read(proc.stderr.fileno(), 1 << 16):
            err.extend(chunk)
            del err[:-4096]

    threads = [threading.Thread(target=f, daemon=True) for f in (feed, pump_out, pump_err)]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        while True:
            try:
                proc.wait(timeout=max(0.0, min(1.0, deadline[0] - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline[0]:
                    timed_out = True
                    _kill_group(proc.pid)
                    proc.wait()
                    break
    finally:
        if proc.poll() is None:
            _kill_group(proc.pid)
            proc.wait()
        for thread in threads:
            thread.join(timeout=10)
    stdout = bytes(out)
    kernel = _kernel_pid(stdout)
    if kernel and not sandboxed:
        _kill_group(kernel)  # unsandboxed, the kernel has a session of its own; in the sandbox it died with it
    return {
        "stdout": stdout[:MAX_RESULT_BYTES + 1].decode("utf-8", "replace"),
        "stderr": bytes(err[-4096:]).decode("utf-8", "replace"),
        "returncode": proc.returncode,
        "timed_out": timed_out,
    }


def _kernel_pid(stdout: bytes) -> int:
    for line in stdout.splitlines()[:5]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "kernel" and isinstance(event.get("pid"), int):
            return int(event["pid"])
    return 0


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


# --------------------------------------------------------------------------- validating and scoring


class MalformedResult(ValueError):
    """The worker's output does not follow the schema."""


def _text(value: Any, field: str, limit: int = 10 * 1024**2) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str):
        raise MalformedResult(f"{field} is not text")
    return value[:limit]


def _output(raw: Any) -> NotebookNode:
    if not isinstance(raw, dict) or raw.get("output_type") not in _OUTPUT_TYPES:
        raise MalformedResult("an output has no known output_type")
    kind = raw["output_type"]
    if kind == "stream":
        stream = raw.get("name")
        if stream not in ("stdout", "stderr"):
            raise MalformedResult("a stream output has no valid name")
        out: NotebookNode = new_output("stream", name=stream, text=_text(raw.get("text", ""), "stream text"))
        return out
    if kind == "error":
        traceback = raw.get("traceback", [])
        if not isinstance(traceback, list):
            raise MalformedResult("an error's traceback is not a list")
        err: NotebookNode = new_output(
            "error", ename=_text(raw.get("ename", ""), "ename", 1000), evalue=_text(raw.get("evalue", ""), "evalue", 100_000),
            traceback=[_text(t, "traceback", 100_000) for t in traceback[:200]],
        )
        return err
    data = raw.get("data", {})
    metadata = raw.get("metadata", {})
    if not isinstance(data, dict) or not isinstance(metadata, dict) or not all(isinstance(k, str) for k in data):
        raise MalformedResult("a display output's data is not a mapping")
    clean = {k: v if isinstance(v, (dict, list)) and k.endswith("json") else _text(v, f"data[{k}]") for k, v in data.items()}
    if kind == "display_data":
        shown: NotebookNode = new_output("display_data", data=clean, metadata=json.loads(json.dumps(metadata)))
        return shown
    count = raw.get("execution_count")
    if count is not None and not isinstance(count, int):
        raise MalformedResult("an execute_result has a bad execution_count")
    result: NotebookNode = new_output(
        "execute_result", data=clean, metadata=json.loads(json.dumps(metadata)), execution_count=count
    )
    return result


def parse_records(stdout: str, *, n_cells: int, code_cells: set[int]) -> tuple[dict[int, CellRecord], str | None, str]:
    """Validate the worker's lines.

    Returns
    -------
    records : dict of int to CellRecord
    done_error : str or None
        The ``done`` line's error, or ``None`` when there was no ``done`` line.
    guard_error : str
        Why the guard's own cells failed, if they did.

    Raises
    ------
    MalformedResult
        On any line that breaks the schema.
    """
    if len(stdout) > MAX_RESULT_BYTES:
        raise MalformedResult("the result is larger than 64 MB")
    records: dict[int, CellRecord] = {}
    done: str | None = None
    guard_error = ""
    for number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        if done is not None:
            raise MalformedResult(f"line {number} comes after the final record")
        try:
            event = json.loads(line)
        except ValueError:
            raise MalformedResult(f"line {number} is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            raise MalformedResult(f"line {number} is not a record")
        kind = event["event"]
        if kind in ("start", "kernel"):
            continue
        if kind == "guard":
            guard_error = first_line(_text(event.get("error", ""), "guard error"))
        elif kind == "done":
            done = first_line(_text(event.get("error", ""), "done error", 2000))
        elif kind == "cell":
            index = event.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_cells or index not in code_cells:
                raise MalformedResult(f"line {number} names no code cell of the notebook")
            if index in records:
                raise MalformedResult(f"line {number} reports cell {index} twice")
            status = event.get("status")
            if status not in _STATUSES:
                raise MalformedResult(f"line {number} has an unknown status")
            outputs = event.get("outputs", [])
            if not isinstance(outputs, list):
                raise MalformedResult(f"line {number} has outputs that are not a list")
            count = event.get("execution_count")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
                raise MalformedResult(f"line {number} has a bad execution_count")
            records[index] = CellRecord(
                index=index, status=status, outputs=[dict(_output(o)) for o in outputs[:1000]],
                execution_count=count, error=first_line(_text(event.get("error", ""), "error", 2000)),
            )
        else:
            raise MalformedResult(f"line {number} has an unknown event {kind[:40]!r}")
    return records, done, guard_error


def failed_result(*, merged: NotebookNode | None, name: str, reason: str, outcome: Outcome,
                  notes: tuple[str, ...] = ()) -> NotebookResult:
    """Every grade cell at zero with ``reason`` (a submission that could not run)."""
    tests = [] if merged is None else [
        TestResult(t.grade_id, "manual" if t.status == "manual" else "failed", 0.0, t.max_points,
                   t.reason if t.status == "manual" else reason)
        for t in score_cells(merged, {}, error=reason)
    ]
    return NotebookResult(notebook=name, tests=tuple(tests), error=reason, notes=notes, outcome=outcome)


def finish_job(
    *,
    merged: NotebookNode,
    name: str,
    outcome: dict[str, Any],
    policy: SandboxPolicy,
    notes: tuple[str, ...] = (),
) -> tuple[NotebookResult, NotebookNode]:
    """Validate a job's raw output and score the notebook (trusted side).

    Parameters
    ----------
    merged : NotebookNode
        The coordinator's own copy of the notebook that was run.
    name : str
        The notebook's file name.
    outcome : dict
        What :func:`run_job` returned.
    policy : SandboxPolicy
        The limits the job ran under (for reasons).
    notes : tuple of str
        Notes gathered before the run (extra files left out, kernel name, ...).

    Returns
    -------
    result : NotebookResult
    executed : NotebookNode
        ``merged`` with the validated outputs (guard outputs removed).
    """
    import copy

    executed = copy.deepcopy(merged)
    if outcome.get("error"):
        kind: Outcome = "sandbox-unavailable"
        return failed_result(merged=merged, name=name, reason=str(outcome["error"]), outcome=kind, notes=notes), executed
    code_cells = {i for i, c in enumerate(merged.cells) if c.cell_type == "code"}
    try:
        records, done, guard_error = parse_records(
            str(outcome.get("stdout", "")), n_cells=len(merged.cells), code_cells=code_cells
        )
    except MalformedResult as exc:
        reason = f"the grader's result for this notebook was malformed ({exc}); nothing from it was used"
        return failed_result(merged=merged, name=name, reason=reason, outcome="malformed-result", notes=notes), executed

    records = {i: _name_the_limit(r, policy) for i, r in records.items()}
    status: Outcome = "completed"
    if done is not None:
        error = done
        if error.startswith("the notebook used up its time budget"):
            status = "budget-exhausted"
        elif error.startswith("the notebook ran out of memory"):
            status = "out-of-memory"
            error = (f"the notebook ran out of memory: a MemoryError at the sandbox's memory limit "
                     f"({size(policy.memory_bytes)} per process); later cells did not run")
        elif error.startswith("the kernel died"):
            status = "kernel-died"
        elif error:
            status = "kernel-died"
    elif outcome.get("timed_out"):
        error = (f"the notebook was stopped {policy.budget + policy.startup_grace:g} s after its kernel was ready "
                 f"(its time budget is {policy.budget:g} s)")
        status = "budget-exhausted"
    else:
        code = outcome.get("returncode")
        tail = first_line(str(outcome.get("stderr", "")).strip().splitlines()[-1] if str(outcome.get("stderr", "")).strip() else "")
        error = ("the grading process was killed before the notebook finished "
                 f"(exit status {code}; did the notebook kill its parent process?)")
        if tail and "Traceback" not in tail:
            error += f": {tail}"
        status = "grader-killed"
    if guard_error and not error:
        error = f"the grader's tamper guard could not run: {guard_error}"

    for index, record in records.items():
        cell = executed.cells[index]
        cell.outputs = [NotebookNode(o) for o in strip_guard_outputs(record.outputs)]
        cell.execution_count = record.execution_count
    tests = score_cells(merged, records, error=error)
    extra = list(notes)
    timeouts = [r for r in records.values() if r.status == "timeout"]
    if timeouts:
        extra.append(f"{len(timeouts)} cell(s) ran longer than {policy.cell_timeout:g} s and were interrupted")
        if status == "completed":
            status = "cell-timeout"
    hit = sorted({limit for r in records.values() for limit in _LIMIT_NAMES if f"the sandbox's limit: {limit}" in r.error})
    for limit in hit:
        extra.append(f"a cell hit the sandbox's limit on {_LIMIT_NAMES[limit](policy)}")
    if any("[output cut by the grader" in str(o.get("text", "")) for r in records.values() for o in r.outputs):
        extra.append(f"output longer than {policy.output_bytes} bytes per cell was cut")
    # Tampering is about the submission; a cell timeout may be about the machine: the first wins.
    if status in ("completed", "cell-timeout") and any(t.reason.startswith("tampering detected") for t in tests):
        status = "tampering"
    if not outcome.get("sandboxed"):
        extra.append("graded without the sandbox")
    by_count = {r.execution_count: i for i, r in records.items() if r.execution_count is not None}
    cells = test_cell_indices(merged)
    tests = [dataclasses.replace(t, where=_where(records[cells[t.grade_id]], merged, by_count))
             if t.status == "failed" and cells.get(t.grade_id) in records else t for t in tests]
    result = NotebookResult(notebook=name, tests=tuple(tests), error=error, notes=tuple(extra), outcome=status,
                            answer_errors=_answer_errors(records, merged, by_count))
    return result, executed


_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _learners(cell: NotebookNode) -> bool:
    """A cell whose code the learner wrote or may see: an answer, or a cell without a grade id."""
    return cell.cell_type == "code" and (is_answer_cell(cell) or grade_id(cell) is None)


def _label(merged: NotebookNode, index: int) -> str:
    gid = grade_id(merged.cells[index])
    return f"your answer cell {gid}" if gid else f"cell {index + 1}"


def _frames(record: CellRecord, merged: NotebookNode, by_count: dict[int, int]) -> list[tuple[int, int]]:
    """``(merged index, line)`` of each traceback frame in a learner's cell, outermost first.

    Only the numbers come from the kernel; the code shown is read from the coordinator's own copy.
    """
    found = []
    for output in record.outputs:
        if output.get("output_type") != "error":
            continue
        text = _ANSI.sub("", "\n".join(str(t) for t in output.get("traceback", [])))
        for count, line in _FRAME.findall(text):
            index = by_count.get(int(count))
            if index is not None and _learners(merged.cells[index]):
                found.append((index, int(line)))
    return found


def _code(merged: NotebookNode, index: int, line: int) -> str:
    lines = merged.cells[index].source.splitlines()
    return lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""


def _where(record: CellRecord, merged: NotebookNode, by_count: dict[int, int]) -> str:
    """The deepest line of the learner's code in a failed test's traceback (``""`` if none)."""
    frames = _frames(record, merged, by_count)
    if not frames:
        return ""
    index, line = frames[-1]
    code = _code(merged, index, line)
    return f"line {line} of {_label(merged, index)}" + (f": {code}" if code else "")


def _answer_errors(records: dict[int, CellRecord], merged: NotebookNode, by_count: dict[int, int]) -> tuple[str, ...]:
    """One line per learner's cell that raised: the error, the cell and the line."""
    found = []
    for index in sorted(records):
        record = records[index]
        if record.status != "error" or not _learners(merged.cells[index]):
            continue
        frames = _frames(record, merged, by_count)
        if frames:
            at, line = frames[-1]
            code = _code(merged, at, line)
            found.append(f"{record.error} at line {line} of {_label(merged, at)}" + (f": {code}" if code else ""))
        else:
            found.append(f"{record.error} in {_label(merged, index)}")
    return tuple(found[:10])


# What a cell's error says when one of the sandbox's limits refused it, and how the limit is named.
_LIMIT_SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("files", ("File too large", "[Errno 27]")),
    ("scratch space", ("No space left on device", "[Errno 28]")),
    ("processes", ("can't start new thread", "Resource temporarily unavailable", "[Errno 11]")),
)
_LIMIT_NAMES = {
    "files": lambda p: f"file size ({size(p.file_bytes)} per file)",
    "scratch space": lambda p: f"scratch space ({size(p.scratch_bytes)} for the working folder and /tmp)",
    "processes": lambda p: f"processes ({p.processes} processes and threads)",
}


def _name_the_limit(record: CellRecord, policy: SandboxPolicy) -> CellRecord:
    """A cell refused by a limit fails with a reason that names the limit, not only the OS error."""
    if record.status != "error" or not record.error:
        return record
    for limit, signs in _LIMIT_SIGNS:
        if any(sign in record.error for sign in signs):
            text = _LIMIT_NAMES[limit](policy)
            return dataclasses.replace(record, error=f"{record.error} (the sandbox's limit: {limit}: {text})"[:600])
    return record


def test_cell_indices(merged: NotebookNode) -> dict[str, int]:
    """Grade id to index of each test cell (for reports)."""
    return {gid: i for i, c in enumerate(merged.cells) if is_test_cell(c) and (gid := grade_id(c))}


# --------------------------------------------------------------------------- one call


def execute_and_score(
    *,
    submission: NotebookNode,
    source: NotebookNode,
    release: NotebookNode,
    name: str,
    workdir: Path | None = None,
    cell_timeout: int = 120,
    kernel_name: str = "python3",
    sandbox: bool = False,
) -> tuple[NotebookResult, NotebookNode]:
    """Merge, run and score one notebook, in a worker process.

    Parameters
    ----------
    submission, source, release : NotebookNode
        The learner's notebook, the nbgrader source and the student version.
    name : str
        The notebook's name in the report.
    workdir : Path, optional
        Folder whose files (not notebooks) are copied next to the notebook.
    cell_timeout : int, default 120
        Seconds one cell may run before it is interrupted and fails.
    kernel_name : str, default "python3"
        Kept for compatibility: grading always uses ``python3``.
    sandbox : bool, default False
        Run in the bubblewrap sandbox. Off by default: this call serves
        ``ds2mle verify``, which runs the course's own notebooks with the
        environment as it is.

    Returns
    -------
    result : NotebookResult
    executed : NotebookNode
        The merged notebook with its outputs (hidden tests included).
    """
    merged = merge_submission(submission=submission, source=source, release=release)
    policy = SandboxPolicy(cell_timeout=cell_timeout, budget=max(600.0, cell_timeout * 10.0))
    job = build_job(
        merged=merged, name=name, student=".", files=workdir, reference=None, policy=policy,
        sandbox="on" if sandbox else "off",
    )
    outcome = run_job(job)
    return finish_job(merged=merged, name=name, outcome=outcome, policy=policy)
