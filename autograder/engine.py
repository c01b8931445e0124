"""Run a merged notebook cell by cell, and score its grade cells.

Two halves, on the two sides of the sandbox wall:

- :func:`run_notebook` runs *inside* the sandbox (in :mod:`autograder.worker`).
  It executes the instrumented notebook with nbclient and emits one plain
  JSON-ready event per executed cell, as soon as the cell ends, so that the
  cells that ran before a crash keep their record.
- :func:`score_cells` runs on the trusted side. It takes the merged notebook
  (which the coordinator built itself) and the validated cell records, and
  decides every grade cell's points and reason.

Scoring follows nbgrader: a test cell earns its points when it runs to the
end without an error (and, here, when the tamper guard saw nothing changed);
a written answer waits for a person. Cells that ran before a failure (a
timeout, a dead kernel, a killed grader) keep their points; the rest score
zero with the failure as their reason.

:func:`autograder.jobs.execute_and_score` puts the two together for callers
that want one call (``ds2mle verify``). This module imports nothing from the
job layer above it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbformat import NotebookNode

from autograder.guard import guard_report
from autograder.merge import grade_id, is_manual_cell, is_test_cell

__all__ = [
    "CellRecord",
    "NotebookResult",
    "TestResult",
    "first_line",
    "run_notebook",
    "score_cells",
]

Status = Literal["passed", "failed", "manual"]
CellStatus = Literal["ok", "error", "timeout", "died"]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class TestResult:
    """The outcome of one grade cell."""

    grade_id: str
    status: Status
    points: float
    max_points: float
    reason: str = ""
    where: str = ""  # the learner's line that raised, when a test failed inside their code


@dataclass(frozen=True)
class NotebookResult:
    """The outcome of grading one notebook of a submission.

    Attributes
    ----------
    notebook : str
        The notebook's file name.
    tests : tuple of TestResult
        One per grade cell, in notebook order.
    error : str
        Why the notebook did not run to the end (empty when it did).
    notes : tuple of str
        Things worth knowing that cost no points (a cell timed out, output
        was cut, an extra file was not copied, ...).
    outcome : str
        How the run ended, one word for summaries: ``completed``,
        ``cell-timeout``, ``budget-exhausted``, ``kernel-died``,
        ``grader-killed``, ``malformed-result``, ``invalid-notebook``,
        ``unsupported-nbformat``, ``missing-notebook``, ``tampering``,
        ``sandbox-unavailable`` or ``grader-error``.
    answer_errors : tuple of str
        One line per error raised by the learner's own cells (a ``SyntaxError``
        in an answer, ...), with the cell and line: the cause to show before
        the tests it broke.
    regraded : bool
        This result comes from a second run, alone at the end of the batch,
        after the first ended with an outcome the machine may have caused
        (``kernel-died``, ``budget-exhausted``, ``cell-timeout``, ...).
    """

    notebook: str
    tests: tuple[TestResult, ...] = field(default_factory=tuple)
    error: str = ""
    notes: tuple[str, ...] = ()
    outcome: str = "completed"
    regraded: bool = False
    answer_errors: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """Points earned by autograded tests."""
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        """Points available, written answers included."""
        return sum(t.max_points for t in self.tests)

    @property
    def manual_points(self) -> float:
        """Points that wait for a person (written answers)."""
        return sum(t.max_points for t in self.tests if t.status == "manual")

    def to_json(self) -> dict[str, Any]:
        """A plain dict, for reports and logs."""
        return {
            "notebook": self.notebook,
            "outcome": self.outcome,
            "regraded": self.regraded,
            "answer_errors": list(self.answer_errors),
            "error": self.error,
            "notes": list(self.notes),
            "tests": [asdict(t) for t in self.tests],
        }


@dataclass(frozen=True)
class CellRecord:
    """What happened to one cell of the merged notebook (validated, trusted side).

    Attributes
    ----------
    index : int
        Position in the merged notebook.
    status : {"ok", "error", "timeout", "died"}
        How the cell ended; ``"died"`` when the kernel died during it.
    outputs : list of dict
        nbformat v4 outputs, guard outputs included.
    execution_count : int or None
    error : str
        First line of the error, when ``status`` is not ``"ok"``.
    """

    index: int
    status: CellStatus
    outputs: list[dict[str, Any]]
    execution_count: int | None = None
    error: str = ""


# --------------------------------------------------------------------------- scoring (trusted side)


class NotebookTotals:
    """Totals over ``self.notebooks``: shared by the instructor's and the learner's reports."""

    notebooks: tuple[NotebookResult, ...]

    @property
    def score(self) -> float:
        """Autograded points earned."""
        return sum(r.score for r in self.notebooks)

    @property
    def max_score(self) -> float:
        """All points, written answers included."""
        return sum(r.max_score for r in self.notebooks)

    @property
    def manual_points(self) -> float:
        """Points that a person grades (written answers)."""
        return sum(r.manual_points for r in self.notebooks)

    @property
    def autograded_score(self) -> float:
        """Autograded points earned (the same as :attr:`score`)."""
        return self.score

    @property
    def autograded_max(self) -> float:
        """Autograded points available: all points but the written answers'."""
        return self.max_score - self.manual_points


