"""Finding submissions: nbgrader's ``submitted/`` layout, or an LMS download zip.

nbgrader keeps each submission at
``submitted/<student>/<assignment>/<notebook>.ipynb`` under the course root,
with the time it was handed in in ``timestamp.txt`` next to it. ``nbgrader
collect`` (the exchange) fills it; so does :func:`collect_zip`, which runs
nbgrader's own ``zip_collect`` on a zip downloaded from an LMS.

The file names in that zip must match :data:`DEFAULT_ZIP_PATTERN` (or a
pattern of your own with the same named groups), for example::

    jdoe_split-by-time.ipynb
    jdoe_12345_678901_split-by-time.ipynb        (Canvas: user id, submission id)
    jdoe_late_12345_678901_split-by-time.ipynb
    jdoe_2026-01-30-15-00-00_split-by-time.ipynb (with a timestamp)
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ds2mle.errors import GradingError
from ds2mle.manifest import Course, Module

__all__ = ["DEFAULT_ZIP_PATTERN", "Submission", "collect_zip", "discover_submissions"]

logger = logging.getLogger(__name__)

_MAX_TIMESTAMP_BYTES = 200

DEFAULT_ZIP_PATTERN = (
    r".*/(?P<student_id>[^/_]+)_(?:late_|LATE_)?"
    r"(?:(?P<timestamp>\d{4}-\d\d-\d\d[- ]\d\d[-:]\d\d[-:]\d\d)_)?(?:\d+_)*(?P<file_id>[^/]+\.ipynb)$"
)


@dataclass(frozen=True)
class Submission:
    """One student's submission of one assignment.

    Attributes
    ----------
    student : str
        The student id (the folder name).
    folder : Path
        ``submitted/<student>/<assignment>``.
    timestamp : datetime or None
        From ``timestamp.txt``; ``None`` when absent or unreadable.
    """

    student: str
    folder: Path
    timestamp: datetime | None


def _timestamp(folder: Path) -> datetime | None:
    from nbgrader.utils import parse_utc

    path = folder / "timestamp.txt"
    try:
        if not path.is_file() or path.is_symlink():
            return None
        with path.open("rb") as fh:
            text = fh.read(_MAX_TIMESTAMP_BYTES + 1)
        if len(text) > _MAX_TIMESTAMP_BYTES:
            raise ValueError("too long")
        value: datetime | None = parse_utc(text.decode("utf-8").strip())
    except Exception:  # whatever the file holds, it costs this submission its timestamp only
        logger.warning("%s is not a timestamp; the submission is recorded without one", path)
        return None
    return value


def discover_submissions(course: Course, module: Module, *, students: list[str] | None = None) -> list[Submission]:
    """Every submission of ``module`` in ``submitted/``, sorted by student id.

    Parameters
    ----------
    course : Course
    module : Module
    students : list of str, optional
        Only these students.

    Returns
    -------
    list of Submission

    Raises
    ------
    GradingError
        If there is no submission, or a requested student has none.
    """
    base = course.root / "submitted"
    found: list[Submission] = []
    if base.is_dir():
        for student_dir in sorted(base.iterdir()):
            folder = student_dir / module.slug
            if student_dir.is_symlink() or not student_dir.is_dir() or folder.is_symlink() or not folder.is_dir():
                continue
            found.append(Submission(student=student_dir.name, folder=folder, timestamp=_timestamp(folder)))
    if students:
        known = {s.student for s in found}
        unknown = [s for s in students if s not in known]
        if unknown:
            raise GradingError(
                f"no submission of {module.slug} from {', '.join(map(repr, unknown))} in submitted/; "
                f"expected submitted/<student>/{module.slug}/"
            )
        found = [s for s in found if s.student in students]
    if not found:
        raise GradingError(
            f"no submissions of {module.slug} in {base}; collect them with `nbgrader collect {module.slug}` "
            f"or pass an LMS download with --zip"
        )
    return found


def collect_zip(course: Course, module: Module, zip_path: Path, *, pattern: str = DEFAULT_ZIP_PATTERN) -> int:
    """Unpack an LMS download into ``submitted/`` with nbgrader's ``zip_collect``.

    The zip is copied to ``downloaded/<assignment>/archive/``, extracted to
    ``downloaded/<assignment>/extracted/`` and each notebook whose path
    matches ``pattern`` is copied to ``submitted/<student_id>/<assignment>/``.

    Parameters
    ----------
    course : Course
    module : Module
    zip_path : Path
        The downloaded zip.
    pattern : str
        A regular expression matched against each extracted file's full path,
        with the named groups ``student_id`` and ``file_id`` (and optionally
        ``timestamp``).

    Returns
    -------
    int
        How many students were collected.

    Raises
    ------
    GradingError
        If the file is not a zip, or no file in it matches the pattern.
    """
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not zip_path.is_file() or not zipfile.is_zipfile(zip_path):
        raise GradingError(f"{zip_path} is not a zip file; pass the archive your LMS let you download")
    config = Config()
    config_file = course.root / "nbgrader_config.py"
    if config_file.is_file():
        config.merge(PyFileConfigLoader(config_file.name, path=str(course.root)).load_config())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.assignment_id = module.slug
    config.ZipCollectApp.force = True
    config.ExtractorPlugin.force = True
    config.FileNameCollectorPlugin.named_regexp = pattern
    archive = course.root / "downloaded" / module.slug / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    shutil.copyfile(zip_path, archive / zip_path.name)
    app = ZipCollectApp(config=config)
    app.coursedir = CourseDirectory(config=config)
    app.log.setLevel(logging.ERROR)
    before = {p.parent.parent.name for p in (course.root / "submitted").glob(f"*/{module.slug}/*")}
    try:
        app.init_plugins()
        app.extract_archive_files()
        extracted = course.root / "downloaded" / module.slug / "extracted"
        files = [p for p in extracted.rglob("*") if p.is_file()]
        collected = app._collect_files(sorted(str(p) for p in files))
        app._transfer_files(collected)
    except (Exception, SystemExit) as exc:
        raise GradingError(f"nbgrader zip_collect could not read {zip_path.name}: {exc}; check the zip") from None
    if not collected:
        raise GradingError(
            f"no file in {zip_path.name} matches the file-name pattern {pattern!r}; "
            "name files <student>_<notebook>.ipynb or pass --zip-pattern"
        )
    logger.debug("collected %d students (%d already there)", len(collected), len(before))
    return len(collected)
