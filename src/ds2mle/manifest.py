"""Load and validate ``course.toml``, the course's single manifest.

Every tool (CLI, export, build, verify, grade, status) asks this module what
the course contains; none keeps a list of its own.

Examples
--------
>>> from ds2mle.manifest import load_course
>>> course = load_course()                                  # doctest: +SKIP
>>> [m.slug for m in course.modules][:2]                    # doctest: +SKIP
['00-start-here', '01-engineering-foundations']
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ds2mle.errors import ManifestError

__all__ = [
    "MANIFEST_NAME",
    "Course",
    "Module",
    "NotebookEntry",
    "find_root",
    "load_course",
]

MANIFEST_NAME = "course.toml"
NotebookKind = Literal["lesson", "assignment"]


@dataclass(frozen=True)
class NotebookEntry:
    """One notebook of the course, as the manifest lists it.

    Attributes
    ----------
    module_slug : str
        Folder name of the module that owns the notebook.
    kind : {"lesson", "assignment"}
        Both are written once, with their solutions, under ``solutions/``
        (``solutions/course/`` and ``solutions/assignments/``); the learner's
        copies in ``course/`` and ``assignments/`` are generated from them.
    name : str
        File name, e.g. ``"split-by-time.ipynb"``.
    exports : tuple of str
        ``fraudguard`` files (relative to the package) this notebook owns.
    points : float or None
        Points of a graded notebook; ``None`` for lessons.
    order : int
        Position in the whole course, 0-based; verify and export follow it.
    """

    module_slug: str
    kind: NotebookKind
    name: str
    exports: tuple[str, ...]
    points: float | None
    order: int

    @property
    def stem(self) -> str:
        """The nbgrader notebook id: the file name without ``.ipynb``."""
        return self.name.removesuffix(".ipynb")

    @property
    def label(self) -> str:
        """A short, unique, human-readable name: ``"00-start-here/split-by-time"``."""
        return f"{self.module_slug}/{self.stem}"

    def source_path(self, root: Path) -> Path:
        """Where the notebook is written, with its solutions: ``solutions/course/`` or ``solutions/assignments/``."""
        return root / "solutions" / self.top_folder / self.module_slug / self.name

    def student_path(self, root: Path) -> Path:
        """The learner's copy, generated from the source: ``course/`` or ``assignments/``."""
        return root / self.top_folder / self.module_slug / self.name

    @property
    def top_folder(self) -> str:
        """``"course"`` for lessons, ``"assignments"`` for graded notebooks (under the root and under ``solutions/``)."""
        return "course" if self.kind == "lesson" else "assignments"


@dataclass(frozen=True)
class Module:
    """A module: an ordered run of lessons plus its graded notebooks."""

    id: str
    slug: str
    title: str
    skill_gap: str
    lessons: tuple[NotebookEntry, ...] = ()
    assignments: tuple[NotebookEntry, ...] = ()

    @property
    def notebooks(self) -> tuple[NotebookEntry, ...]:
        """Lessons first, then assignments: the order a learner meets them."""
        return self.lessons + self.assignments

    @property
    def points(self) -> float:
        """Total points of the module's graded notebooks."""
        return sum(nb.points or 0.0 for nb in self.assignments)


@dataclass(frozen=True)
class Course:
    """The whole course as described by ``course.toml``."""

    root: Path
    title: str
    package: str
    modules: tuple[Module, ...] = field(default_factory=tuple)

    @property
    def notebooks(self) -> tuple[NotebookEntry, ...]:
        """Every notebook of the course, in teaching order."""
        return tuple(nb for module in self.modules for nb in module.notebooks)

    @property
    def package_dir(self) -> Path:
        """The learner's package, ``src/fraudguard``."""
        return self.root / "src" / self.package

    @property
    def reference_dir(self) -> Path:
        """The reference package: the export of every lesson and solution notebook."""
        return self.root / "solutions" / self.package

    def module(self, key: str) -> Module:
        """Find a module by id (``"01"``) or slug (``"01-engineering-foundations"``).

        Raises
        ------
        ManifestError
            If no module matches; the message lists the known ones.
        """
        for module in self.modules:
            if key in (module.id, module.slug):
                return module
        known = ", ".join(m.slug for m in self.modules)
        raise ManifestError(f"unknown module {key!r}; known modules: {known}")

    def owner_of(self, package_file: str) -> NotebookEntry | None:
        """The notebook that owns ``package_file`` (e.g. ``"splits.py"``), if any."""
        for nb in self.notebooks:
            if package_file in nb.exports:
                return nb
        return None

    def find_notebook(self, path: Path) -> NotebookEntry:
        """Map a notebook path (lesson, solution or student version) to its entry.

        Raises
        ------
        ManifestError
            If the path is not a notebook the manifest lists.
        """
        resolved = path.resolve()
        for nb in self.notebooks:
            if resolved in (nb.source_path(self.root).resolve(), nb.student_path(self.root).resolve()):
                return nb
        raise ManifestError(
            f"{path} is not listed in {MANIFEST_NAME}; add it to its module there first"
        )


def find_root(start: Path | None = None) -> Path:
    """Walk up from ``start`` (default: cwd, or ``$DS2MLE_ROOT``) to the folder holding ``course.toml``.

    Raises
    ------
    ManifestError
        If no parent folder holds a manifest.
    """
    env = os.environ.get("DS2MLE_ROOT")
    if start is None and env:
        start = Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    raise ManifestError(
        f"no {MANIFEST_NAME} found in {here} or its parents; "
        "run ds2mle from inside the course repository (or set DS2MLE_ROOT)"
    )


