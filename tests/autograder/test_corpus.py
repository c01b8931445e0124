"""The adversarial corpus, graded as ONE batch through the real coordinator with the sandbox on.

For every case in ``corpus/cases.py`` four things are asserted:

1. its score, outcome and reason are the expected ones;
2. no other submission's score changed (every other case still has its
   expected score, in the report and in the gradebook);
3. the gradebook is intact (SQLite integrity, no foreign tables or students,
   this student's score as expected);
4. the batch finished (every case has a report, a CSV row and an autograded
   folder, and nothing under ``submitted/`` changed).
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import os
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest

from autograder.coordinator import BatchReport, GradingOptions, SubmissionReport, grade_assignment
from autograder.feedback import hidden_lines
from autograder.sandbox import SandboxPolicy, bwrap_path
from ds2mle.manifest import load_course


def _load_cases() -> ModuleType:
    """``corpus/cases.py`` (tests/autograder is not a package: ``autograder`` is the grader's name)."""
    name = "ds2mle_grading_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "corpus" / "cases.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_cases = _load_cases()
CASES: list[Any] = _cases.CASES
FULL: float = _cases.FULL
Case = Any
Context = _cases.Context

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_path() is None, reason="the corpus runs in the bubblewrap sandbox (Linux with bwrap)"),
]

ASSIGNMENT = "00-start-here"
NOTEBOOK = "split-by-time.ipynb"


@dataclass
class Batch:
    root: Path
    report: BatchReport
    by_student: dict[str, SubmissionReport]
    students: dict[str, str]  # case name -> student id
    db_scores: dict[str, float]
    submitted_before: dict[str, str]
    submitted_after: dict[str, str]


