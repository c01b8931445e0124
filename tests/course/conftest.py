"""Grading the course's own assignments for real: every variant of one assignment in ONE batch.

A *variant* is a submission: the student version with every answer cell filled with the reference answer,
except the cells a case swaps in (a plausible wrong answer, or a correct one written differently). All the
variants of one assignment go through the real coordinator (:func:`autograder.coordinator.grade_assignment`)
together, hidden tests included, in the sandbox where bubblewrap is installed. A test module asks for its
batch through a session-scoped fixture, so kernels start once per variant per session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nbformat
import pytest

from _helpers import REPO, answer_cells
from autograder.coordinator import GradingOptions, grade_assignment
from autograder.sandbox import SandboxPolicy
from ds2mle.manifest import load_course

_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".ds2mle", "gradebook.db", "*.egg-info",
    "tests", "benchmarks", ".pytest_cache", ".mypy_cache", "submitted", "autograded", "feedback", "exports",
)


@dataclass(frozen=True)
class Graded:
    """One graded variant."""

    score: float
    failed: dict[str, str]  # grade_id -> the one-line reason the learner would see
    outcome: str
    max_auto: float
    manual: float

    def explain(self) -> str:
        lines = [f"score {self.score:g}/{self.max_auto:g}, outcome {self.outcome}"]
        lines += [f"  FAIL {gid}: {reason}" for gid, reason in sorted(self.failed.items())]
        return "\n".join(lines)


GradeBatch = Callable[[str, str, Mapping[str, Mapping[str, str]]], dict[str, Graded]]


@pytest.fixture(scope="session")
def grade_batch(tmp_path_factory: pytest.TempPathFactory) -> GradeBatch:
    """``grade_batch(module_id, notebook, {variant: {grade_id: code}})`` -> ``{variant: Graded}``.

    ``notebook`` is ``"<slug>/<name>.ipynb"``. Each call copies the course once and grades all its
    variants in one batch; a summary is left next to the copy (``summary.json``) for whoever debugs.
    """

    def grade(module_id: str, notebook: str, variants: Mapping[str, Mapping[str, str]]) -> dict[str, Graded]:
        slug, name = notebook.split("/")
        root = tmp_path_factory.mktemp(f"grade-{slug}") / "course"
        shutil.copytree(REPO, root, ignore=_IGNORE)
        reference = answer_cells(nbformat.read(str(root / "solutions" / "assignments" / notebook), as_version=4))
        release = nbformat.read(str(root / "assignments" / notebook), as_version=4)
        students = {}
        for i, (variant, answers) in enumerate(variants.items()):
            unknown = set(answers) - set(reference)
            assert not unknown, f"{variant}: no answer cell {sorted(unknown)} in {notebook}"
            nb = nbformat.from_dict(json.loads(json.dumps(release)))
            filled = {**reference, **answers}
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid in filled:
                    cell.source = filled[gid]
            student = f"v{i:02d}-{re.sub(r'[^a-z0-9]+', '-', variant.lower())}"[:60]
            students[variant] = student
            folder = root / "submitted" / student / slug
            folder.mkdir(parents=True)
            (folder / "timestamp.txt").write_text("2026-02-01 12:00:00 UTC", encoding="utf-8")
            nbformat.write(nb, str(folder / name))
        options = GradingOptions(
            jobs=max(2, os.cpu_count() or 1), policy=SandboxPolicy(cell_timeout=180, budget=600),
            sandbox="auto", feedback=False, progress=False,
        )
        report = grade_assignment(load_course(root), module_id, options=options)
        by_student = {s.student: s for s in report.submissions}
        graded = {}
        for variant, student in students.items():
            sub = by_student[student]
            tests = [t for r in sub.notebooks for t in r.tests]
            graded[variant] = Graded(
                score=sub.score,
                failed={t.grade_id: t.reason for t in tests if t.status == "failed"},
                outcome=sub.outcome,
                max_auto=sum(t.max_points for t in tests if t.status != "manual"),
                manual=sub.manual_points,
            )
        (root.parent / "summary.json").write_text(
            json.dumps({v: [g.score, g.outcome, g.failed] for v, g in graded.items()}, indent=1), encoding="utf-8"
        )
        return graded

    return grade