def score_cells(merged: NotebookNode, records: dict[int, CellRecord], *, error: str) -> list[TestResult]:
    """Score every grade cell of ``merged`` from the records of the cells that ran.

    Parameters
    ----------
    merged : NotebookNode
        The notebook that was run (before instrumentation), from the coordinator.
    records : dict of int to CellRecord
        Validated records by merged cell index; a missing index did not run.
    error : str
        Why the run stopped early, if it did: the reason for cells that never ran.

    Returns
    -------
    list of TestResult
    """
    results = []
    for index, cell in enumerate(merged.cells):
        gid = grade_id(cell)
        if gid is None or not cell.metadata["nbgrader"].get("grade"):
            continue
        points = float(cell.metadata["nbgrader"].get("points", 0))
        if is_manual_cell(cell):
            results.append(TestResult(gid, "manual", 0.0, points, "graded by hand"))
            continue
        if not is_test_cell(cell):
            continue
        record = records.get(index)
        if record is None:
            results.append(TestResult(gid, "failed", 0.0, points, error or "did not run"))
            continue
        guard = guard_report(record.outputs, gid)
        failure = guard.reason if guard.changed else ""
        if not failure:
            failure = record.error if record.status != "ok" else _failure(record.outputs)
        if record.status == "died" and not failure:
            failure = error or "the kernel died while this test ran"
        if not failure:
            failure = guard.reason
        if failure:
            results.append(TestResult(gid, "failed", 0.0, points, failure))
        else:
            results.append(TestResult(gid, "passed", points, points))
    return results


def _failure(outputs: list[dict[str, Any]]) -> str:
    for output in outputs:
        if output.get("output_type") == "error":
            value = first_line(str(output.get("evalue", "")))
            name = first_line(str(output.get("ename", "Error")))[:100] or "Error"
            return f"{name}: {value}" if value else name
    return ""


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, without ANSI colours, at most 300 characters."""
    for line in _ANSI.sub("", text).splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


# --------------------------------------------------------------------------- running (sandbox side)

Emit = Callable[[dict[str, Any]], None]


class _BudgetExhausted(Exception):
    """The notebook's whole time budget ran out before this cell could start."""


class _MemoryExhausted(Exception):
    """A cell hit the memory limit; the kernel may be left without room to run the rest."""