def _tree_hashes(folder: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            hashes[str(path.relative_to(folder))] = "link:" + os.readlink(path)
        elif path.is_file():
            hashes[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _serve(code: str) -> tuple[int, Callable[[], None]]:
    """A local TCP server that hands the reference answer to whoever connects."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(code.encode())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)
        server.close()

    return server.getsockname()[1], close


def _grade_corpus(tmp_path_factory: pytest.TempPathFactory, cases: list[Case], name: str) -> Batch:
    """Build ``cases`` as submissions in a scratch copy of the course and grade them as one batch."""
    import shutil

    from _helpers import REPO

    root = tmp_path_factory.mktemp(name) / "course"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".ds2mle", "gradebook.db", "*.egg-info",
        "tests", "benchmarks", ".pytest_cache", ".mypy_cache", "submitted", "autograded", "feedback", "exports",
    ))
    solution = nbformat.read(str(root / "solutions" / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4)
    right = next(c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "split_by_time")
    right = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", right)
    port, close = _serve(right)
    ctx = Context(root=root, release=nbformat.read(str(root / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4),
                  right=right, port=port)
    students: dict[str, str] = {}
    for case in cases:
        built = case.build(ctx)
        student = built.student or case.name
        students[case.name] = student
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-02-01 12:00:00 UTC", encoding="utf-8")
        if isinstance(built.notebook, bytes):
            (folder / NOTEBOOK).write_bytes(built.notebook)
        elif built.notebook is not None:
            nbformat.write(built.notebook, str(folder / NOTEBOOK))
        if built.notebook_symlink:
            (folder / NOTEBOOK).symlink_to(built.notebook_symlink)
        for rel, data in built.files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        for rel, target in built.symlinks.items():
            (folder / rel).symlink_to(target)
    before = _tree_hashes(root / "submitted")
    options = GradingOptions(
        jobs=2, policy=SandboxPolicy(cell_timeout=20, budget=60, startup_grace=60), sandbox="on", progress=False,
    )
    try:
        report = grade_assignment(load_course(root), "00", options=options)
    finally:
        close()
    summary = {s.student: [s.score, s.outcome, s.reason, [n for r in s.notebooks for n in r.notes]]
               for s in report.submissions}
    (root.parent / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id="ds2mle") as gb:
        db_scores = {s.student.id: float(s.score) for s in gb.assignment_submissions(ASSIGNMENT)}
    return Batch(
        root=root, report=report, by_student={s.student: s for s in report.submissions}, students=students,
        db_scores=db_scores, submitted_before=before, submitted_after=_tree_hashes(root / "submitted"),
    )


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """The whole corpus, graded once per test session."""
    return _grade_corpus(tmp_path_factory, CASES, "corpus")


def _expected(score: float, case: Case) -> bool:
    return 0 <= score <= FULL if case.score is None else score == case.score


def _assert_everyone_else(batch: Batch, me: Case) -> None:
    for other in CASES:
        if other.name == me.name:
            continue
        student = batch.students[other.name]
        assert _expected(batch.by_student[student].score, other), f"{other.name} changed: {batch.by_student[student].reason}"
        assert batch.db_scores[student] == batch.by_student[student].score, f"{other.name}'s gradebook score changed"


def _assert_gradebook_intact(batch: Batch, student: str, expected: float) -> None:
    """Is the database sound, free of injected rows, and holding ``expected`` for ``student``?"""
    con = sqlite3.connect(f"file:{batch.root / 'gradebook.db'}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        assert "hacked" not in tables
        assert con.execute("select count(*) from grade where manual_score is not null").fetchone()[0] == 0
        ids = {r[0] for r in con.execute("select id from student")}
    finally:
        con.close()
    assert ids == set(batch.students.values())
    assert batch.db_scores[student] == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(batch: Batch, case: Case) -> None:
    student = batch.students[case.name]
    report = batch.by_student[student]
    # 1. its result and reason
    assert _expected(report.score, case), report.reason
    assert re.fullmatch(case.outcome, report.outcome), (report.outcome, report.reason)
    assert re.search(case.reason, report.reason), report.reason
    # 2. nobody else's score changed
    _assert_everyone_else(batch, case)
    # 3. the gradebook is intact
    _assert_gradebook_intact(batch, student, report.score)
    # 4. the batch finished, and submitted/ is untouched
    assert len(batch.report.submissions) == len(CASES)
    rows = list(csv_rows(batch))
    assert any(r["student_id"] == student and float(r["score"]) == report.score for r in rows)
    assert batch.submitted_after == batch.submitted_before
    if case.check:
        CHECKS[case.check](batch, student)


def csv_rows(batch: Batch) -> Iterator[dict[str, str]]:
    import csv

    assert batch.report.csv_path is not None
    with batch.report.csv_path.open(encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _autograded(batch: Batch, student: str) -> nbformat.NotebookNode:
    return nbformat.read(str(batch.root / "autograded" / student / ASSIGNMENT / NOTEBOOK), as_version=4)


def _all_output_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(json.dumps(o) for c in nb.cells for o in c.get("outputs", []))


def _probe_found_nothing(batch: Batch, student: str) -> None:
    # the probe's output is before the hidden tests, so feedback keeps it
    text = _all_output_text(_autograded(batch, student))
    assert "PROBE: NOTHING" in text, text[:500]


def _feedback_has_no_hidden_tests(batch: Batch, student: str) -> None:
    source = nbformat.read(str(batch.root / "solutions" / "assignments" / ASSIGNMENT / NOTEBOOK), as_version=4)
    hidden = hidden_lines(source)
    assert hidden, "the source has hidden tests to look for"
    for path in [batch.root / "feedback" / student / ASSIGNMENT / "split-by-time.html",
                 batch.root / "autograded" / student / ASSIGNMENT / NOTEBOOK]:
        text = re.sub(r"[\s\\]+", "", html.unescape(path.read_text(encoding="utf-8")))
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{path.name} shows hidden test lines: {leaked[:2]}"
        assert "_refuses" not in text and "BEGINHIDDENTESTS" not in text


def _output_was_cut(batch: Batch, student: str) -> None:
    assert any("output longer than" in n for r in batch.by_student[student].notebooks for n in r.notes)
    assert (batch.root / "autograded" / student / ASSIGNMENT / NOTEBOOK).stat().st_size < 2 * 1024**2


def _kernel_note(batch: Batch, student: str) -> None:
    assert any("asked for kernel 'ir'" in n for r in batch.by_student[student].notebooks for n in r.notes)


def _shadow_notes(batch: Batch, student: str) -> None:
    notes = " ".join(n for r in batch.by_student[student].notebooks for n in r.notes)
    assert "pandas.py was not copied" in notes and "sitecustomize.py was not copied" in notes
    assert "numpy/ was not copied" in notes


def _limit_note(batch: Batch, student: str) -> None:
    notes = [n for r in batch.by_student[student].notebooks for n in r.notes]
    assert any(n.startswith("a cell hit the sandbox's limit on ") for n in notes), notes


CHECKS: dict[str, Callable[[Batch, str], None]] = {
    "limit_note": _limit_note,
    "probe_found_nothing": _probe_found_nothing,
    "feedback_has_no_hidden_tests": _feedback_has_no_hidden_tests,
    "output_was_cut": _output_was_cut,
    "kernel_note": _kernel_note,
    "shadow_notes": _shadow_notes,
}


def test_corpus_has_at_least_30_hostile_or_broken_cases() -> None:
    hostile = [c for c in CASES if not c.name.startswith("c")]
    assert len(hostile) >= 30 and len({c.name for c in CASES}) == len(CASES)


def test_corpus_batch_ran_sandboxed(batch: Batch) -> None:
    assert batch.report.sandboxed
    assert not any("graded without the sandbox" in n for s in batch.report.submissions for r in s.notebooks for n in r.notes)


# The honest cases (no hostile code, nothing racy): graded again while a CPU hog keeps both cores busy.
HONEST = ["c01-good", "c02-wrong", "c03-unanswered", "h11-sys-exit", "h13-ipython-exit", "p01-deleted-test-cells",
          "p04-duplicated-answer", "b07-unicode-and-spaces"]


@pytest.fixture(scope="session")
def busy_batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    """The honest cases graded while one busy-looping process per core competes with the grader."""
    import subprocess

    hogs = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        yield _grade_corpus(tmp_path_factory, [c for c in CASES if c.name in HONEST], "busy")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_load_never_changes_a_score(busy_batch: Batch) -> None:
    """Do the honest cases score on a machine busy on every core exactly what they score on a quiet one?"""
    by_name = {c.name: c for c in CASES}
    got = {name: (busy_batch.by_student[busy_batch.students[name]].score,
                  busy_batch.by_student[busy_batch.students[name]].outcome) for name in HONEST}
    expected = {name: (by_name[name].score, "completed") for name in HONEST}
    assert got == expected
    # and not by luck of the re-grade: the first run already gave it
    assert not [s.student for s in busy_batch.report.submissions if s.regraded]
