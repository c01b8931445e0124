"""End-to-end tests of `ds2mle grade` on a tiny course: gradebook, formgrader, export, zip, Dask, feedback."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from autograder.coordinator import BatchReport, GradingOptions, grade_assignment
from autograder.sandbox import SandboxPolicy
from ds2mle.cli import main
from ds2mle.errors import GradingError
from ds2mle.manifest import load_course

pytestmark = pytest.mark.slow

RIGHT = "def double(x):\n    return 2 * x"
WRONG = "def double(x):\n    return x + 2"
FAST = GradingOptions(jobs=2, policy=SandboxPolicy(cell_timeout=20, budget=60), progress=False)


def answered(root: Path, code: str, written: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.read(str(root / "assignments" / "00-tiny" / "double.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "double":
            cell.source = code
        elif gid == "explain" and written is not None:
            cell.source = written
    return nb


@pytest.fixture
def cohort(tiny_course: Path, submit: Callable[..., Path]) -> Path:
    submit("alice", answered(tiny_course, RIGHT, "Because doubling is adding a number to itself."))
    submit("bob", answered(tiny_course, WRONG))
    submit("carol", answered(tiny_course, "# YOUR CODE HERE\nraise NotImplementedError()"))
    submit("dave", None, files={"double (1).ipynb": b"{}"})
    return tiny_course


def scores(report: BatchReport) -> dict[str, tuple[float, str]]:
    return {s.student: (s.score, s.outcome) for s in report.submissions}


EXPECTED = {"alice": (5.0, "completed"), "bob": (2.0, "completed"), "carol": (0.0, "completed"),
            "dave": (0.0, "missing-notebook")}


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=True)


def export_rows(root: Path) -> dict[str, dict[str, str]]:
    nbgrader(root, "export", "--to", "grades.csv")
    with (root / "grades.csv").open(encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_a_batch_is_graded_into_nbgraders_gradebook_and_export_reads_it(cohort: Path) -> None:
    report = grade_assignment(load_course(cohort), "00", options=FAST)
    assert scores(report) == EXPECTED
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{cohort / 'gradebook.db'}", course_id="tiny") as gb:
        alice = gb.find_submission("00-tiny", "alice")
        assert alice.code_score == 5 and alice.needs_manual_grade, "the written answer waits for a person"
        assert gb.find_submission("00-tiny", "carol").needs_manual_grade is False, "an untouched answer scores 0"
        assert str(alice.timestamp).startswith("2026-01-30 15:00:00")
    rows = export_rows(cohort)
    assert {s: float(r["score"]) for s, r in rows.items()} == {s: v[0] for s, v in EXPECTED.items()}
    assert all(r["max_score"] == "7.0" for r in rows.values())
    with report.csv_path.open(encoding="utf-8") as fh:  # type: ignore[union-attr]
        ours = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert ours["bob"]["double:test_hidden"] == "0" and ours["bob"]["double:test_visible"] == "2"
    assert "missing-notebook" in report.summary() and "mean 1.75/5" in report.summary()


def test_nbgraders_api_sees_every_submission_as_autograded(cohort: Path) -> None:
    grade_assignment(load_course(cohort), "00", options=FAST)
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(cohort)).load_config()
    config.CourseDirectory.root = str(cohort)
    config.CourseDirectory.db_url = f"sqlite:///{cohort / 'gradebook.db'}"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    subs = {s["student"]: s for s in api.get_submissions("00-tiny")}
    assert {s for s, v in subs.items() if v["autograded"]} == {"alice", "bob", "carol", "dave"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def formgrader(cohort: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real Jupyter server with nbgrader's formgrader, on the graded course."""
    grade_assignment(load_course(cohort), "00", options=FAST)
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={cohort}",
         "--ServerApp.allow_root=True",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
        cwd=cohort, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Jupyter server with formgrader did not start")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _request(url: str, token: str, *, method: str = "GET", body: object | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read().decode("utf-8")