def run_notebook(
    nb: NotebookNode,
    *,
    origin: list[int | None],
    cwd: Path,
    cell_timeout: float,
    budget: float,
    max_output_bytes: int,
    emit: Emit,
    kill_strays: bool = False,
    kernel_manager: Any = None,
) -> str:
    """Execute ``nb`` with a fresh ``python3`` kernel and emit one event per code cell.

    Parameters
    ----------
    nb : NotebookNode
        The instrumented notebook (see :func:`autograder.guard.instrument`).
    origin : list of int or None
        Merged index of each cell of ``nb``, ``None`` for the guard's cells.
    cwd : Path
        Folder the kernel runs in.
    cell_timeout : float
        Seconds one cell may run before it is interrupted.
    budget : float
        Seconds the whole notebook may take; cells that would start later are not run.
    max_output_bytes : int
        Output kept per cell; the rest is cut with a note.
    emit : callable
        Receives ``{"event": "cell", ...}`` records as cells end.
    kill_strays : bool, default False
        After a cell times out, kill every other process in this PID namespace
        (set only inside the sandbox, where the worker is alone with its kernel).
    kernel_manager : jupyter_client kernel manager, optional
        The kernel to use; by default nbclient starts a new ``python3``
        (:mod:`autograder.zygote` passes one that starts a forked, pre-imported kernel).

    Returns
    -------
    str
        Why the run stopped early, or ``""`` when every cell ran.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    # The budget counts the notebook's cells, from the moment the kernel is ready: starting a kernel is
    # the grader's cost (bounded by ``startup_timeout``), and on a busy machine it can take many seconds.
    deadline = time.monotonic() + budget + 120

    class GradingClient(NotebookClient):
        """nbclient with a time budget, an output cap and per-cell events."""

        reply: dict[str, Any] | None = None
        cell_bytes = 0
        truncated = False

        async def async_start_new_kernel_client(self) -> Any:
            assert self.km is not None
            self.km.client_factory = _ready_client_class()
            return await super().async_start_new_kernel_client()

        async def async_execute_cell(
            self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
        ) -> NotebookNode:
            if cell.cell_type != "code" or not cell.source.strip():
                return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if time.monotonic() >= deadline:
                raise _BudgetExhausted()
            self.reply, self.cell_bytes, self.truncated = None, 0, False
            try:
                done: NotebookNode = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            except (DeadKernelError, asyncio.CancelledError):
                _emit_cell(cell_index, cell, "died", "the kernel died (os._exit, a crash, or a resource limit)")
                raise
            reply: dict[str, Any] = self.reply or {}
            content: dict[str, Any] = reply.get("content", {})
            status: CellStatus = "ok"
            reason = ""
            if content.get("status") == "error":
                if content.get("ename") == "CellTimeoutError":
                    status, reason = "timeout", str(content.get("evalue", "the cell timed out"))
                    if kill_strays:
                        _kill_strays(keep={os.getpid(), _kernel_pid(self)})
                elif content.get("ename") == "MemoryError":
                    # Whatever still holds the memory would starve the next cells at random;
                    # stop here so the outcome does not depend on where they fail.
                    _emit_cell(cell_index, done, "error", "MemoryError: the cell hit the memory limit")
                    raise _MemoryExhausted()
                else:
                    status = "error"
                    ename, evalue = first_line(str(content.get("ename", "Error"))), first_line(str(content.get("evalue", "")))
                    reason = f"{ename}: {evalue}" if evalue else ename
            elif content.get("status") not in ("ok", None):
                status, reason = "error", f"the cell ended with status {content.get('status')!r}"
            _emit_cell(cell_index, done, status, reason)
            return done

        def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            content = msg.get("content", {})
            size = len(str(content.get("text", ""))) + len(str(content.get("data", ""))) + len(str(content.get("traceback", "")))
            self.cell_bytes += size
            if self.cell_bytes > max_output_bytes:
                if not self.truncated:
                    self.truncated = True
                    outs.append(NotebookNode(output_type="stream", name="stderr",
                                             text=f"\n[output cut by the grader after {max_output_bytes} bytes]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    def _emit_cell(cell_index: int, cell: NotebookNode, status: CellStatus, reason: str) -> None:
        merged_index = origin[cell_index] if cell_index < len(origin) else None
        if merged_index is None:
            if status != "ok":  # a guard cell failed: every test check will be missing
                emit({"event": "guard", "status": status, "error": reason[:300]})
            return
        emit({
            "event": "cell",
            "index": merged_index,
            "status": status,
            "error": reason[:300],
            "execution_count": cell.get("execution_count"),
            "outputs": [dict(o) for o in cell.get("outputs", [])],
        })

    def timeout_for(cell: NotebookNode) -> int:
        return max(1, int(min(cell_timeout, deadline - time.monotonic())))

    client = GradingClient(
        nb,
        km=kernel_manager,
        timeout=int(cell_timeout),
        timeout_func=timeout_for,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than its time limit ({cell_timeout:g} s or what was left of the notebook's budget) and was interrupted",
            "traceback": [],
        },
        startup_timeout=120,
        # No history database (an sqlite file and a thread per kernel): grading never reads it.
        extra_arguments=["--HistoryManager.enabled=False"],
        # After a cell's reply, wait this long for its last outputs (nbclient's default, 4 s, drops them on a
        # busy machine: a lost error or guard output would change the score).
        iopub_timeout=15,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
    )

    def on_executed(cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
        client.reply = execute_reply

    async def on_start(notebook: NotebookNode) -> None:
        nonlocal deadline
        deadline = time.monotonic() + budget
        emit({"event": "kernel", "pid": _kernel_pid(client)})

    client.on_cell_executed = on_executed
    client.on_notebook_start = on_start
    try:
        client.execute(cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except _BudgetExhausted:
        return f"the notebook used up its time budget ({budget:g} s); later cells did not run"
    except _MemoryExhausted:
        return "the notebook ran out of memory (a MemoryError at the grader's limit); later cells did not run"
    except DeadKernelError:
        return "the kernel died (os._exit, a crash, or a resource limit such as memory or CPU time)"
    except Exception as exc:  # a kernel that never starts, a broken client, ...
        return f"the notebook could not be executed: {type(exc).__name__}: {first_line(str(exc))}"
    return ""


_READY_CLIENT: list[type] = []


def _ready_client_class() -> type:
    """jupyter_client's asynchronous kernel client, with a handshake that does not idle at its end.

    ``wait_for_ready`` asks for ``kernel_info`` until the reply comes and one IOPub message shows the IOPub
    channel is connected (so no output of the first cell can be lost), as jupyter_client does. jupyter_client
    then reads IOPub until it has been quiet for 0.2 s, only to throw those messages away: a fixed 0.2 s per
    kernel, a third of a graded submission's overhead. nbclient ignores every IOPub message whose parent is
    not the cell it runs, so those leftover status messages need no draining.
    """
    if not _READY_CLIENT:
        from queue import Empty

        from jupyter_client.asynchronous.client import AsyncKernelClient

        class ReadyClient(AsyncKernelClient):
            async def wait_for_ready(self, timeout: float | None = None) -> None:
                deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
                while True:
                    self.kernel_info()
                    try:
                        msg = await self.shell_channel.get_msg(timeout=1)
                    except Empty:
                        pass
                    else:
                        if msg["msg_type"] == "kernel_info_reply":
                            try:
                                await self.iopub_channel.get_msg(timeout=0.2)
                            except Empty:
                                pass  # IOPub not connected yet: ask again
                            else:
                                self._handle_kernel_info_reply(msg)
                                return
                    if not await self._async_is_alive():
                        raise RuntimeError("Kernel died before replying to kernel_info")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"Kernel didn't respond in {timeout:g} s")

        _READY_CLIENT.append(ReadyClient)
    return _READY_CLIENT[0]


def _kernel_pid(client: Any) -> int:
    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return int(pid) if isinstance(pid, int) else -1


def _kill_strays(*, keep: set[int]) -> None:
    """Kill every process of this PID namespace except init, the worker and the kernel."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep and int(entry) != 1:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
