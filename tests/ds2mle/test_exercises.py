"""Exercises in lessons: learner copies, checks, preflight, export and catch-up that lose nothing."""

from __future__ import annotations

import linecache
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ds2mle.checks import CheckFailed, PreflightFailed, code_hash
from ds2mle.errors import ExportError
from ds2mle.export import export_notebook
from ds2mle.lessons import exercises, learner_copy
from ds2mle.manifest import load_course

from _helpers import write_nb

EXERCISE = '''#| export
"""Features."""


def double(x: int) -> int:
    """Twice ``x``."""
    # TODO: return two times x.
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''

CHECK = '''from ds2mle.checks import check, expect


@check("double", module="fraudguard.features")
def _(double):
    expect(double(3) == 6, f"double(3) returned {double(3)!r}; expected 6")'''


def _lesson(course_root: Path, *cells: str) -> Path:
    return write_nb(course_root / "solutions/course/00-intro/00-lesson.ipynb", *cells)


def _run_cells(*sources: str) -> dict[str, object]:
    """Run cell sources in one namespace, as a kernel would (IPython keeps each cell's lines in linecache)."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    for index, source in enumerate(sources):
        filename = f"<cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the test plays the kernel
    return namespace


def test_learner_copy_replaces_the_solution_with_a_stub_that_says_what_to_write() -> None:
    """Does the learner's copy keep the scaffolding and raise the TODO sentence?"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXERCISE)])
    source = learner_copy(nb).cells[0].source
    assert 'raise NotImplementedError("TODO: return two times x.")' in source
    assert "return 2 * x" not in source and "BEGIN SOLUTION" not in source
    assert '"""Twice ``x``."""' in source and source.startswith("#| export")


def test_learner_copy_of_a_writefile_exercise_keeps_only_the_todo_comment() -> None:
    """Is a Dockerfile exercise stubbed with a comment, not with Python?"""
    cell = "%%writefile docker/learner.Dockerfile\nFROM python:3.11-slim\n# TODO: install the package.\n### BEGIN SOLUTION\nRUN pip install .\n### END SOLUTION"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    source = learner_copy(nb).cells[0].source
    assert source == "%%writefile docker/learner.Dockerfile\nFROM python:3.11-slim\n# TODO: install the package."


def test_exercises_pair_each_exercise_cell_with_the_next_check() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in ("x = 1", EXERCISE, EXERCISE.replace("double", "triple"), "y = 2", CHECK)]
    )
    found = exercises(nb)
    assert [(e.id, e.cell, e.check_cell) for e in found] == [("double", 2, 4)], "a check covers the exercise cells before it"


def test_a_passing_check_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    _run_cells(EXERCISE, CHECK)
    assert capsys.readouterr().out.strip() == "✓ double: all checks pass"


def test_a_failing_expectation_is_one_sentence() -> None:
    """Is a wrong answer reported with the check's sentence, not a bare AssertionError?"""
    wrong = EXERCISE.replace("return 2 * x", "return x + 2")
    with pytest.raises(CheckFailed) as caught:
        _run_cells(wrong, CHECK)
    assert caught.value.sentence == "double(3) returned 5; expected 6"
    rendered = caught.value._render_traceback_()
    assert rendered[0].endswith("double(3) returned 5; expected 6")
    assert "`ds2mle catch-up features.py`" in rendered[-1], "the fix names the exercise's own package file"


def test_a_stub_says_the_exercise_is_not_written_yet() -> None:
    stub = learner_copy(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXERCISE)])).cells[0].source
    with pytest.raises(CheckFailed, match=r"`double` is not written yet: return two times x\."):
        _run_cells(stub, CHECK.replace(', module="fraudguard.features"', ""))


def test_a_crash_names_the_learners_line() -> None:
    """Does a runtime error show the line of the learner's code that raised it?"""
    crashing = EXERCISE.replace("return 2 * x", "return {'a': 1}['ts']")
    with pytest.raises(CheckFailed, match=r"raised KeyError: 'ts' in `double` \(line \d+ of .*`return \{'a': 1\}\['ts'\]`\)"):
        _run_cells(crashing, CHECK)


def test_a_stub_falls_back_to_a_working_package_and_binds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """After catch-up, does the lesson run on with the package's function?"""
    pkg = tmp_path / "fgpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "features.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    stub = learner_copy(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXERCISE)])).cells[0].source
    namespace = _run_cells(stub, CHECK.replace("fraudguard.features", "fgpkg.features"))
    assert "using double from fgpkg.features" in capsys.readouterr().out
    assert namespace["double"](4) == 8  # type: ignore[operator]


def test_code_hash_ignores_indentation() -> None:
    assert code_hash("def f():\n    return 1\n") == code_hash("    def f():\n        return 1\n\n")
    assert code_hash("def f():\n    return 1\n") != code_hash("def f():\n    return 2\n")


def test_preflight_names_the_command_that_fixes_each_gap(mini_course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does preflight list a missing file and a stub, each with its fix?"""
    from ds2mle.checks import preflight

    _lesson(mini_course, EXERCISE, CHECK)
    monkeypatch.chdir(mini_course)
    monkeypatch.syspath_prepend(str(mini_course / "src"))
    for name in [m for m in sys.modules if m == "fraudguard" or m.startswith("fraudguard.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(PreflightFailed) as caught:
        preflight("features.double")
    assert caught.value.gaps == [
        "fraudguard/features.py (written in 00-intro/00-lesson) does not exist: finish and save "
        "course/00-intro/00-lesson.ipynb, then `ds2mle export course/00-intro/00-lesson.ipynb`; "
        "or `ds2mle catch-up features.py`"
    ]


def test_export_refuses_to_replace_a_working_file_with_a_stub(mini_course: Path) -> None:
    """Is a caught-up file safe from a plain export of an unfinished notebook?"""
    lesson = _lesson(mini_course, EXERCISE, CHECK)
    course = load_course(mini_course)
    export_notebook(course, lesson)
    working = (mini_course / "src/fraudguard/features.py").read_text(encoding="utf-8")
    copy = mini_course / "course/00-intro/00-lesson.ipynb"
    copy.parent.mkdir(parents=True)
    nbformat.write(learner_copy(nbformat.read(str(lesson), as_version=4)), str(copy))
    with pytest.raises(ExportError, match=r"still has TODO stubs.*--force"):
        export_notebook(course, copy)
    assert (mini_course / "src/fraudguard/features.py").read_text(encoding="utf-8") == working
    export_notebook(course, copy, force=True)
    assert (mini_course / "src/fraudguard/features.py.bak").read_text(encoding="utf-8") == working
    assert "NotImplementedError" in (mini_course / "src/fraudguard/features.py").read_text(encoding="utf-8")


def test_export_writes_files_with_the_repositorys_normal_mode(mini_course: Path) -> None:
    lesson = _lesson(mini_course, EXERCISE, CHECK)
    old = os.umask(0o022)
    try:
        export_notebook(load_course(mini_course), lesson)
    finally:
        os.umask(old)
    assert stat.S_IMODE((mini_course / "src/fraudguard/features.py").stat().st_mode) == 0o644


def _ds2mle(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ds2mle.cli", *args], cwd=root, capture_output=True, text=True,
                          check=False, env={**os.environ, "DS2MLE_ROOT": str(root)})


def test_catch_up_twice_never_overwrites_the_learners_file(mini_course: Path) -> None:
    """Run twice, does catch-up keep both of the learner's versions and say where?"""
    _lesson(mini_course, EXERCISE, CHECK)
    ref = mini_course / "solutions/fraudguard"
    ref.mkdir(parents=True)
    (ref / "features.py").write_text("REFERENCE = 1\n", encoding="utf-8")
    mine = mini_course / "src/fraudguard/features.py"
    mine.write_text("MINE = 1\n", encoding="utf-8")
    first = _ds2mle(mini_course, "catch-up", "00")
    assert first.returncode == 0, first.stderr
    assert "kept your src/fraudguard/features.py as src/fraudguard/features.py.mine" in first.stdout
    mine.write_text("MINE = 2\n", encoding="utf-8")
    second = _ds2mle(mini_course, "catch-up", "features.py")
    assert "as src/fraudguard/features.py.mine.1" in second.stdout
    assert (mini_course / "src/fraudguard/features.py.mine").read_text(encoding="utf-8") == "MINE = 1\n"
    assert (mini_course / "src/fraudguard/features.py.mine.1").read_text(encoding="utf-8") == "MINE = 2\n"
    third = _ds2mle(mini_course, "catch-up", "00")
    assert "already the reference" in third.stdout and not (mini_course / "src/fraudguard/features.py.mine.2").exists()


def test_catch_up_of_an_unknown_target_is_one_line(mini_course: Path) -> None:
    proc = _ds2mle(mini_course, "catch-up", "nope.py")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: 'nope.py' is neither a module nor a package file; give a module id (e.g. 01) or one of: features.py"
    ]


@pytest.mark.slow
def test_verify_probes_each_exercise_and_runs_the_learner_copy(mini_course: Path) -> None:
    """Does verify prove each check fails on its stub, and catch a check that cannot fail?"""
    from ds2mle.verify import verify

    _lesson(mini_course, EXERCISE, CHECK, "assert double(2) == 4", "from fraudguard.features import double as d\nassert d(1) == 2")
    text = (mini_course / "course.toml").read_text(encoding="utf-8")
    text += '\n  [[modules.lessons]]\n  notebook = "00-weak.ipynb"\n  exports = ["weak.py"]\n'
    (mini_course / "course.toml").write_text(text, encoding="utf-8")
    weak_check = CHECK.replace("fraudguard.features", "fraudguard.weak").replace(
        'expect(double(3) == 6, f"double(3) returned {double(3)!r}; expected 6")', 'expect(True, "never fails")'
    ).replace("def _(double):", "def _(double):\n    pass")
    write_nb(mini_course / "solutions/course/01-next/00-weak.ipynb", EXERCISE, weak_check)
    results = {(r.label, r.kind): r for r in verify(load_course(mini_course), jobs=2)}
    assert results[("00-intro/00-lesson", "lesson")].ok, results[("00-intro/00-lesson", "lesson")].error
    assert results[("00-intro/00-lesson", "learner")].ok, results[("00-intro/00-lesson", "learner")].error
    weak = results[("01-next/00-weak", "lesson")]
    assert not weak.ok and "its check passes on the TODO stub, so it cannot fail" in weak.error


def test_build_reports_the_learners_share(mini_course: Path) -> None:
    from ds2mle.build import learner_share

    _lesson(mini_course, EXERCISE, CHECK)
    rows = {r.module: (r.written, r.total) for r in learner_share(load_course(mini_course))}
    assert rows["00-intro"] == (1, 2), "def double + return: the learner writes the return line"


def _preflight_in(mini_course: Path, monkeypatch: pytest.MonkeyPatch, package_text: str) -> list[str]:
    from ds2mle.checks import preflight

    _lesson(mini_course, EXERCISE, CHECK)
    (mini_course / "src/fraudguard/features.py").write_text(package_text, encoding="utf-8")
    monkeypatch.chdir(mini_course)
    monkeypatch.syspath_prepend(str(mini_course / "src"))
    for name in [m for m in sys.modules if m == "fraudguard" or m.startswith("fraudguard.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(PreflightFailed) as caught:
        preflight("features.double")
    return caught.value.gaps


def test_preflight_on_a_half_done_file_names_the_stub(mini_course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gaps = _preflight_in(mini_course, monkeypatch, 'def double(x):\n    raise NotImplementedError("TODO: return two times x.")\n')
    assert len(gaps) == 1 and gaps[0].startswith("`double` in fraudguard/features.py (written in 00-intro/00-lesson) is still a TODO stub")


def test_preflight_on_a_file_that_does_not_parse_names_the_line(mini_course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gaps = _preflight_in(mini_course, monkeypatch, "def double(x):\n    return 2 *\n")
    assert len(gaps) == 1 and "does not parse (line 2" in gaps[0] and "`ds2mle catch-up features.py`" in gaps[0]


def test_status_with_a_damaged_learner_copy_is_a_table_not_a_traceback(mini_course: Path) -> None:
    """A learner's copy that is no longer JSON (a bad hand edit) just counts as not run."""
    _lesson(mini_course, EXERCISE, CHECK)
    copy = mini_course / "course/00-intro/00-lesson.ipynb"
    copy.parent.mkdir(parents=True)
    copy.write_text('{"cells": [', encoding="utf-8")
    proc = _ds2mle(mini_course, "status")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "00-lesson" in proc.stdout


def test_export_of_a_copy_with_a_syntax_error_names_the_cell(mini_course: Path) -> None:
    lesson = _lesson(mini_course, EXERCISE.replace("return 2 * x", "return 2 *"), CHECK)
    proc = _ds2mle(mini_course, "export", str(lesson))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: solutions/course/00-intro/00-lesson.ipynb cell 1 does not parse (invalid syntax, line 9); "
        "fix the cell, nothing was written to fraudguard/features.py"
    ]


def test_a_decorated_stub_is_still_a_stub() -> None:
    """Is a @contextmanager (or any functools.wraps) exercise recognised as unfinished, so catch-up can stand in?"""
    from ds2mle.checks import _is_stub

    namespace = _run_cells(
        "from contextlib import contextmanager\n\n@contextmanager\ndef connect():\n"
        "    raise NotImplementedError(\"TODO: start a LocalCluster and yield a Client.\")\n    yield None"
    )
    assert _is_stub(namespace["connect"])
