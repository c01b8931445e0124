"""Tests for autograder/jobs.py and the trusted-side checks: no kernel is started here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

from autograder.guard import GUARD_MIME, guard_report, protected_names
from autograder.intake import load_submission, reference_files
from autograder.jobs import collect_extra_files, finish_job
from autograder.sandbox import SandboxPolicy, bwrap_path
from ds2mle.manifest import load_course


def merged_nb() -> NotebookNode:
    meta = {"nbgrader": {"grade_id": "t1", "grade": True, "solution": False, "locked": True, "points": 3}}
    return new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("assert x == 1", metadata=meta)])


def line(**event: object) -> str:
    return json.dumps(event)


def guard_ok(test_id: str = "t1") -> dict[str, object]:
    return {"output_type": "display_data", "data": {GUARD_MIME: {"check": test_id, "changed": []}}, "metadata": {}}


def finish(stdout: str, **extra: object) -> tuple[float, str, str]:
    outcome = {"stdout": stdout, "stderr": "", "returncode": 0, "timed_out": False, "sandboxed": True, "error": "", **extra}
    result, _ = finish_job(merged=merged_nb(), name="nb.ipynb", outcome=outcome, policy=SandboxPolicy(budget=60))
    return result.score, result.outcome, result.tests[0].reason


def test_a_clean_run_scores_its_test() -> None:
    out = "\n".join([
        line(event="start"), line(event="cell", index=0, status="ok", outputs=[]),
        line(event="cell", index=1, status="ok", outputs=[guard_ok()]), line(event="done", error=""),
    ])
    assert finish(out) == (3.0, "completed", "")


@pytest.mark.parametrize(
    ("stdout", "why"),
    [
        ("not json at all", "is not JSON"),
        (line(event="cell", index=7, status="ok", outputs=[]), "names no code cell"),
        (line(event="cell", index=1, status="passed!", outputs=[]), "unknown status"),
        (line(event="cell", index=1, status="ok", outputs=[{"output_type": "pickle"}]), "no known output_type"),
        (line(event="cell", index=1, status="ok", outputs=[]) + "\n" + line(event="cell", index=1, status="ok", outputs=[]), "twice"),
        (line(event="done", error="") + "\n" + line(event="cell", index=1, status="ok", outputs=[]), "after the final record"),
        (line(event="score", points=99), "unknown event"),
    ],
)
def test_malformed_worker_output_scores_zero_with_a_reason(stdout: str, why: str) -> None:
    """Is anything off-schema from the sandbox refused whole, never partly believed?"""
    score, outcome, reason = finish(stdout)
    assert (score, outcome) == (0.0, "malformed-result")
    assert why in reason


def test_a_killed_worker_keeps_the_cells_that_ran() -> None:
    out = line(event="cell", index=1, status="ok", outputs=[guard_ok()])
    assert finish(out, returncode=-9) == (3.0, "grader-killed", "")


def test_a_test_without_its_guard_check_fails_as_tampering() -> None:
    out = "\n".join([line(event="cell", index=1, status="ok", outputs=[]), line(event="done", error="")])
    score, outcome, reason = finish(out)
    assert (score, outcome) == (0.0, "tampering") and "did not run as written" in reason


def test_tampering_outranks_a_cell_timeout() -> None:
    """Does a slow cell on a busy machine never turn a tampering verdict into a timeout?"""
    dirty = {"output_type": "display_data", "data": {GUARD_MIME: {"check": "t1", "changed": ["numpy.floor was replaced"]}},
             "metadata": {}}
    out = "\n".join([
        line(event="cell", index=0, status="timeout", error="the cell ran longer than its time limit", outputs=[]),
        line(event="cell", index=1, status="ok", outputs=[dirty]), line(event="done", error=""),
    ])
    score, outcome, reason = finish(out)
    assert (score, outcome) == (0.0, "tampering") and reason == "tampering detected: numpy.floor was replaced"


def test_a_forged_clean_report_does_not_hide_a_real_one() -> None:
    dirty = {"output_type": "display_data", "data": {GUARD_MIME: {"check": "t1", "changed": ["numpy.floor was replaced"]}}}
    assert guard_report([guard_ok(), dirty], "t1").reason == "tampering detected: numpy.floor was replaced"


def test_the_whole_budget_running_out_is_a_reason() -> None:
    score, outcome, reason = finish("", timed_out=True, returncode=-9)
    assert (score, outcome) == (0.0, "budget-exhausted") and "time budget is 60 s" in reason


def test_protected_names_are_imports_and_definitions() -> None:
    assert protected_names("import numpy as np\nfrom ds2mle.data import generate_transactions\ny = 2") == [
        "np", "generate_transactions"]


def test_extra_files_that_would_shadow_modules_or_escape_stay_out(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("x = 1")
    (tmp_path / "pandas.py").write_text("boom")
    (tmp_path / "evil.pth").write_text("import os")
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text("boom")
    (tmp_path / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pandas.py").write_text("fine: not top level")
    files, notes = collect_extra_files(tmp_path)
    assert sorted(files) == ["data/pandas.py", "helpers.py"]
    assert len(notes) == 4 and any("link.txt" in n for n in notes)


@pytest.mark.parametrize(
    ("content", "outcome", "reason"),
    [
        (None, "missing-notebook", "was not submitted"),
        (b"{", "invalid-notebook", "not valid JSON"),
        (b"\xff\xfe", "invalid-notebook", "not UTF-8"),
        (b'{"nbformat": 3, "cells": []}', "unsupported-nbformat", "nbformat 3"),
        (b'{"cells": "nope", "nbformat": 4}', "invalid-notebook", "not a notebook"),
        # the reader itself fails: recursion while parsing, an integer too long to convert, a lone surrogate
        (b'{"nbformat": 4, "cells": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "invalid-notebook", "nested too deeply"),
        (b'{"nbformat": 4, "cells": [], "x": ' + b"7" * 5000 + b"}", "invalid-notebook", "could not be read (ValueError"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = \\"\\ud800\\"", "metadata": {}}]}',
         "invalid-notebook", "not valid Unicode"),
    ],
)
def test_unreadable_submissions_get_an_outcome_and_a_reason(
    tmp_path: Path, content: bytes | None, outcome: str, reason: str
) -> None:
    path = tmp_path / "nb.ipynb"
    if content is not None:
        path.write_bytes(content)
    nb, got, why, _ = load_submission(path)
    assert nb is None and got == outcome and reason in why


def test_an_oversized_notebook_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Is a 300 MB file refused on its size, without a byte of it parsed?"""
    path = tmp_path / "nb.ipynb"
    with path.open("wb") as fh:
        fh.truncate(300 * 1024**2)  # sparse: costs no disk
    monkeypatch.setattr(json, "loads", lambda *a, **k: pytest.fail("the oversized file was parsed"))
    nb, outcome, why, _ = load_submission(path)
    assert nb is None and outcome == "invalid-notebook" and "larger than 20 MB" in why


