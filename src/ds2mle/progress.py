"""What a learner has done so far, per module: ``ds2mle status``.

- **lessons run**: lesson notebooks saved with every code cell executed;
- **package files**: files the module owns that exist in ``src/fraudguard``;
- **self-grade**: the last ``ds2mle grade --self`` score, kept in
  ``.ds2mle/progress.json`` at the course root (git-ignored, the learner's own).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ds2mle.errors import NotebookError
from ds2mle.manifest import Course
from ds2mle.notebooks import read_notebook

__all__ = ["ModuleProgress", "module_progress", "record_self_grade", "render_table", "status_frame"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModuleProgress:
    """One row of ``ds2mle status``."""

    module: str
    title: str
    lessons_run: int
    lessons: int
    files_exported: int
    files: int
    score: float | None
    max_score: float

    def as_row(self) -> dict[str, str]:
        """The row as the table prints it."""
        score = "-" if self.score is None else f"{self.score:g}/{self.max_score:g}"
        return {
            "module": self.module,
            "title": self.title,
            "lessons run": f"{self.lessons_run}/{self.lessons}" if self.lessons else "coming soon",
            "package files": f"{self.files_exported}/{self.files}" if self.files else "-",
            "self-grade": score if self.max_score else "-",
        }


def _store(course: Course) -> Path:
    return course.root / ".ds2mle" / "progress.json"


def _load(course: Course) -> dict[str, Any]:
    path = _store(course)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s is unreadable and is ignored; delete it to start afresh", path)
        return {}
    return data if isinstance(data, dict) else {}


def record_self_grade(course: Course, *, module_slug: str, score: float, max_score: float) -> None:
    """Remember a self-grade result (atomic write)."""
    data = _load(course)
    grades = data.get("self_grades")
    if not isinstance(grades, dict):
        grades = data["self_grades"] = {}
    grades[module_slug] = {"score": score, "max_score": max_score, "at": datetime.now(UTC).isoformat()}
    path = _store(course)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _has_run(path: Path) -> bool:
    """Has every code cell of the lesson been run and the notebook saved?

    JupyterLab and papermill both record an execution count on every code
    cell they run (JupyterLab skips empty cells), so a lesson counts as run
    only when "Run All" got to its end, not when one cell was tried.
    """
    try:
        nb = read_notebook(path)
    except (NotebookError, OSError):  # a missing or unreadable lesson simply does not count as run
        return False
    cells = [c for c in nb.cells if c.cell_type == "code" and str(c.get("source", "")).strip()]
    return bool(cells) and all(c.get("execution_count") is not None for c in cells)


def _score(grade: object) -> float | None:
    """The stored score of one self-grade entry, or None when it is missing or malformed."""
    if not isinstance(grade, dict):
        return None
    try:
        return float(grade["score"])
    except (KeyError, TypeError, ValueError):
        return None


def module_progress(course: Course) -> list[ModuleProgress]:
    """Progress for every module, in course order."""
    grades = _load(course).get("self_grades", {})
    if not isinstance(grades, dict):
        grades = {}
    rows = []
    for module in course.modules:
        owned = [t for nb in module.notebooks for t in nb.exports]
        grade = grades.get(module.slug)
        rows.append(
            ModuleProgress(
                module=module.slug,
                title=module.title,
                lessons_run=sum(_has_run(nb.source_path(course.root)) for nb in module.lessons),
                lessons=len(module.lessons),
                files_exported=sum((course.package_dir / t).is_file() for t in owned),
                files=len(owned),
                score=_score(grade),
                max_score=module.points,
            )
        )
    return rows


def render_table(rows: list[ModuleProgress]) -> str:
    """A plain-text table for the terminal."""
    table = [row.as_row() for row in rows]
    if not table:
        return ""
    headers = list(table[0])
    widths = {h: max(len(h), *(len(r[h]) for r in table)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers), "  ".join("-" * widths[h] for h in headers)]
    lines += ["  ".join(r[h].ljust(widths[h]) for h in headers) for r in table]
    return "\n".join(lines)


def status_frame(course: Course | None = None) -> Any:
    """The same view as a pandas DataFrame, for a notebook cell."""
    import pandas as pd

    from ds2mle.manifest import load_course

    course = load_course() if course is None else course
    return pd.DataFrame([row.as_row() for row in module_progress(course)]).set_index("module")
