"""Tests for ds2mle/manifest.py: the one list of the course."""

from __future__ import annotations

from pathlib import Path

import pytest

from ds2mle.errors import ManifestError
from ds2mle.manifest import load_course

from _helpers import REPO


def test_real_manifest_lists_all_eight_modules_in_order() -> None:
    """Does course.toml seed modules 00-07, each with a title and a skill gap?"""
    course = load_course(REPO)
    assert [m.id for m in course.modules] == [f"0{i}" for i in range(8)]
    assert all(m.title and m.skill_gap for m in course.modules)
    for gap in range(1, 7):
        assert any(m.skill_gap.startswith(f"{gap}.") for m in course.modules), f"skill gap {gap} has no module"


def test_real_manifest_module_00_has_lessons_and_a_graded_assignment() -> None:
    course = load_course(REPO)
    start = course.module("00")
    assert len(start.lessons) >= 4
    assert start.assignments and start.points > 0
    assert course.owner_of("splits.py") == start.assignments[0]


def test_module_lookup_by_id_and_slug(mini_course: Path) -> None:
    course = load_course(mini_course)
    assert course.module("00") is course.module("00-intro")


def test_unknown_module_names_the_known_ones(mini_course: Path) -> None:
    """Is an unknown module refused with the list of valid ones?"""
    with pytest.raises(ManifestError, match=r"unknown module '09'; known modules: 00-intro, 01-next"):
        load_course(mini_course).module("09")


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "course.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('title = "Intro"', 'title = "Intro', r"not valid TOML"),
        ('skill_gap = "orientation"', 'skill_gap = "orientation"\ncolour = "red"', r"unknown key\(s\) colour"),
        ('id = "01"', 'id = "00"', r"slug must start with its id|duplicate module id"),
        ('notebook = "00-lesson.ipynb"', 'notebook = "00-missing.ipynb"', r"00-missing.ipynb is listed .* does not exist"),
        ('exports = ["features.py"]', 'exports = ["../evil.py"]', r"must be a .py path inside the package"),
        ('exports = ["features.py"]', 'exports = ["features.py"]\n  points = 3', r"only assignments are graded"),
        ('title = "Next"', 'title = ""', r"needs title"),
    ],
)
def test_malformed_manifest_is_refused_with_a_fix(mini_course: Path, old: str, new: str, message: str) -> None:
    """Is each kind of broken manifest refused with a message that locates it?"""
    _edit(mini_course, old, new)
    with pytest.raises(ManifestError, match=message):
        load_course(mini_course)


def test_a_package_file_with_two_owners_is_refused(mini_course: Path) -> None:
    """Does the manifest enforce one owning notebook per fraudguard file?"""
    from _helpers import write_nb

    write_nb(mini_course / "solutions" / "course" / "01-next" / "00-other.ipynb", "1")
    text = (mini_course / "course.toml").read_text(encoding="utf-8")
    text += '\n  [[modules.lessons]]\n  notebook = "00-other.ipynb"\n  exports = ["features.py"]\n'
    (mini_course / "course.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=r"fraudguard/features.py has two owners, 00-intro/00-lesson and 01-next/00-other"):
        load_course(mini_course)


def test_assignment_without_points_is_refused(mini_course: Path) -> None:
    text = (mini_course / "course.toml").read_text(encoding="utf-8")
    text += '\n  [[modules.assignments]]\n  notebook = "a.ipynb"\n'
    (mini_course / "course.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=r"needs points"):
        load_course(mini_course, check_files=False)


def test_no_manifest_anywhere_says_where_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DS2MLE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError, match=r"no course.toml found .* run ds2mle from inside the course"):
        load_course()
