"""Writing results into nbgrader's gradebook, the way ``nbgrader autograde`` does.

Only the coordinator calls this module, from one thread: it is the single
writer of ``gradebook.db``. What it writes mirrors nbgrader's own
preprocessors, so formgrader, ``nbgrader generate_feedback`` and
``nbgrader export`` read it as if nbgrader had graded:

- :func:`register_assignment` runs nbgrader's ``GenerateAssignment`` with
  the database on (into a scratch release folder): the assignment, its
  notebooks, grade, solution and source cells, with checksums (what
  ``nbgrader generate_assignment`` records through ``SaveCells``);
- :func:`record_submission` creates the student and the submission with its
  timestamp, then sets each grade's ``auto_score`` and
  ``needs_manual_grade`` and each answer's automatic comment as
  ``SaveAutoGrades`` does. A grade a person already gave is never
  overwritten; the cell is flagged for review instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ds2mle.errors import GradingError
from ds2mle.manifest import Course, Module

__all__ = ["NotebookGrades", "create_gradebook", "generate_release", "record_submission", "register_assignment"]


@dataclass(frozen=True)
class NotebookGrades:
    """What the gradebook needs about one graded notebook.

    Attributes
    ----------
    notebook_id : str
        nbgrader's notebook id (the file name without ``.ipynb``).
    auto_scores : dict of str to float
        Autograded points by grade id.
    manual_answered : dict of str to bool
        For each written answer: did the learner change the stub?
    answered : dict of str to bool
        For each answer cell (code or written): did the learner change it?
    missing : bool
        The notebook was not submitted: every grade is zero, none needs a person.
    """

    notebook_id: str
    auto_scores: dict[str, float]
    manual_answered: dict[str, bool]
    answered: dict[str, bool]
    missing: bool = False


def _config(course: Course, module: Module, release_dir: Path) -> Any:
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config_file = course.root / "nbgrader_config.py"
    if config_file.is_file():
        config.merge(PyFileConfigLoader(config_file.name, path=str(course.root)).load_config())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.release_directory = str(release_dir.resolve())
    config.CourseDirectory.assignment_id = module.slug
    return config


def db_url(course: Course) -> str:
    """The gradebook's URL from ``nbgrader_config.py`` (``sqlite:///gradebook.db`` at the course root)."""
    from nbgrader.coursedir import CourseDirectory

    config = _config(course, course.modules[0], course.root / "assignments")
    url = str(CourseDirectory(config=config).db_url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{(course.root / url.removeprefix('sqlite:///')).resolve()}"
    return url


def _alembic_on_path() -> None:
    """nbgrader runs ``alembic`` from PATH when it creates a gradebook; find the environment's own."""
    here = Path(sys.executable).parent
    if shutil.which("alembic") is None and (here / "alembic").exists():
        os.environ["PATH"] = f"{here}{os.pathsep}{os.environ.get('PATH', '')}"


def register_assignment(course: Course, module: Module, *, release_dir: Path) -> list[Path]:
    """Record the assignment and its cells in the gradebook; write its student versions.

    Parameters
    ----------
    course : Course
        The loaded manifest.
    module : Module
        The module whose assignment is graded.
    release_dir : Path
        A scratch folder for the student versions nbgrader generates.

    Returns
    -------
    list of Path
        The generated student versions, in manifest order.

    Raises
    ------
    GradingError
        If nbgrader refuses the source (for example a cell added after
        submissions were recorded).
    """
    return _generate(course, module, release_dir=release_dir, database=True)


def generate_release(course: Course, module: Module, *, release_dir: Path) -> list[Path]:
    """Write one module's student versions with nbgrader, touching no gradebook (``--no-db``).

    Parameters
    ----------
    course : Course
        The loaded manifest.
    module : Module
        The module whose assignment is generated.
    release_dir : Path
        A scratch folder; the notebooks land in ``release_dir/<slug>/``.

    Returns
    -------
    list of Path
        The generated student versions, in manifest order.

    Raises
    ------
    GradingError
        If nbgrader refuses the source notebook.
    """
    return _generate(course, module, release_dir=release_dir, database=False)


def create_gradebook(url: str) -> None:
    """Create a new gradebook as nbgrader's ``Gradebook`` does, stamped with nbgrader's newest migration.

    nbgrader finds that migration by running ``alembic heads`` as a program of its own: a second Python
    that imports alembic and SQLAlchemy, about a second before any grading starts. Here the same head is
    read in this process from nbgrader's own migration scripts, so ``nbgrader db upgrade`` sees the same
    gradebook. A gradebook that already has tables is left as it is.

    Parameters
    ----------
    url : str
        The gradebook's SQLAlchemy URL (see :func:`db_url`).
    """
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def _generate(course: Course, module: Module, *, release_dir: Path, database: bool) -> list[Path]:
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    config = _config(course, module, release_dir)
    config.GenerateAssignment.force = True
    if database:
        _alembic_on_path()
        config.CourseDirectory.db_url = db_url(course)
        create_gradebook(config.CourseDirectory.db_url)
    else:
        config.GenerateAssignment.no_database = True  # nbgrader's --no-db flag: both settings
        config.SaveCells.enabled = False
    coursedir = CourseDirectory(config=config)
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.log.setLevel(logging.ERROR)
    try:
        converter.start()
    except (Exception, SystemExit) as exc:  # nbgrader raises NbGraderException, RuntimeError, exits
        if not database:
            raise GradingError(
                f"nbgrader could not generate {module.slug} from its source notebooks: {exc}; "
                "fix the source notebook's nbgrader cells"
            ) from None
        raise GradingError(
            f"nbgrader could not record {module.slug} in the gradebook: {exc}; "
            "if you changed grade cells after grading started, restore them or start a new gradebook"
        ) from None
    paths = [release_dir / module.slug / nb.name for nb in module.assignments]
    for path in paths:
        if not path.is_file():
            raise GradingError(f"nbgrader did not generate {path.name}; check the source of {module.slug}/{path.name}")
    return paths


def record_submission(
    gb: Any,
    *,
    assignment: str,
    student: str,
    timestamp: datetime | None,
    notebooks: list[NotebookGrades],
) -> None:
    """Write one submission's grades, as nbgrader's ``SaveAutoGrades`` would.

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
        An open gradebook (the coordinator's; nobody else writes it).
    assignment : str
        The assignment id (module slug).
    student : str
        The student id.
    timestamp : datetime or None
        When it was submitted (``timestamp.txt``), for late penalties and
        for nbgrader to see the submission as autograded.
    notebooks : list of NotebookGrades
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notices from inside nbgrader's own API
        _record(gb, assignment=assignment, student=student, timestamp=timestamp, notebooks=notebooks)


def _record(gb: Any, *, assignment: str, student: str, timestamp: datetime | None, notebooks: list[NotebookGrades]) -> None:
    gb.update_or_create_student(student)
    if timestamp is not None:
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(assignment, student)
    for nb in notebooks:
        submission = gb.find_submission_notebook(nb.notebook_id, assignment, student)
        for grade in submission.grades:
            name = grade.name
            if nb.missing:
                grade.auto_score = 0.0
                grade.needs_manual_grade = False
            elif name in nb.manual_answered:
                # SaveAutoGrades: an untouched written answer scores 0 automatically
                grade.auto_score = None if nb.manual_answered[name] else 0.0
                grade.needs_manual_grade = grade.auto_score is None or grade.manual_score is not None
            else:
                grade.auto_score = float(nb.auto_scores.get(name, 0.0))
                grade.needs_manual_grade = grade.manual_score is not None
        for comment in submission.comments:
            if comment.name in nb.answered:
                comment.auto_comment = None if nb.answered[comment.name] and not nb.missing else "No response."
    gb.db.commit()
