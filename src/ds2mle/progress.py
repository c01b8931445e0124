"""What a learner has done so far: ``ds2mle status``.

Per module, and per lesson within it:

- **run**: the lesson saved with every code cell executed;
- **exercises done**: exercises whose check passed (``ds2mle.checks`` records
  it) on code that is now in ``src/fraudguard``: the function the check
  passed on is, line for line, the one in the package file. Exercises that
  passed only because ``ds2mle catch-up`` dropped in the reference are
  counted apart, as caught up;
- **package files**: files the module owns that exist in ``src/fraudguard``;
- **self-grade**: the autograded score of the latest ``ds2mle grade --self``
  and the best one, with the points a person grades shown apart.

Everything the learner did is kept in ``.ds2mle/progress.json`` at the course
root (git-ignored, the learner's own).
"""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ds2mle.checks import code_hash
from ds2mle.errors import NotebookError
from ds2mle.lessons import check_ids
from ds2mle.manifest import Course, NotebookEntry
from ds2mle.notebooks import read_notebook

__all__ = [
    "LessonProgress",
    "ModuleProgress",
    "SelfGrade",
    "module_progress",
    "record_self_grade",
    "render_table",
    "status_frame",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LessonProgress:
    """One lesson's line of ``ds2mle status``."""

    name: str
    run: bool
    exercises: int
    done: int
    caught_up: int

    def exercises_cell(self) -> str:
        """``"3/5"``, ``"3/5 (+1 caught up)"`` or ``"-"`` for a lesson without exercises."""
        if not self.exercises:
            return "-"
        extra = f" (+{self.caught_up} caught up)" if self.caught_up else ""
        return f"{self.done}/{self.exercises}{extra}"


@dataclass(frozen=True)
class SelfGrade:
    """The stored self-grades of one module: the latest and the best autograded score."""

    score: float
    best: float
    auto_max: float
    manual_max: float

    def cell(self) -> str:
        """``"8/8 auto + 2 by hand (best 8/8)"``."""
        text = f"{self.score:g}/{self.auto_max:g} auto"
        if self.manual_max:
            text += f" + {self.manual_max:g} by hand"
        if self.best != self.score:
            text += f" (best {self.best:g}/{self.auto_max:g})"
        return text


@dataclass(frozen=True)
class ModuleProgress:
    """One module of ``ds2mle status``, with its lessons."""

    module: str
    title: str
    lessons_run: int
    lessons: int
    files_exported: int
    files: int
    grade: SelfGrade | None
    max_score: float
    lesson_rows: tuple[LessonProgress, ...] = ()

    @property
    def score(self) -> float | None:
        """The latest autograded self-grade, or None before the first one."""
        return None if self.grade is None else self.grade.score

    @property
    def exercises(self) -> int:
        """Exercises in the module's lessons."""
        return sum(r.exercises for r in self.lesson_rows)

    @property
    def exercises_done(self) -> int:
        """Exercises whose check passed on the learner's own code, now in the package."""
        return sum(r.done for r in self.lesson_rows)

    def as_row(self) -> dict[str, str]:
        """The module's row as the table prints it."""
        caught = sum(r.caught_up for r in self.lesson_rows)
        exercises = "-"
        if self.exercises:
            exercises = f"{self.exercises_done}/{self.exercises}" + (f" (+{caught} caught up)" if caught else "")
        return {
            "module": self.module,
            "title": self.title,
            "lessons run": f"{self.lessons_run}/{self.lessons}" if self.lessons else "coming soon",
            "exercises done": exercises,
            "package files": f"{self.files_exported}/{self.files}" if self.files else "-",
            "self-grade": (self.grade.cell() if self.grade else "-") if self.max_score else "-",
        }

    def lesson_table_rows(self) -> list[dict[str, str]]:
        """One row per lesson, under the module's row."""
        return [
            {
                "module": f"  {r.name}",
                "title": "",
                "lessons run": "yes" if r.run else "no",
                "exercises done": r.exercises_cell(),
                "package files": "",
                "self-grade": "",
            }
            for r in self.lesson_rows
        ]


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


def record_self_grade(
    course: Course, *, module_slug: str, score: float, max_score: float, manual_points: float = 0.0
) -> None:
    """Remember a self-grade (atomic write): the autograded score, the best so far, and the points left to a person.

    Parameters
    ----------
    course : Course
        The loaded manifest.
    module_slug : str
        The graded module.
    score : float
        Autograded points earned.
    max_score : float
        All points of the module's assignment, hand-graded ones included.
    manual_points : float, default 0
        The part of ``max_score`` that a person grades.
    """
    data = _load(course)
    grades = data.get("self_grades")
    if not isinstance(grades, dict):
        grades = data["self_grades"] = {}
    previous = _self_grade(grades.get(module_slug))
    best = max(score, previous.best) if previous else score
    grades[module_slug] = {
        "score": score,
        "best": best,
        "max_score": max_score,
        "manual_points": manual_points,
        "at": datetime.now(UTC).isoformat(),
    }
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


def _self_grade(grade: object) -> SelfGrade | None:
    """One stored self-grade entry, or None when it is missing or malformed."""
    if not isinstance(grade, dict):
        return None
    try:
        score = float(grade["score"])
        max_score = float(grade["max_score"])
        manual = float(grade.get("manual_points", 0.0))
        best = float(grade.get("best", score))
    except (KeyError, TypeError, ValueError):
        return None
    return SelfGrade(score=score, best=max(best, score), auto_max=max_score - manual, manual_max=manual)


def _package_definitions(course: Course, module: str) -> dict[str, str] | None:
    """Hashes of the top-level functions and classes of ``fraudguard.<module>``, or None if it is unreadable."""
    relative = module.removeprefix(f"{course.package}.").replace(".", "/") + ".py"
    path = course.package_dir / relative
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None
    hashes = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            segment = ast.get_source_segment(text, node, padded=True)
            if node.decorator_list:  # getsource includes decorators: so must the hash
                first = min(d.lineno for d in node.decorator_list)
                segment = "\n".join(text.splitlines()[first - 1 : node.end_lineno])
            if segment is not None:
                hashes[node.name] = code_hash(segment)
    return hashes


def _exercise_state(course: Course, record: object, cache: dict[str, dict[str, str] | None]) -> str:
    """``"done"``, ``"caught up"`` or ``"open"`` for one exercise's stored record."""
    if not isinstance(record, dict):
        return "open"
    module = record.get("module")
    functions = record.get("functions")
    if not isinstance(functions, dict):
        functions = {}
    if isinstance(module, str) and functions:
        if module not in cache:
            cache[module] = _package_definitions(course, module)
        package = cache[module]
        if package is None or any(package.get(name) != digest for name, digest in functions.items()):
            return "open"  # the code the check passed on is not (or no longer) in the package
    if record.get("caught_up"):
        return "caught up"
    return "done"


def _lesson_progress(course: Course, nb: NotebookEntry, passed: dict[str, Any],
                     cache: dict[str, dict[str, str] | None]) -> LessonProgress:
    path = nb.student_path(course.root)
    try:
        ids = check_ids(read_notebook(path))
    except (NotebookError, OSError):
        ids = []
    states = [_exercise_state(course, passed.get(exercise), cache) for exercise in ids]
    return LessonProgress(
        name=nb.stem,
        run=_has_run(path),
        exercises=len(ids),
        done=states.count("done"),
        caught_up=states.count("caught up"),
    )


def module_progress(course: Course) -> list[ModuleProgress]:
    """Progress for every module, in course order."""
    data = _load(course)
    grades = data.get("self_grades", {})
    grades = grades if isinstance(grades, dict) else {}
    passed = data.get("exercises", {})
    passed = passed if isinstance(passed, dict) else {}
    cache: dict[str, dict[str, str] | None] = {}
    rows = []
    for module in course.modules:
        owned = [t for nb in module.notebooks for t in nb.exports]
        lessons = tuple(_lesson_progress(course, nb, passed, cache) for nb in module.lessons)
        rows.append(
            ModuleProgress(
                module=module.slug,
                title=module.title,
                lessons_run=sum(r.run for r in lessons),
                lessons=len(module.lessons),
                files_exported=sum((course.package_dir / t).is_file() for t in owned),
                files=len(owned),
                grade=_self_grade(grades.get(module.slug)),
                max_score=module.points,
                lesson_rows=lessons,
            )
        )
    return rows


def render_table(rows: list[ModuleProgress], *, lessons: bool = True) -> str:
    """A plain-text table for the terminal: a row per module, then (``lessons``) a row per lesson."""
    table = []
    for row in rows:
        table.append(row.as_row())
        if lessons:
            table += row.lesson_table_rows()
    if not table:
        return ""
    headers = list(table[0])
    widths = {h: max(len(h), *(len(r[h]) for r in table)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip(), "  ".join("-" * widths[h] for h in headers)]
    lines += ["  ".join(r[h].ljust(widths[h]) for h in headers).rstrip() for r in table]
    return "\n".join(lines)


def status_frame(course: Course | None = None, *, lessons: bool = False) -> Any:
    """The same view as a pandas DataFrame, for a notebook cell (``lessons=True`` adds a row per lesson)."""
    import pandas as pd

    from ds2mle.manifest import load_course

    course = load_course() if course is None else course
    table = []
    for row in module_progress(course):
        table.append(row.as_row())
        if lessons:
            table += [{**r, "module": r["module"].strip()} for r in row.lesson_table_rows()]
    return pd.DataFrame(table).set_index("module")
