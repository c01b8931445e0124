"""The trusted side of grading: ``ds2mle grade ASSIGNMENT``.

The coordinator is the only process that reads the sources (hidden tests),
builds the notebooks to run, and writes nbgrader's gradebook. For each
submission it

1. reads, validates and merges each notebook with :mod:`autograder.intake`,
   which never raises: a missing file, a symbolic link, a file too large,
   not JSON, nested too deeply, not nbformat 4 or anything else that breaks
   the reader gives that notebook a score of zero and the reason, without
   running anything; the merge follows the cell policy of
   :mod:`autograder.merge`;
3. hands a JSON job (:mod:`autograder.jobs`) to a pool of threads, each of
   which starts one sandboxed worker at a time, or to a Dask cluster
   (``scheduler``); every kernel lives in its own network namespace, so
   parallel kernels never race for ports (nbgrader #174);
4. validates what comes back, scores it, and, from the main thread only,
   writes the gradebook, ``autograded/<student>/<assignment>/`` (redacted,
   for formgrader) and ``feedback/<student>/<assignment>/<nb>.html``;
5. at the end writes a CSV and returns a :class:`BatchReport` whose
   :meth:`~BatchReport.summary` is printed by the CLI.

Every submission ends with a score and a reason, whatever it does; the
batch always completes.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import csv
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder.collect import DEFAULT_ZIP_PATTERN, Submission, collect_zip, discover_submissions
from autograder.engine import NotebookResult, NotebookTotals, first_line
from autograder.feedback import redact, render_html, write_text
from autograder.gradebook import NotebookGrades, db_url, record_submission, register_assignment
from autograder.intake import prepare_notebook, reference_files
from autograder.jobs import (
    SandboxMode,
    close_slots,
    collect_extra_files,
    failed_result,
    finish_job,
    run_job,
    run_job_json,
    warm_slot,
)
from autograder.merge import grade_id, is_answer_cell, is_manual_cell
from autograder.sandbox import SandboxPolicy, bwrap_path
from ds2mle.errors import GradingError
from ds2mle.manifest import Course, Module
from ds2mle.notebooks import read_notebook

__all__ = [
    "BatchReport",
    "GradingOptions",
    "SubmissionReport",
    "grade_assignment",
]

logger = logging.getLogger(__name__)

#: Outcomes that may come from the machine rather than the notebook (load, a slow start): re-graded once, alone.
REGRADE_OUTCOMES = frozenset({"kernel-died", "budget-exhausted", "cell-timeout", "grader-killed", "sandbox-unavailable"})


@dataclass(frozen=True)
class GradingOptions:
    """How to grade a batch.

    Attributes
    ----------
    jobs : int
        Submissions graded at once (local threads, or tasks in flight on Dask).
    policy : SandboxPolicy
        Time, memory, process and output limits per notebook.
    sandbox : {"auto", "on", "off"}
        ``"auto"``: bubblewrap where installed, else a one-line warning.
    scheduler : str or None
        A Dask scheduler address (``tcp://host:8786``): run the jobs there.
    feedback : bool
        Write HTML feedback per student.
    csv_path : Path or None
        Where the CSV goes (default ``exports/<assignment>.csv``).
    progress : bool
        Show a tqdm progress bar.
    """

    jobs: int = os.cpu_count() or 1
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    sandbox: SandboxMode = "auto"
    scheduler: str | None = None
    feedback: bool = True
    csv_path: Path | None = None
    progress: bool = True


@dataclass(frozen=True)
class SubmissionReport(NotebookTotals):
    """One student's graded submission."""

    student: str
    notebooks: tuple[NotebookResult, ...]
    seconds: float = 0.0

    @property
    def outcome(self) -> str:
        """``completed``, or the first notebook's failure (``kernel-died``, ...)."""
        for r in self.notebooks:
            if r.outcome != "completed":
                return r.outcome
        return "completed"

    @property
    def regraded(self) -> bool:
        """Does a notebook's result come from the re-grade at the end of the batch?"""
        return any(r.regraded for r in self.notebooks)

    @property
    def reason(self) -> str:
        """One line: why points were lost, or that every test passed."""
        for r in self.notebooks:
            if r.error:
                return f"{r.notebook}: {r.error}"
        for r in self.notebooks:
            for t in r.tests:
                if t.status == "failed":
                    return f"{r.notebook}: {t.grade_id}: {t.reason}"
        return "all autograded tests passed"


@dataclass(frozen=True)
class BatchReport:
    """A graded batch."""

    assignment: str
    submissions: tuple[SubmissionReport, ...]
    seconds: float
    sandboxed: bool
    csv_path: Path | None = None

    def summary(self) -> str:
        """The table printed at the end: students, mean, failures by reason."""
        n = len(self.submissions)
        scores = [s.score for s in self.submissions]
        auto_max = max((s.max_score - s.manual_points for s in self.submissions), default=0.0)
        manual = max((s.manual_points for s in self.submissions), default=0.0)
        outcomes = Counter(s.outcome for s in self.submissions)
        lines = [
            f"{self.assignment}: {n} submission(s) graded in {self.seconds:.1f} s "
            f"({'sandboxed' if self.sandboxed else 'NOT sandboxed'})",
            f"  mean {statistics.fmean(scores) if scores else 0:.2f}/{auto_max:g} autograded"
            f"  median {statistics.median(scores) if scores else 0:g}"
            + (f"  (+{manual:g} points of written answers to grade in formgrader)" if manual else ""),
            f"  full marks: {sum(1 for s in scores if s >= auto_max > 0)}   zero: {sum(1 for s in scores if s == 0)}",
            "  outcome                 submissions",
        ]
        for outcome, count in sorted(outcomes.items(), key=lambda kv: (kv[0] != "completed", kv[0])):
            lines.append(f"  {outcome:<22}  {count:>11}")
        regraded = sum(1 for s in self.submissions if s.regraded)
        if regraded:
            lines.append(f"  re-graded alone at the end (a dead kernel or a timeout on the first run): {regraded}")
        if self.csv_path is not None:
            lines.append(f"  grades: {self.csv_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- inputs


def _answers(executed: NotebookNode, release: NotebookNode) -> tuple[dict[str, bool], dict[str, bool]]:
    """Which answer cells the learner changed: (written answers, all answers)."""
    stub = {gid: c.source.strip() for c in release.cells if is_answer_cell(c) and (gid := grade_id(c))}
    manual: dict[str, bool] = {}
    answered: dict[str, bool] = {}
    for cell in executed.cells:
        gid = grade_id(cell)
        if gid is None or not is_answer_cell(cell):
            continue
        changed = cell.source.strip() != stub.get(gid, "").strip()
        answered[gid] = changed
        if is_manual_cell(cell):
            manual[gid] = changed
    return manual, answered


# --------------------------------------------------------------------------- running


@dataclass
class _Pending:
    submission: Submission
    files: dict[str, bytes] = field(default_factory=dict)
    results: dict[str, NotebookResult] = field(default_factory=dict)
    executed: dict[str, NotebookNode] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


def _executor(options: GradingOptions, *, warm: int = 0) -> tuple[Callable[[dict[str, Any]], cf.Future[dict[str, Any]]],
                                                                  Callable[[list[Any]], Iterator[Any]], Callable[[], None]]:
    """submit(job) -> future of the raw outcome; as_completed(futures); close().

    Locally, ``warm`` threads start their zygote at once (:func:`autograder.jobs.warm_slot`), while the
    coordinator goes on reading the sources and the submissions.
    """
    if options.scheduler:
        try:
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError:
            raise GradingError("--scheduler needs dask.distributed; run `python -m pip install -e .`") from None
        try:
            client = Client(options.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {options.scheduler}: {exc}") from None

        def submit_remote(job: dict[str, Any]) -> Any:
            return client.submit(run_job_json, json.dumps(job), pure=False)

        def completed_remote(futures: list[Any]) -> Iterator[Any]:
            yield from dask_completed(futures)

        return submit_remote, completed_remote, client.close

    pool = cf.ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="ds2mle-grade")
    for _ in range(min(warm, max(1, options.jobs))):
        pool.submit(warm_slot, options.sandbox)

    def submit_local(job: dict[str, Any]) -> cf.Future[dict[str, Any]]:
        return pool.submit(run_job, job)

    def completed_local(futures: list[Any]) -> Iterator[Any]:
        yield from cf.as_completed(futures)

    def close_local() -> None:
        pool.shutdown(wait=True, cancel_futures=True)
        close_slots()  # the slots' zygotes live as long as the batch

    return submit_local, completed_local, close_local


def _outcome_of(future: Any, remote: bool) -> dict[str, Any]:
    try:
        value = future.result()
    except Exception as exc:  # a lost Dask worker, a bug in staging: this submission only
        return {"error": f"the job failed outside the notebook: {type(exc).__name__}: {exc}"[:300]}
    if remote:
        try:
            decoded = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            return {"stdout": "not json", "sandboxed": False}
        return decoded
    return value if isinstance(value, dict) else {"error": "the job returned nothing"}


def grade_assignment(
    course: Course,
    module_key: str,
    *,
    students: list[str] | None = None,
    options: GradingOptions | None = None,
    zip_path: Path | None = None,
    zip_pattern: str = DEFAULT_ZIP_PATTERN,
    on_submission: Callable[[SubmissionReport], None] | None = None,
) -> BatchReport:
    """Grade every submission of a module's assignment.

    Parameters
    ----------
    course : Course
        The loaded manifest; its root is the nbgrader course root.
    module_key : str
        Module id or slug (the slug is the nbgrader assignment id).
    students : list of str, optional
        Only these students.
    options : GradingOptions, optional
    zip_path : Path, optional
        An LMS download to collect first (see :func:`autograder.collect.collect_zip`).
    zip_pattern : str
        File-name pattern for ``zip_path``.
    on_submission : callable, optional
        Called with each finished :class:`SubmissionReport`.

    Returns
    -------
    BatchReport

    Raises
    ------
    GradingError
        Unknown assignment, no submissions, a bad zip, an unreachable scheduler.
    """
    options = options or GradingOptions()
    started = time.monotonic()
    module = course.module(module_key)
    if not module.assignments:
        raise GradingError(f"module {module.slug} has no graded assignment; pick one listed in course.toml")
    if zip_path is not None:
        collect_zip(course, module, zip_path, pattern=zip_pattern)
    submissions = discover_submissions(course, module, students=students)
    if options.sandbox == "on" and not options.scheduler and bwrap_path() is None:
        raise GradingError("--sandbox on needs bubblewrap: install it (`apt-get install bubblewrap`) or use --sandbox auto")
    if options.sandbox == "auto" and not options.scheduler and bwrap_path() is None:
        logger.warning("warning: bubblewrap (bwrap) is not installed; submissions run WITHOUT the sandbox")

    # The grading threads start their zygotes now, while the sources and the submissions are read.
    submit, completed, close = _executor(options, warm=len(submissions))
    progress = None
    try:
        with tempfile.TemporaryDirectory(prefix="ds2mle-release-") as scratch:
            releases = register_assignment(course, module, release_dir=Path(scratch))
            release = {nb.name: read_notebook(path) for nb, path in zip(module.assignments, releases)}
        sources = {nb.name: read_notebook(nb.source_path(course.root)) for nb in module.assignments}
        reference = reference_files(course, module)
        policy = options.policy

        pending: dict[str, _Pending] = {}
        jobs: list[tuple[str, str, NotebookNode, tuple[str, ...], dict[str, Any]]] = []
        for sub in submissions:
            try:
                files, file_notes = collect_extra_files(sub.folder)
            except Exception as exc:  # an unreadable folder: grade the notebooks without the extra files
                files, file_notes = {}, [f"the submission's extra files could not be read ({type(exc).__name__}); none were copied"]
            state = pending[sub.student] = _Pending(submission=sub, files=files)
            for nb in module.assignments:
                prepared = prepare_notebook(
                    path=sub.folder / nb.name, source=sources[nb.name], release=release[nb.name], student=sub.student,
                    files=files, reference=reference, policy=policy, sandbox=options.sandbox, notes=tuple(file_notes),
                )
                if prepared.job is None:
                    assert prepared.result is not None
                    state.results[nb.name], state.executed[nb.name] = prepared.result, prepared.merged
                else:
                    jobs.append((sub.student, nb.name, prepared.merged, prepared.notes, prepared.job))

        reports: dict[str, SubmissionReport] = {}
        sandboxed_all = True
        url = db_url(course)
        from nbgrader.api import Gradebook

        progress = _progress(total=len(submissions), enabled=options.progress)
        remote = bool(options.scheduler)
        with Gradebook(url, course_id=_course_id(course)) as gb:

            def settle(student: str, name: str, result: NotebookResult, executed: NotebookNode) -> None:
                state = pending[student]
                state.results[name], state.executed[name] = result, executed
                if len(state.results) == len(module.assignments):
                    reports[student] = _finalize_total(course, module, gb, pending.pop(student), sources, release, options)
                    _tick(progress, reports[student], on_submission)

            futures: dict[Any, tuple[str, str, NotebookNode, tuple[str, ...], dict[str, Any]]] = {}
            for student, name, merged, notes, job in jobs:
                futures[submit(job)] = (student, name, merged, notes, job)
            ready = [s for s, st in pending.items() if len(st.results) == len(module.assignments)]
            for student in ready:
                reports[student] = _finalize_total(course, module, gb, pending.pop(student), sources, release, options)
                _tick(progress, reports[student], on_submission)
            again: list[tuple[str, str, NotebookNode, tuple[str, ...], dict[str, Any], NotebookResult]] = []
            for future in completed(list(futures)):
                student, name, merged, notes, job = futures.pop(future)
                raw = _outcome_of(future, remote=remote)
                sandboxed_all = sandboxed_all and bool(raw.get("sandboxed"))
                result, executed = _finish_total(merged=merged, name=name, outcome=raw, policy=policy, notes=notes)
                if result.outcome in REGRADE_OUTCOMES:
                    again.append((student, name, merged, notes, job, result))  # not final yet
                    continue
                settle(student, name, result, executed)
            # An infrastructure-looking failure may come from the load of the batch itself: grade it once
            # more, alone, now that nothing else runs; that second result is the final one.
            for student, name, merged, notes, job, first in again:
                raw = _outcome_of(next(iter(completed([submit(job)]))), remote=remote)
                sandboxed_all = sandboxed_all and bool(raw.get("sandboxed"))
                note = (f"re-graded alone at the end of the batch: its first run ended with {first.outcome} "
                        f"({first.error[:120]})")
                result, executed = _finish_total(merged=merged, name=name, outcome=raw, policy=policy,
                                                 notes=(*notes, note))
                settle(student, name, dataclasses.replace(result, regraded=True), executed)
    finally:
        close()
        if progress is not None:
            progress.close()
    ordered = tuple(reports[s.student] for s in submissions if s.student in reports)
    csv_path = options.csv_path or course.root / "exports" / f"{module.slug}.csv"
    _write_csv(csv_path, module, ordered)
    return BatchReport(
        assignment=module.slug, submissions=ordered, seconds=time.monotonic() - started,
        sandboxed=sandboxed_all and bool(jobs), csv_path=csv_path,
    )


def _finish_total(
    *, merged: NotebookNode, name: str, outcome: dict[str, Any], policy: SandboxPolicy, notes: tuple[str, ...]
) -> tuple[NotebookResult, NotebookNode]:
    """:func:`finish_job`, but whatever the worker's output makes it raise scores this notebook only."""
    try:
        return finish_job(merged=merged, name=name, outcome=outcome, policy=policy, notes=notes)
    except Exception as exc:
        reason = (f"the grader could not use this notebook's result ({type(exc).__name__}: {first_line(str(exc))[:160]}); "
                  "nothing from it was used")
        return failed_result(merged=merged, name=name, reason=reason, outcome="malformed-result", notes=notes), copy.deepcopy(merged)


def _finalize_total(
    course: Course,
    module: Module,
    gb: Any,
    state: _Pending,
    sources: dict[str, NotebookNode],
    release: dict[str, NotebookNode],
    options: GradingOptions,
) -> SubmissionReport:
    """:func:`_finalize`; if writing this submission's files fails, it alone is reported as not recorded."""
    try:
        return _finalize(course, module, gb, state, sources, release, options)
    except Exception as exc:
        try:
            gb.db.rollback()
        except Exception:  # the session is already unusable; the next submission reopens nothing
            pass
        why = f"{type(exc).__name__}: {first_line(str(exc))[:160]}"
        logger.warning("warning: %s could not be recorded (%s); grade it again with --student", state.submission.student, why)
        reason = f"the grader could not record this submission ({why}); grade it again with --student"
        results = tuple(
            failed_result(merged=state.executed.get(nb.name), name=nb.name, reason=reason, outcome="grader-error")
            for nb in module.assignments
        )
        return SubmissionReport(student=state.submission.student, notebooks=results,
                                seconds=time.monotonic() - state.started)


def _course_id(course: Course) -> str:
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config_file = course.root / "nbgrader_config.py"
    if config_file.is_file():
        config = PyFileConfigLoader(config_file.name, path=str(course.root)).load_config()
        return str(CourseDirectory(config=config).course_id or "default_course")
    return "default_course"


def _progress(*, total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total, unit="submission", desc="grading", leave=False)


def _tick(progress: Any, report: SubmissionReport, hook: Callable[[SubmissionReport], None] | None) -> None:
    if progress is not None:
        progress.update(1)
    if hook is not None:
        hook(report)


def _finalize(
    course: Course,
    module: Module,
    gb: Any,
    state: _Pending,
    sources: dict[str, NotebookNode],
    release: dict[str, NotebookNode],
    options: GradingOptions,
) -> SubmissionReport:
    """Gradebook, autograded/ and feedback/ for one finished submission (main thread only)."""
    sub = state.submission
    results = [state.results[nb.name] for nb in module.assignments]
    grades = []
    for nb, result in zip(module.assignments, results):
        manual, answered = _answers(state.executed[nb.name], release[nb.name])
        grades.append(NotebookGrades(
            notebook_id=nb.stem,
            auto_scores={t.grade_id: t.points for t in result.tests if t.status != "manual"},
            manual_answered=manual,
            answered=answered,
            missing=result.outcome == "missing-notebook",
        ))
    record_submission(gb, assignment=module.slug, student=sub.student, timestamp=sub.timestamp, notebooks=grades)

    autograded = course.root / "autograded" / sub.student / module.slug
    feedback_dir = course.root / "feedback" / sub.student / module.slug
    if autograded.exists():
        shutil.rmtree(autograded)
    autograded.mkdir(parents=True)
    for rel, data in state.files.items():
        target = autograded / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    stamp = sub.folder / "timestamp.txt"
    if sub.timestamp is not None:  # parsed, so a short regular file
        shutil.copyfile(stamp, autograded / "timestamp.txt")
    for nb, result in zip(module.assignments, results):
        safe = redact(state.executed[nb.name], source=sources[nb.name], release=release[nb.name], result=result)
        safe.metadata = copy.deepcopy(sources[nb.name].metadata)
        if result.outcome != "missing-notebook":
            nbformat.write(safe, str(autograded / nb.name))
        if options.feedback:
            write_text(
                feedback_dir / f"{nb.stem}.html",
                render_html(safe, student=sub.student, assignment=module.slug, results=[result]),
            )
    if options.feedback and sub.timestamp is not None:
        shutil.copyfile(stamp, feedback_dir / "timestamp.txt")
    return SubmissionReport(student=sub.student, notebooks=tuple(results), seconds=time.monotonic() - state.started)


def _write_csv(path: Path, module: Module, reports: tuple[SubmissionReport, ...]) -> None:
    columns = [f"{r.notebook.removesuffix('.ipynb')}:{t.grade_id}" for r in (reports[0].notebooks if reports else ())
               for t in r.tests]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "assignment", "score", "autograded_max", "manual_points", "max_score",
                         "outcome", "reason", "regraded", *columns])
        for report in reports:
            by_column = {f"{r.notebook.removesuffix('.ipynb')}:{t.grade_id}": ("" if t.status == "manual" else f"{t.points:g}")
                         for r in report.notebooks for t in r.tests}
            writer.writerow([
                report.student, module.slug, f"{report.score:g}", f"{report.max_score - report.manual_points:g}",
                f"{report.manual_points:g}", f"{report.max_score:g}", report.outcome, report.reason[:300], "yes" if report.regraded else "",
                *(by_column.get(c, "") for c in columns),
            ])
    tmp.replace(path)