def test_anything_the_reader_raises_becomes_the_notebooks_result(
    tiny_course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does an exception nobody foresaw, in reading or merging, score that notebook 0 instead of escaping?"""
    import autograder.intake as intake
    source = nbformat.read(str(tiny_course / "solutions/assignments/00-tiny/double.ipynb"), as_version=4)
    release = nbformat.read(str(tiny_course / "assignments/00-tiny/double.ipynb"), as_version=4)
    path = tiny_course / "assignments/00-tiny/double.ipynb"

    def prepare() -> intake.Prepared:
        return intake.prepare_notebook(path=path, source=source, release=release, student="s", files={},
                                       reference=None, policy=SandboxPolicy(), sandbox="off")

    assert prepare().job is not None
    monkeypatch.setattr(intake, "_load", lambda p: (_ for _ in ()).throw(LookupError("a reader bug")))
    got = prepare()
    assert got.job is None and got.result is not None and got.result.outcome == "invalid-notebook"
    assert "could not be read (LookupError: a reader bug)" in got.result.error and got.result.score == 0
    monkeypatch.undo()
    real_merge = intake.merge_submission
    monkeypatch.setattr(intake, "merge_submission",
                        lambda **kw: real_merge(**kw) if not kw["submission"].cells else 1 / 0)
    got = prepare()
    assert got.job is None and got.result is not None and "could not be prepared for grading (ZeroDivisionError" in got.result.error
    assert [t.status for t in got.result.tests] == ["failed", "failed", "manual"]


def test_odd_cells_are_dropped_and_the_kernel_name_noted(tmp_path: Path) -> None:
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "julia"}},
           "cells": [{"cell_type": "code", "source": ["a = ", "1"], "metadata": {}, "outputs": [{"x": 1}]},
                     {"cell_type": "weird", "source": ""}, "not a cell"]}
    (tmp_path / "nb.ipynb").write_text(json.dumps(raw))
    nb, outcome, _, notes = load_submission(tmp_path / "nb.ipynb")
    assert nb is not None and outcome == ""
    assert [c.source for c in nb.cells] == ["a = 1"] and nb.cells[0].outputs == []
    assert "julia" in notes[0]


def test_the_sandbox_sees_the_reference_package_of_earlier_modules_only(tiny_course: Path) -> None:
    course = load_course(tiny_course)
    first = reference_files(course, course.module("00"))
    later = reference_files(course, course.module("01"))
    assert "fraudguard/doubling.py" not in first and "fraudguard/__init__.py" in first
    assert "fraudguard/doubling.py" in later


@pytest.mark.slow
@pytest.mark.skipif(not (bwrap_path() and os.geteuid() == 0), reason="the zygote serves root with bubblewrap")
def test_consecutive_submissions_in_one_zygote_slot_share_nothing() -> None:
    """Does the next submission forked from the same zygote see none of the last one's files, processes or IPC?"""
    from autograder.jobs import build_job, close_slots, run_job, use_zygote

    if not use_zygote():
        pytest.skip("no zygote here: Python lives under /tmp, or DS2MLE_GRADE_ZYGOTE=0")
    first = new_notebook(cells=[new_code_cell(
        "import os, subprocess, sys\n"
        "open('/submission/left-behind.txt', 'w').write('x'); open('/tmp/left-behind.txt', 'w').write('x')\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        "import socket; _s = socket.socket(socket.AF_UNIX); _s.bind('\\0ds2mle-left'); _s.listen()\n"
        "print('uid', os.getuid())"
    )])
    second = new_notebook(cells=[new_code_cell(
        "import os\n"
        "print(sorted(os.listdir('/submission')), os.path.exists('/tmp/left-behind.txt'))\n"
        "print('sleepers', sum(b'time.sleep(600)' in open(f'/proc/{p}/cmdline', 'rb').read()\n"
        "                      for p in os.listdir('/proc') if p.isdigit()))\n"
        "import socket\n"
        "try:\n    socket.socket(socket.AF_UNIX).connect('\\0ds2mle-left'); print('socket found')\n"
        "except OSError:\n    print('socket gone')"
    )])
    policy = SandboxPolicy(cell_timeout=30, budget=60)
    outputs = []
    try:
        for nb in (first, second):
            job = build_job(merged=nb, name="nb.ipynb", student="s", files={"mine.txt": b"1"}, reference={},
                            policy=policy, sandbox="on")
            raw = run_job(job)
            result, executed = finish_job(merged=nb, name="nb.ipynb", outcome=raw, policy=policy)
            assert raw["returncode"] == 0, raw["stderr"]
            outputs.append("".join(o.get("text", "") for o in executed.cells[0].outputs))
    finally:
        close_slots()
    assert outputs[0].startswith("uid ") and outputs[0].strip() != "uid 0"
    assert outputs[1].splitlines() == ["['.tmp', 'mine.txt'] False", "sleepers 0", "socket gone"], outputs[1]