def test_formgrader_shows_our_submissions_and_a_manual_grade_reaches_the_export(
    cohort: Path, formgrader: tuple[str, str]
) -> None:
    """Does formgrader's own REST API read what we wrote, and does grading by hand change the exported score?"""
    base, token = formgrader
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{cohort / 'gradebook.db'}", course_id="tiny") as gb:
        notebook_id = gb.find_submission_notebook("double", "00-tiny", "alice").id
        grade_id = gb.find_grade("explain", "double", "00-tiny", "alice").id
    status, listing = _request(f"{base}/formgrader/api/submissions/00-tiny", token)
    assert status == 200
    listed = {s["student"]: s for s in json.loads(listing)}
    assert listed["alice"]["autograded"] and listed["alice"]["score"] == 5.0
    status, page = _request(f"{base}/formgrader/submissions/{notebook_id}/", token)
    assert status == 200 and "Because doubling is adding a number to itself." in html.unescape(page)
    assert "_secret_cases" not in page, "formgrader shows the redacted autograded notebook"
    status, updated = _request(f"{base}/formgrader/api/grade/{grade_id}", token, method="PUT", body={"manual_score": 1.5})
    assert status == 200 and json.loads(updated)["manual_score"] == 1.5
    assert float(export_rows(cohort)["alice"]["score"]) == 6.5


def test_regrading_keeps_a_grade_given_by_hand(cohort: Path) -> None:
    course = load_course(cohort)
    grade_assignment(course, "00", options=FAST)
    from nbgrader.api import Gradebook

    url = f"sqlite:///{cohort / 'gradebook.db'}"
    with Gradebook(url, course_id="tiny") as gb:
        gb.find_grade("explain", "double", "00-tiny", "alice").manual_score = 2.0
        gb.db.commit()
    report = grade_assignment(course, "00", students=["alice"], options=FAST)
    assert scores(report) == {"alice": EXPECTED["alice"]}
    with Gradebook(url, course_id="tiny") as gb:
        assert gb.find_grade("explain", "double", "00-tiny", "alice").manual_score == 2.0
        assert gb.find_submission("00-tiny", "alice").score == 7.0


def test_feedback_never_contains_hidden_test_source(cohort: Path) -> None:
    grade_assignment(load_course(cohort), "00", options=FAST)
    page = html.unescape((cohort / "feedback" / "bob" / "00-tiny" / "double.html").read_text(encoding="utf-8"))
    assert "_secret_cases" not in page and "BEGIN HIDDEN" not in page and "(-3, -6)" not in page
    assert "FAILED (0/3 points): AssertionError: double(0) should be 0" in page, "the assert's own message is shown"
    assert "PASSED (2/2 points)" in page
    assert (cohort / "feedback" / "bob" / "00-tiny" / "timestamp.txt").is_file()
    autograded = (cohort / "autograded" / "bob" / "00-tiny" / "double.ipynb").read_text(encoding="utf-8")
    assert "_secret_cases" not in autograded


def test_an_lms_zip_is_collected_with_nbgraders_zip_collect(tiny_course: Path, tmp_path: Path) -> None:
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice_double.ipynb", nbformat.writes(answered(tiny_course, RIGHT)))
        zf.writestr("bob_late_123_456_double.ipynb", nbformat.writes(answered(tiny_course, WRONG)))
        zf.writestr("readme.txt", "ignored")
    report = grade_assignment(load_course(tiny_course), "00", options=FAST, zip_path=archive)
    assert scores(report) == {"alice": (5.0, "completed"), "bob": (2.0, "completed")}
    assert (tiny_course / "submitted" / "bob" / "00-tiny" / "double.ipynb").is_file()


