"""Execute a merged submission and score its grade cells.

This is the part of grading that runs the learner's code. It takes plain
notebooks in and gives a plain, JSON-ready :class:`NotebookResult` out, so the
same function serves self-grading, ``ds2mle verify`` and the instructor's
batch grader.

Scoring follows nbgrader: a test cell earns its points when it runs without
an error; a written answer waits for a person. Cells that ran before a
failure (a timeout, a dead kernel) keep their points; the rest score zero
with the failure as their reason.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbformat import NotebookNode

from autograder.merge import grade_id, is_manual_cell, is_test_cell, merge_submission

__all__ = ["NotebookResult", "TestResult", "execute_and_score"]

Status = Literal["passed", "failed", "manual"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class TestResult:
    """The outcome of one grade cell."""

    grade_id: str
    status: Status
    points: float
    max_points: float
    reason: str = ""


@dataclass(frozen=True)
class NotebookResult:
    """The outcome of grading one notebook of a submission."""

    notebook: str
    tests: tuple[TestResult, ...] = field(default_factory=tuple)
    error: str = ""

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
        """A plain dict: the only form a result leaves the grading process in."""
        return {"notebook": self.notebook, "error": self.error, "tests": [asdict(t) for t in self.tests]}


def execute_and_score(
    *,
    submission: NotebookNode,
    source: NotebookNode,
    release: NotebookNode,
    name: str,
    workdir: Path | None = None,
    cell_timeout: int = 120,
    kernel_name: str = "python3",
) -> tuple[NotebookResult, NotebookNode]:
    """Merge, run and score one notebook.

    Parameters
    ----------
    submission, source, release : NotebookNode
        The learner's notebook, the nbgrader source and the student version.
    name : str
        The notebook's name in the report.
    workdir : Path, optional
        Folder whose copy the kernel runs in (the submission's folder, for its
        data files). An empty temporary folder when omitted.
    cell_timeout : int, default 120
        Seconds one cell may run before it is interrupted and fails.
    kernel_name : str, default "python3"
        The kernel to run; the submission's own kernelspec is ignored.

    Returns
    -------
    result : NotebookResult
    executed : NotebookNode
        The merged notebook with its outputs (for feedback).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    merged = merge_submission(submission=submission, source=source, release=release)
    error = ""
    with tempfile.TemporaryDirectory(prefix="ds2mle-grade-") as scratch:
        run_dir = Path(scratch) / "run"
        if workdir is not None:
            shutil.copytree(workdir, run_dir, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        else:
            run_dir.mkdir()
        client = NotebookClient(
            merged,
            timeout=cell_timeout,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=True,
            # A timed-out cell fails like any other error and the rest still run.
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran longer than {cell_timeout} s and was interrupted",
                "traceback": [],
            },
            resources={"metadata": {"path": str(run_dir)}},
        )
        try:
            client.execute()
        except DeadKernelError:
            error = "the kernel died (os._exit, a crash or running out of memory)"
        except CellTimeoutError:
            error = f"a cell ran longer than {cell_timeout} s"
        except Exception as exc:  # a kernel that never starts, a bad kernelspec, ...
            error = f"the notebook could not be executed: {type(exc).__name__}: {_first_line(str(exc))}"
    return NotebookResult(notebook=name, tests=tuple(_score(merged, error=error)), error=error), merged


def _score(nb: NotebookNode, *, error: str) -> list[TestResult]:
    results = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is None:
            continue
        points = float(cell.metadata["nbgrader"].get("points", 0))
        if is_manual_cell(cell):
            results.append(TestResult(gid, "manual", 0.0, points, "graded by hand"))
        elif is_test_cell(cell):
            ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
            failure = _failure(cell)
            if not ran:
                results.append(TestResult(gid, "failed", 0.0, points, error or "did not run"))
            elif failure:
                results.append(TestResult(gid, "failed", 0.0, points, failure))
            else:
                results.append(TestResult(gid, "passed", points, points))
    return results


def _failure(cell: NotebookNode) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = _first_line(_ANSI.sub("", str(output.get("evalue", ""))))
            name = str(output.get("ename", "Error"))
            return f"{name}: {value}" if value else name
    return ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
