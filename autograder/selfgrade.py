"""``ds2mle grade --self``: a learner grades their own assignment.

The learner's notebooks in ``assignments/<slug>/`` go through the same path
as an instructor's batch (:mod:`autograder.coordinator`): read defensively,
merged with the sources in ``solutions/assignments/<slug>/`` (hidden tests
included, see :mod:`autograder.merge`), run by :mod:`autograder.worker` in
the bubblewrap sandbox where it is installed (with a one-line warning where
it is not), with the reference ``fraudguard`` of earlier modules only, and
scored from validated JSON. No gradebook is involved.

:func:`render_report` is the table the command prints: the errors the
learner's own cells raised first (a ``SyntaxError`` breaks every test after
it, so it is the cause to fix), then one row per test, with the line of the
learner's code a failing test stopped in.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nbformat import NotebookNode

from autograder.engine import NotebookResult, NotebookTotals
from autograder.gradebook import generate_release
from autograder.intake import load_submission, prepare_notebook, reference_files
from autograder.jobs import SandboxMode, close_slots, finish_job, run_job
from autograder.merge import grade_id, is_answer_cell
from autograder.sandbox import SandboxPolicy, bwrap_path
from ds2mle.errors import GradingError
from ds2mle.manifest import Course, Module
from ds2mle.notebooks import read_notebook

__all__ = ["Progress", "SelfGradeReport", "has_started", "progress_printer", "render_report", "self_grade"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelfGradeReport(NotebookTotals):
    """Every notebook of one module's assignment, graded.

    The totals a progress display needs are properties (from
    :class:`~autograder.engine.NotebookTotals`): ``autograded_score``,
    ``autograded_max`` and ``manual_points`` (written answers, graded by
    hand); ``passed`` says whether every autograded test passed.
    """

    module: Module
    notebooks: tuple[NotebookResult, ...]

    @property
    def passed(self) -> bool:
        """Did every autograded test pass, and every notebook run to the end?"""
        return all(not r.error and all(t.status != "failed" for t in r.tests) for r in self.notebooks)


@dataclass(frozen=True)
class Progress:
    """Where a self-grade is: ``stage`` is ``"starting"``, ``"running"`` or ``"done"`` for ``notebook``."""

    notebook: str
    stage: str
    cells_done: int
    cells: int


def has_started(submission: NotebookNode, release: NotebookNode) -> bool:
    """Has the learner changed any answer cell of the student version?"""
    pristine = {gid: cell.source for cell in release.cells if is_answer_cell(cell) and (gid := grade_id(cell))}
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid in pristine and cell.source.strip() != pristine[gid].strip():
            return True
    return False


def self_grade(
    course: Course,
    module_key: str,
    *,
    cell_timeout: float | None = None,
    budget: float | None = None,
    sandbox: SandboxMode = "auto",
    policy: SandboxPolicy | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SelfGradeReport:
    """Grade the learner's copy of a module's assignment, hidden tests included.

    Parameters
    ----------
    course : Course
        The loaded manifest.
    module_key : str
        Module id (``"00"``) or slug (``"00-start-here"``).
    cell_timeout : float, optional
        Seconds one cell may run (default: the policy's).
    budget : float, optional
        Seconds the notebook's cells may run (default: the policy's).
    sandbox : {"auto", "on", "off"}, default "auto"
        Run in bubblewrap where it is installed.
    policy : SandboxPolicy, optional
        The limits; by default those of ``nbgrader_config.py`` (see
        :meth:`SandboxPolicy.from_config`).
    on_progress : callable, optional
        Called with a :class:`Progress` as the kernel starts and each cell ends.

    Returns
    -------
    SelfGradeReport

    Raises
    ------
    GradingError
        If the module has no assignment, a notebook is missing, or the learner
        has not started yet.
    """
    module = course.module(module_key)
    if not module.assignments:
        raise GradingError(f"module {module.slug} has no graded assignment yet; pick one from `ds2mle status`")
    with tempfile.TemporaryDirectory(prefix="ds2mle-release-") as scratch:
        generate_release(course, module, release_dir=Path(scratch))
        started = False
        pairs = []
        for nb in module.assignments:
            student_path = nb.student_path(course.root)
            if not student_path.is_file():
                raise GradingError(
                    f"{student_path.relative_to(course.root)} is missing; restore it with "
                    f"`git checkout -- {student_path.relative_to(course.root)}`"
                )
            release = read_notebook(Path(scratch) / module.slug / nb.name)
            submission, _, _, _ = load_submission(student_path)
            # a file the grader cannot read counts as started: its reason is reported like a score
            started = started or submission is None or has_started(submission, release)
            pairs.append((nb, submission, release))
        if not started:
            first = module.assignments[0].student_path(course.root).relative_to(course.root)
            raise GradingError(
                f"you have not started {module.slug} yet: open {first}, fill in the cells marked "
                f"YOUR CODE HERE, save, then run `ds2mle grade --self {module.slug}` again"
            )
        if sandbox == "auto" and bwrap_path() is None:
            logger.warning("warning: bubblewrap (bwrap) is not installed, so your notebook runs without the sandbox")
        policy = policy or SandboxPolicy.from_config(course.root)
        if cell_timeout is not None or budget is not None:
            policy = SandboxPolicy.from_json({**policy.to_json(), "cell_timeout": cell_timeout or policy.cell_timeout,
                                              "budget": budget or policy.budget})
        reference = reference_files(course, module)
        try:
            results = _run_all(pairs, course, policy=policy, reference=reference, sandbox=sandbox, on_progress=on_progress)
        finally:
            close_slots()  # a zygote, where one served the notebooks (root with bubblewrap)
    return SelfGradeReport(module=module, notebooks=tuple(results))


def _run_all(
    pairs: list[tuple[Any, NotebookNode | None, NotebookNode]],
    course: Course,
    *,
    policy: SandboxPolicy,
    reference: dict[str, str],
    sandbox: SandboxMode,
    on_progress: Callable[[Progress], None] | None,
) -> list[NotebookResult]:
    results: list[NotebookResult] = []
    for nb, _, release in pairs:
        student_path = nb.student_path(course.root)
        prepared = prepare_notebook(
            path=student_path, source=read_notebook(nb.source_path(course.root)), release=release,
            student="self", files=student_path.parent, reference=reference, policy=policy, sandbox=sandbox,
        )
        if prepared.job is None:
            assert prepared.result is not None
            results.append(prepared.result)
            continue
        outcome = run_job(prepared.job, on_event=_progress_events(nb.name, prepared.merged, on_progress))
        results.append(finish_job(merged=prepared.merged, name=nb.name, outcome=outcome, policy=policy,
                                  notes=prepared.notes)[0])
    return results


def _progress_events(
    name: str, merged: NotebookNode, on_progress: Callable[[Progress], None] | None
) -> Callable[[str, int | None], None] | None:
    if on_progress is None:
        return None
    total = sum(1 for c in merged.cells if c.cell_type == "code" and c.source.strip())
    done = [0]

    def event(kind: str, index: int | None) -> None:
        if kind == "start":
            on_progress(Progress(name, "starting", 0, total))
        elif kind == "kernel":
            on_progress(Progress(name, "running", 0, total))
        elif kind == "cell":
            done[0] = min(total, done[0] + 1)
            on_progress(Progress(name, "running", done[0], total))
        elif kind == "done":
            on_progress(Progress(name, "done", done[0], total))

    return event


def progress_printer(stream: TextIO | None = None) -> Callable[[Progress], None]:
    """A progress display for :func:`self_grade`: a tqdm bar on a terminal, else a line per stage."""
    out = stream or sys.stderr
    bars: dict[str, Any] = {}
    if out.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        def show_bar(p: Progress) -> None:
            bar = bars.get(p.notebook)
            if bar is None:
                bar = bars[p.notebook] = tqdm(total=p.cells, unit="cell", desc=p.notebook, file=out, leave=False)
                bar.set_postfix_str("starting the kernel")
            if p.stage == "running":
                bar.set_postfix_str("")
                bar.update(p.cells_done - bar.n)
            elif p.stage == "done":
                bar.close()

        return show_bar

    said: set[tuple[str, str]] = set()

    def show_lines(p: Progress) -> None:
        stage = "kernel ready" if p.stage == "running" and p.cells_done == 0 else p.stage
        if p.stage == "running" and p.cells_done:
            # a line at each quarter, so a long notebook shows it is alive without a line per cell
            quarter = 4 * p.cells_done // max(1, p.cells)
            stage = f"{quarter * 25}%"
        if (p.notebook, stage) in said:
            return
        said.add((p.notebook, stage))
        text = {"starting": "starting a sandboxed kernel", "kernel ready": "kernel ready, running your cells",
                "done": f"ran {p.cells_done}/{p.cells} cells"}.get(stage, f"{stage} of {p.cells} cells run")
        print(f"  {p.notebook}: {text}", file=out, flush=True)

    return show_lines


def render_report(report: SelfGradeReport) -> str:
    """The learner's table: their code's own errors first, then one row per test, then the score."""
    lines: list[str] = []
    width = max((len(t.grade_id) for r in report.notebooks for t in r.tests), default=10)
    for result in report.notebooks:
        lines.append(f"\n{result.notebook}")
        if result.answer_errors:
            lines.append("  Your code raised an error; the tests after it fail because of it. Fix this first:")
            lines.extend(f"    {e}" for e in result.answer_errors)
        for test in result.tests:
            mark = {"passed": "PASS", "failed": "FAIL", "manual": "----"}[test.status]
            points = f"{test.points:g}/{test.max_points:g}" if test.status != "manual" else f"?/{test.max_points:g}"
            lines.append(f"  {mark}  {test.grade_id:<{width}}  {points:>6}  {test.reason}")
            if test.where:
                lines.append(f"        {'':<{width}}          raised at {test.where}")
        if result.error:
            lines.append(f"  note: {result.error}")
        lines.extend(f"  note: {note}" for note in result.notes)
    lines.append(
        f"\nScore: {report.autograded_score:g}/{report.autograded_max:g} autograded"
        + (f" (+{report.manual_points:g} points of written answers, graded by hand)" if report.manual_points else "")
    )
    return "\n".join(lines)