def load_course(root: Path | None = None, *, check_files: bool = True) -> Course:
    """Read and validate the manifest.

    Parameters
    ----------
    root : Path, optional
        The course root. Found with :func:`find_root` when omitted.
    check_files : bool, default True
        Also require every listed notebook to exist on disk.

    Returns
    -------
    Course

    Raises
    ------
    ManifestError
        For malformed TOML, missing keys, unknown fields, duplicate ids or
        notebooks, a package file with two owners, or a missing notebook.
    """
    root = find_root() if root is None else root.resolve()
    path = root / MANIFEST_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist; is {root} the course root?") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path} is not valid TOML ({exc}); fix the syntax there") from None

    course_table = _table(raw, "course", where=MANIFEST_NAME)
    _only(course_table, {"title", "package"}, where="[course]")
    modules_raw = raw.get("modules", [])
    if not isinstance(modules_raw, list) or not modules_raw:
        raise ManifestError(f"{MANIFEST_NAME} has no [[modules]]; add at least one module")
    _only(raw, {"course", "modules"}, where=MANIFEST_NAME)

    modules: list[Module] = []
    order = 0
    seen_ids: set[str] = set()
    for index, entry in enumerate(modules_raw):
        where = f"[[modules]] #{index + 1}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where} must be a table")
        _only(entry, {"id", "slug", "title", "skill_gap", "lessons", "assignments"}, where=where)
        mid = _str(entry, "id", where=where)
        slug = _str(entry, "slug", where=where)
        where = f"module {slug!r}"
        if not slug.startswith(f"{mid}-"):
            raise ManifestError(f"{where}: slug must start with its id ({mid}-...)")
        if mid in seen_ids:
            raise ManifestError(f"{where}: duplicate module id {mid!r}; ids must be unique")
        seen_ids.add(mid)
        notebooks: dict[str, list[NotebookEntry]] = {"lessons": [], "assignments": []}
        for key, kind in (("lessons", "lesson"), ("assignments", "assignment")):
            items = entry.get(key, [])
            if not isinstance(items, list):
                raise ManifestError(f"{where}: {key} must be an array of tables")
            for item in items:
                nb = _notebook(item, module_slug=slug, kind=kind, order=order, where=where)  # type: ignore[arg-type]
                notebooks[key].append(nb)
                order += 1
        modules.append(
            Module(
                id=mid,
                slug=slug,
                title=_str(entry, "title", where=where),
                skill_gap=_str(entry, "skill_gap", where=where),
                lessons=tuple(notebooks["lessons"]),
                assignments=tuple(notebooks["assignments"]),
            )
        )

    course = Course(
        root=root,
        title=_str(course_table, "title", where="[course]"),
        package=_str(course_table, "package", where="[course]"),
        modules=tuple(modules),
    )
    _check_consistency(course, check_files=check_files)
    return course


def _check_consistency(course: Course, *, check_files: bool) -> None:
    owners: dict[str, NotebookEntry] = {}
    names: set[str] = set()
    for nb in course.notebooks:
        if nb.label in names:
            raise ManifestError(f"{nb.label} is listed twice in {MANIFEST_NAME}; keep one entry")
        names.add(nb.label)
        for target in nb.exports:
            previous = owners.get(target)
            if previous is not None:
                raise ManifestError(
                    f"{course.package}/{target} has two owners, {previous.label} and {nb.label}; "
                    "every package file has exactly one owning notebook"
                )
            owners[target] = nb
        # A public copy leaves solutions/ out: the learner's copy is then enough.
        if check_files and not (nb.source_path(course.root).is_file() or nb.student_path(course.root).is_file()):
            rel = nb.source_path(course.root).relative_to(course.root)
            raise ManifestError(
                f"{rel} is listed in {MANIFEST_NAME} but does not exist; create it or remove the entry"
            )


def _notebook(
    item: Any, *, module_slug: str, kind: NotebookKind, order: int, where: str
) -> NotebookEntry:
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: each {kind} must be a table with a 'notebook' key")
    _only(item, {"notebook", "exports", "points"}, where=f"{where} {kind}")
    name = _str(item, "notebook", where=f"{where} {kind}")
    if not name.endswith(".ipynb") or "/" in name:
        raise ManifestError(f"{where}: {name!r} must be a bare file name ending in .ipynb")
    exports = item.get("exports", [])
    if not isinstance(exports, list) or not all(isinstance(e, str) for e in exports):
        raise ManifestError(f"{where}: exports of {name} must be a list of file names")
    for target in exports:
        if not target.endswith(".py") or target.startswith(("/", ".")) or ".." in target:
            raise ManifestError(
                f"{where}: export target {target!r} of {name} must be a .py path inside the package"
            )
        if Path(target).name == "__init__.py":
            raise ManifestError(f"{where}: {name} may not export {target}; __init__.py is hand-written")
    points = item.get("points")
    if kind == "assignment":
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            raise ManifestError(f"{where}: assignment {name} needs points = <a positive number>")
        points = float(points)
    elif points is not None:
        raise ManifestError(f"{where}: lesson {name} has points; only assignments are graded")
    return NotebookEntry(
        module_slug=module_slug,
        kind=kind,
        name=name,
        exports=tuple(exports),
        points=points,
        order=order,
    )


def _table(raw: dict[str, Any], key: str, *, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ManifestError(f"{where} needs a [{key}] table")
    return value


def _str(raw: dict[str, Any], key: str, *, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where} needs {key} = \"...\" (a non-empty string)")
    return value


def _only(raw: dict[str, Any], allowed: set[str], *, where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ManifestError(
            f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
