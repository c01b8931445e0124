"""``ds2mle grade --self``: a learner grades their own assignment.

The learner's notebooks in ``assignments/<slug>/`` go through the same path
as an instructor's batch (:mod:`autograder.coordinator`): read defensively,
merged with the sources in ``solutions/<slug>/`` (hidden tests included, see
:mod:`autograder.merge`), run by :mod:`autograder.worker` in the bubblewrap
sandbox where it is installed (with a one-line warning where it is not),
with the reference ``fraudguard`` of earlier modules only, and scored from
validated JSON. No gradebook is involved.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.engine import NotebookResult, NotebookTotals
from autograder.gradebook import generate_release
from autograder.intake import load_submission, prepare_notebook, reference_files
from autograder.jobs import SandboxMode, finish_job, run_job
from autograder.merge import grade_id, is_answer_cell
from autograder.sandbox import SandboxPolicy, bwrap_path
from ds2mle.errors import GradingError
from ds2mle.manifest import Course, Module
from ds2mle.notebooks import read_notebook

__all__ = ["SelfGradeReport", "has_started", "self_grade"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelfGradeReport(NotebookTotals):
    """Every notebook of one module's assignment, graded."""

    module: Module
    notebooks: tuple[NotebookResult, ...]


def has_started(submission: NotebookNode, release: NotebookNode) -> bool:
    """Has the learner changed any answer cell of the student version?"""
    pristine = {gid: cell.source for cell in release.cells if is_answer_cell(cell) and (gid := grade_id(cell))}
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid in pristine and cell.source.strip() != pristine[gid].strip():
            return True
    return False


def self_grade(
    course: Course, module_key: str, *, cell_timeout: int = 120, budget: float = 600.0, sandbox: SandboxMode = "auto"
) -> SelfGradeReport:
    """Grade the learner's copy of a module's assignment, hidden tests included.

    Parameters
    ----------
    course : Course
        The loaded manifest.
    module_key : str
        Module id (``"00"``) or slug (``"00-start-here"``).
    cell_timeout : int, default 120
        Seconds one cell may run.
    budget : float, default 600
        Seconds the whole notebook may run.
    sandbox : {"auto", "on", "off"}, default "auto"
        Run in bubblewrap where it is installed.

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
    results = []
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
        policy = SandboxPolicy(cell_timeout=float(cell_timeout), budget=budget)
        reference = reference_files(course, module)
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
            result, _ = finish_job(merged=prepared.merged, name=nb.name, outcome=run_job(prepared.job), policy=policy,
                                   notes=prepared.notes)
            results.append(result)
    return SelfGradeReport(module=module, notebooks=tuple(results))
