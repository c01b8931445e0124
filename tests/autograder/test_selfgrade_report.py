"""The learner's self-grade report without a kernel: errors first, the learner's line, the exit status."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.engine import NotebookResult
from autograder.engine import TestResult as Result
from autograder.jobs import finish_job
from autograder.sandbox import SandboxPolicy
from autograder.selfgrade import SelfGradeReport, render_report
from ds2mle.cli import main
from ds2mle.manifest import load_course


def _meta(gid: str, **flags: object) -> dict[str, object]:
    return {"nbgrader": {"grade_id": gid, "grade": False, "solution": False, "locked": False, **flags}}


def _merged() -> object:
    return new_notebook(cells=[
        new_code_cell("def f(rows):\n    total = 0\n    return rows['ts']", metadata=_meta("answer", solution=True)),
        new_code_cell("assert f({}) == 1", metadata=_meta("test_f", grade=True, locked=True, points=2)),
    ])


def _lines(*events: dict[str, object]) -> str:
    return "\n".join(json.dumps(e) for e in events)


def _error(ename: str, evalue: str, traceback: list[str]) -> dict[str, object]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}


# The shape of IPython 8's tracebacks (ANSI colours included), as the kernel sends them.
RUNTIME_TB = [
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
    "\x1b[0;31mKeyError\x1b[0m                                  Traceback (most recent call last)",
    "Cell \x1b[0;32mIn[5], line 2\x1b[0m\n\x1b[1;32m      1\x1b[0m x\n\x1b[0;32m----> 2\x1b[0m \x1b[38;5;28;01massert\x1b[39;00m f({})",
    "Cell \x1b[0;32mIn[3], line 3\x1b[0m, in \x1b[0;36mf\x1b[0;34m(rows)\x1b[0m\n\x1b[0;32m----> 3\x1b[0m \x1b[38;5;28;01mreturn\x1b[39;00m rows[\x1b[38;5;124m'ts'\x1b[39m]",
    "\x1b[0;31mKeyError\x1b[0m: 'ts'",
]


def test_a_failed_test_names_the_learners_line_from_the_coordinators_own_copy() -> None:
    """Is the line shown read from the merged notebook, and only the learner's frame used?"""
    merged = _merged()
    stdout = _lines(
        {"event": "cell", "index": 0, "status": "ok", "error": "", "execution_count": 3, "outputs": []},
        {"event": "cell", "index": 1, "status": "error", "error": "KeyError: 'ts'", "execution_count": 5,
         "outputs": [_error("KeyError", "'ts'", RUNTIME_TB)]},
        {"event": "done", "error": ""},
    )
    result, _ = finish_job(merged=merged, name="nb.ipynb", outcome={"stdout": stdout, "sandboxed": True},
                           policy=SandboxPolicy())
    (test,) = result.tests
    assert test.reason == "KeyError: 'ts'"
    assert test.where == "line 3 of your answer cell answer: return rows['ts']"


def test_a_syntax_error_in_an_answer_is_reported_with_cell_and_line() -> None:
    merged = _merged()
    syntax_tb = ["  \x1b[36mCell \x1b[39m\x1b[32mIn[3], line 2\x1b[39m\n    total = (\n            ^", "\x1b[31mSyntaxError\x1b[39m: '(' was never closed"]
    stdout = _lines(
        {"event": "cell", "index": 0, "status": "error", "error": "SyntaxError: '(' was never closed", "execution_count": 3,
         "outputs": [_error("SyntaxError", "'(' was never closed (3070.py, line 2)", syntax_tb)]},
        {"event": "cell", "index": 1, "status": "error", "error": "NameError: name 'f' is not defined",
         "execution_count": 5, "outputs": []},
        {"event": "done", "error": ""},
    )
    result, _ = finish_job(merged=merged, name="nb.ipynb", outcome={"stdout": stdout, "sandboxed": True},
                           policy=SandboxPolicy())
    assert result.answer_errors == ("SyntaxError: '(' was never closed at line 2 of your answer cell answer: total = 0",)


def test_the_report_puts_the_learners_errors_before_the_tests_and_tells_pass_from_fail() -> None:
    from ds2mle.manifest import Module

    failing = NotebookResult("nb.ipynb", tests=(Result("test_f", "failed", 0, 2, "NameError: name 'f' is not defined"),
                                                 Result("essay", "manual", 0, 3, "graded by hand")),
                             answer_errors=("SyntaxError: invalid syntax at line 2 of your answer cell answer: x = (",))
    module = Module.__new__(Module)
    report = SelfGradeReport(module=module, notebooks=(failing,))
    text = render_report(report)
    assert text.index("SyntaxError: invalid syntax at line 2") < text.index("FAIL  test_f")
    assert not report.passed
    assert (report.autograded_score, report.autograded_max, report.manual_points) == (0, 2, 3)
    passing = NotebookResult("nb.ipynb", tests=(Result("test_f", "passed", 2, 2),))
    assert SelfGradeReport(module=module, notebooks=(passing,)).passed


def test_a_module_without_an_assignment_is_one_error_line_and_nothing_else(
    repo_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_copy()
    ungraded = next(m for m in load_course(root).modules if not m.assignments)
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(["grade", "--self", ungraded.id]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: module {ungraded.slug} has no graded")


@pytest.mark.parametrize(("option", "message"), [(["--memory", "100"], "at least 256"), (["--processes", "0"], "positive")])
def test_a_bad_limit_is_one_error_line(
    repo_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    option: list[str], message: str,
) -> None:
    root = repo_copy()
    monkeypatch.chdir(root)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(["grade", "--self", "00", *option]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
