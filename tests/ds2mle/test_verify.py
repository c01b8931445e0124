"""Tests for ds2mle/verify.py: every notebook runs, failures are reported, not hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from ds2mle.manifest import load_course
from ds2mle.verify import package_states, verify

from _helpers import REPO, start_whole_course_verify, write_nb


def test_each_notebook_sees_the_exports_up_to_itself_and_none_after() -> None:
    """Does every notebook run with what the learner has exported by then: no more, no less?"""
    course = load_course(REPO)
    notebooks = list(course.notebooks)
    states = package_states(course.notebooks)
    assert len(states) == len(notebooks)
    for index, (nb, state) in enumerate(zip(notebooks, states, strict=True)):
        assert list(state) == [other for other in notebooks[: index + 1] if other.exports], nb.label


@pytest.mark.slow
def test_verify_reports_the_first_error_and_exports_between_notebooks(mini_course: Path) -> None:
    """Does a later notebook see what an earlier one exported (and not what a later one will), and does a
    failure show its first error?"""
    text = (mini_course / "course.toml").read_text(encoding="utf-8")
    text += '\n  [[modules.lessons]]\n  notebook = "00-uses.ipynb"\n\n  [[modules.lessons]]\n  notebook = "01-broken.ipynb"\n'
    text += '\n  [[modules.lessons]]\n  notebook = "02-later.ipynb"\n  exports = ["later.py"]\n'
    (mini_course / "course.toml").write_text(text, encoding="utf-8")
    write_nb(
        mini_course / "solutions/course/01-next/00-uses.ipynb",
        "import importlib.util\nfrom fraudguard.features import double\nassert double(3) == 6",
        "assert importlib.util.find_spec('fraudguard.later') is None, 'a later notebook exported it'",
    )
    write_nb(mini_course / "solutions/course/01-next/02-later.ipynb", "#| export\nLATER = 1", "from fraudguard.later import LATER")
    write_nb(mini_course / "solutions/course/01-next/01-broken.ipynb", "x = 1", "raise ValueError('the data is late')", "y = 2")
    results = {r.label: r for r in verify(load_course(mini_course), jobs=2)}
    assert results["00-intro/00-lesson"].ok
    assert results["01-next/00-uses"].ok, results["01-next/00-uses"].error
    broken = results["01-next/01-broken"]
    assert not broken.ok and broken.error == "cell 2: ValueError: the data is late"
    assert results["01-next/02-later"].ok, results["01-next/02-later"].error
    assert not (mini_course / "src/fraudguard/features.py").exists(), "verify works on a scratch copy"


@pytest.mark.slow
def test_ds2mle_verify_is_green_on_the_whole_course() -> None:
    """The CI gate: every lesson, solution and student version of the course behaves.

    The verify runs in the background from the start of the session (``tests/conftest.py``); this test,
    the session's last, waits for it.
    """
    code, stdout, stderr = start_whole_course_verify().wait()
    print(stdout[-6000:])
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    course = load_course(REPO)
    for nb in course.notebooks:
        assert nb.label in stdout
    assert "0 failed" in stdout


@pytest.mark.slow
def test_verify_changed_reruns_only_notebooks_whose_inputs_changed(mini_course: Path) -> None:
    """With --changed, is an unchanged notebook skipped, and one whose imported package file changed re-run?"""
    text = (mini_course / "course.toml").read_text(encoding="utf-8")
    text += '\n  [[modules.lessons]]\n  notebook = "00-uses.ipynb"\n\n  [[modules.lessons]]\n  notebook = "01-alone.ipynb"\n'
    (mini_course / "course.toml").write_text(text, encoding="utf-8")
    write_nb(mini_course / "solutions/course/01-next/00-uses.ipynb", "from fraudguard.features import double\nassert double(3) == 6")
    write_nb(mini_course / "solutions/course/01-next/01-alone.ipynb", "x = 1")
    first = {r.label: r for r in verify(load_course(mini_course), jobs=2, changed_only=True)}
    assert all(r.ok and "skipped" not in r.error for r in first.values()), first
    second = {r.label: r for r in verify(load_course(mini_course), jobs=2, changed_only=True)}
    assert all("skipped" in r.error for r in second.values()), second
    lesson = mini_course / "solutions/course/00-intro/00-lesson.ipynb"
    lesson.write_text(lesson.read_text(encoding="utf-8").replace("return 2 * x", "return x + x"), encoding="utf-8")
    third = {r.label: r for r in verify(load_course(mini_course), jobs=2, changed_only=True)}
    assert "skipped" not in third["00-intro/00-lesson"].error, "the notebook changed"
    assert "skipped" not in third["01-next/00-uses"].error, "the package file it imports changed"
    assert "skipped" in third["01-next/01-alone"].error, "nothing it uses changed"
