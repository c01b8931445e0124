"""README.md's "Running the tests" section tells a learner and a maintainer what the test command does."""

from __future__ import annotations

import re

from _helpers import REPO


def running_the_tests() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running the tests", 1)[1]
    return " ".join(section.split("\n## ", 1)[0].split())


def test_it_says_the_test_command_checks_an_unmodified_checkout_and_names_the_learners_own_run() -> None:
    """Does a learner whose clone fails the suite learn why, and which command is theirs?"""
    section = running_the_tests()
    assert "unmodified checkout" in section
    assert "`FRAUDGUARD_UNDER_TEST=src python -m pytest tests/fraudguard`" in section


def test_the_not_slow_run_is_quoted_with_a_measured_time_not_seconds() -> None:
    """Is `-m "not slow"` quoted with the time it was measured to take, and the command that measured it?"""
    section = running_the_tests()
    sentence = re.search(r'`python -m pytest -m "not slow"`[^.]*?\.(?= [A-Z`])', section + " X")
    assert sentence, section
    assert "seconds instead of minutes" not in sentence.group(0)
    assert re.search(r"\d+ min \d+ s on \d+ cores", sentence.group(0)), sentence.group(0)
    assert '`time python -m pytest -m "not slow" -q -p no:cacheprovider`' in sentence.group(0)
