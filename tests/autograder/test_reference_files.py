"""Which reference files a graded submission's sandbox sees (autograder/intake.py)."""

from __future__ import annotations

from _helpers import REPO

from autograder.intake import reference_files
from ds2mle.manifest import load_course


def test_an_assignment_sees_its_own_modules_lessons_but_never_its_own_answers() -> None:
    """Graded in module 01, does a submission import the lessons' features.py, but not the reference card_history.py?"""
    course = load_course(REPO)
    module = course.module("01")
    files = reference_files(course, module)
    lesson_files = {t for nb in module.lessons for t in nb.exports}
    answers = {t for nb in module.assignments for t in nb.exports}
    assert lesson_files and answers
    assert all(f"fraudguard/{t}" in files for t in lesson_files)
    assert not any(f"fraudguard/{t}" in files for t in answers)
    assert "fraudguard/splits.py" in files, "earlier modules' answers are in"
    later = {t for m in course.modules[2:] for nb in m.notebooks for t in nb.exports}
    assert not any(f"fraudguard/{t}" in files for t in later), "nothing of a later module"