def test_a_file_that_is_not_a_zip_is_a_one_line_error(tiny_course: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "grades.zip"
    bogus.write_text("not a zip")
    with pytest.raises(GradingError, match="is not a zip file"):
        grade_assignment(load_course(tiny_course), "00", options=FAST, zip_path=bogus)


def test_dask_runs_the_jobs_while_the_coordinator_keeps_the_gradebook(cohort: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        options = GradingOptions(jobs=2, policy=FAST.policy, progress=False, scheduler=cluster.scheduler_address)
        report = grade_assignment(load_course(cohort), "00", options=options)
    assert scores(report) == EXPECTED
    assert report.sandboxed == (FAST.sandbox != "off" and __import__("shutil").which("bwrap") is not None)
    assert float(export_rows(cohort)["alice"]["score"]) == 5.0


def test_without_bubblewrap_grading_still_works_with_a_warning(
    cohort: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import autograder.coordinator
    import autograder.jobs

    monkeypatch.setattr(autograder.jobs, "bwrap_path", lambda: None)
    monkeypatch.setattr(autograder.coordinator, "bwrap_path", lambda: None)
    report = grade_assignment(load_course(cohort), "00", students=["alice", "bob"], options=FAST)
    assert scores(report) == {s: EXPECTED[s] for s in ("alice", "bob")}
    assert not report.sandboxed and "NOT sandboxed" in report.summary()
    assert any("WITHOUT the sandbox" in r.message for r in caplog.records)
    assert all("graded without the sandbox" in r.notes for s in report.submissions for r in s.notebooks)


def test_cli_grades_a_cohort_and_prints_the_summary(
    cohort: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(cohort)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(["grade", "00", "-j", "2", "--timeout", "20", "--budget", "60", "--student", "bob"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"2/5\s+completed\s+bob", out)
    assert "1 submission(s) graded" in out and "exports/00-tiny.csv" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "99"], "unknown module '99'"),
        (["grade", "00", "--student", "nobody"], "no submission of 00-tiny from 'nobody'"),
        (["grade", "01"], "01-next has no graded assignment"),
    ],
)
def test_cli_user_errors_are_one_line(
    tiny_course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tiny_course)
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_no_submissions_at_all_is_a_one_line_error(tiny_course: Path) -> None:
    with pytest.raises(GradingError, match=r"no submissions of 00-tiny in .*submitted; collect them with `nbgrader collect 00-tiny`"):
        grade_assignment(load_course(tiny_course), "00", options=FAST)


def test_an_infrastructure_failure_is_regraded_once_alone_and_the_report_says_so(
    tiny_course: Path, submit: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does a first run lost to the machine get a second, solo run whose result is final and marked?"""
    import autograder.coordinator as coordinator

    submit("alice", answered(tiny_course, RIGHT))
    submit("erin", answered(tiny_course, "import os\nos._exit(1)"))
    real_run_job = coordinator.run_job
    calls: list[str] = []
    running: list[int] = [0]
    overlapped: list[str] = []

    def flaky(job: dict[str, object]) -> dict[str, object]:
        student = str(job["student"])
        calls.append(student)
        if calls.count(student) == 2 and running[0]:
            overlapped.append(student)
        if student == "alice" and calls.count("alice") == 1:  # the machine, not alice: a dead start
            return {"stdout": "", "stderr": "", "returncode": -9, "timed_out": False, "sandboxed": True, "error": ""}
        running[0] += 1
        try:
            return real_run_job(job)
        finally:
            running[0] -= 1

    monkeypatch.setattr(coordinator, "run_job", flaky)
    report = grade_assignment(load_course(tiny_course), "00", options=FAST)
    by = {s.student: s for s in report.submissions}
    assert sorted(calls) == ["alice", "alice", "erin", "erin"] and not overlapped
    assert (by["alice"].score, by["alice"].outcome, by["alice"].regraded) == (5.0, "completed", True)
    assert any("re-graded alone at the end of the batch: its first run ended with grader-killed" in n
               for n in by["alice"].notebooks[0].notes)
    assert (by["erin"].score, by["erin"].outcome, by["erin"].regraded) == (0.0, "kernel-died", True)
    assert "re-graded alone at the end" in report.summary()
    with report.csv_path.open(encoding="utf-8") as fh:  # type: ignore[union-attr]
        assert {r["student_id"]: r["regraded"] for r in csv.DictReader(fh)} == {"alice": "yes", "erin": "yes"}
