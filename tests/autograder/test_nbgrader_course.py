"""The repository as nbgrader sees it: formgrader lists the modules' assignments and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _helpers import REPO
from ds2mle.manifest import load_course


def _api(tmp_path: Path) -> Any:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    config.CourseDirectory.root = str(REPO)
    config.CourseDirectory.db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"  # never the repository's own
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def test_nbgrader_sources_are_exactly_the_graded_modules(tmp_path: Path) -> None:
    """Does nbgrader find one source assignment per graded module, and no reference package or lessons?"""
    slugs = {m.slug for m in load_course(REPO).modules if m.assignments}
    assert slugs, "the course has graded modules"
    assert _api(tmp_path).get_source_assignments() == slugs


def test_formgrader_lists_only_the_module_assignments(tmp_path: Path) -> None:
    """Is formgrader's assignment list (sources plus gradebook) free of `fraudguard` and lesson folders?"""
    listed = {a["name"] for a in _api(tmp_path).get_assignments()}
    assert listed == {m.slug for m in load_course(REPO).modules if m.assignments}
    assert "fraudguard" not in listed and "course" not in listed


def test_a_new_gradebook_is_stamped_with_nbgraders_newest_migration(tmp_path: Path) -> None:
    """Is a gradebook we create the one nbgrader would: its tables, and the migration `alembic heads` names?"""
    import sqlite3

    from nbgrader.api import Gradebook, get_alembic_version

    from autograder.gradebook import _alembic_on_path, create_gradebook

    _alembic_on_path()  # nbgrader's get_alembic_version runs `alembic` from PATH
    path = tmp_path / "gradebook.db"
    create_gradebook(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert stamped == [(get_alembic_version(),)]  # nbgrader's own way: `alembic heads` in a subprocess
    with Gradebook(f"sqlite:///{path}", course_id="ds2mle") as gb:
        gb.update_or_create_student("s1")
        assert [s.id for s in gb.students] == ["s1"]
    create_gradebook(f"sqlite:///{path}")  # an existing gradebook is left as it is
    with Gradebook(f"sqlite:///{path}", course_id="ds2mle") as gb:
        assert [s.id for s in gb.students] == ["s1"]
