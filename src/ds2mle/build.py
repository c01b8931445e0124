"""Build the generated parts of the course, or check that they are up to date.

Three things are generated, never edited by hand:

1. ``assignments/<slug>/``: the student versions, made by nbgrader's
   ``GenerateAssignment`` from the sources in ``solutions/assignments/<slug>/``.
2. ``course/<slug>/``: the learner's copies of the lessons, made from
   ``solutions/course/<slug>/`` by nbgrader's ``ClearSolutions`` and
   ``ClearOutput`` (:func:`ds2mle.lessons.learner_copy`).
3. ``solutions/fraudguard/``: the reference package, the export of every
   lesson and solution notebook plus the hand-written skeleton files of
   ``src/fraudguard`` (those no notebook owns).

:func:`check` renders them into memory or a scratch folder and compares them
with what is committed; it also checks that every notebook is clean and that
the manifest's points match the notebooks' grade cells. :func:`learner_share`
counts the reference package's code lines that learners write in exercises.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from ds2mle.errors import BuildError
from ds2mle.export import render_exports
from ds2mle.lessons import learner_copy
from ds2mle.manifest import MANIFEST_NAME, Course
from ds2mle.notebooks import cleanliness_problems, read_notebook, write_notebook

__all__ = [
    "ShareRow",
    "build",
    "check",
    "learner_share",
    "render_learner_lessons",
    "generate_student_versions",
    "render_module_table",
    "render_reference_package",
]

logger = logging.getLogger(__name__)

_NOTEBOOK_DIRS = ("course", "solutions", "assignments")
_SKELETON_SUFFIXES = (".py", ".typed")


@dataclass(frozen=True)
class ShareRow:
    """How much of one module's reference package the learner writes."""

    module: str
    written: int
    total: int

    @property
    def fraction(self) -> float:
        """``written / total``, 0 for a module that owns no package file."""
        return self.written / self.total if self.total else 0.0


def render_learner_lessons(course: Course) -> dict[Path, NotebookNode]:
    """The learner's copy of every lesson, keyed by its path under ``course/``."""
    return {
        nb.student_path(course.root): learner_copy(read_notebook(nb.source_path(course.root)))
        for nb in course.notebooks
        if nb.kind == "lesson"
    }


def learner_share(course: Course) -> list[ShareRow]:
    """Code lines of the reference package that sit in exercises, per module.

    A code line is one with code on it: blank lines, comments and docstrings
    do not count. A line counts as written by the learner when it sits in a
    solution region of an export cell (a lesson exercise or an assignment
    answer).
    """
    rows = []
    for module in course.modules:
        written = total = 0
        for nb in module.notebooks:
            for exported in render_exports(course, nb, nb.source_path(course.root)):
                code = _code_lines(exported.text)
                total += len(code)
                written += len(code & exported.written_lines)
        rows.append(ShareRow(module.slug, written, total))
    return rows


def _code_lines(text: str) -> set[int]:
    """Line numbers with code on them: not blank, not only a comment, not a docstring."""
    import ast
    import io
    import tokenize

    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings |= set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip:
            lines |= set(range(token.start[0], token.end[0] + 1))
    return lines - docstrings


def generate_student_versions(course: Course, release_dir: Path) -> list[Path]:
    """Run nbgrader's generate step for every module with assignments.

    Parameters
    ----------
    course : Course
        The loaded manifest.
    release_dir : Path
        Where the student versions go (``assignments/`` or a scratch folder).

    Returns
    -------
    list of Path
        The generated notebooks.

    Raises
    ------
    BuildError
        If nbgrader refuses a source notebook (its message is passed on).
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config_file = course.root / "nbgrader_config.py"
    if config_file.is_file():
        config.merge(PyFileConfigLoader(config_file.name, path=str(course.root)).load_config())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.release_directory = str(release_dir.resolve())
    config.GenerateAssignment.no_database = True  # nbgrader's --no-db flag: both settings
    config.SaveCells.enabled = False
    config.GenerateAssignment.force = True

    written: list[Path] = []
    for module in course.modules:
        if not module.assignments:
            continue
        config.CourseDirectory.assignment_id = module.slug
        coursedir = CourseDirectory(config=config)
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        converter.log.setLevel(logging.ERROR)
        try:
            converter.start()
        except Exception as exc:  # nbgrader raises NbGraderException and RuntimeError alike
            raise BuildError(
                f"nbgrader could not generate {module.slug} from solutions/{module.slug}: {exc}; "
                "fix the source notebook's nbgrader cells"
            ) from None
        for nb in module.assignments:
            path = release_dir / module.slug / nb.name
            if not path.is_file():
                raise BuildError(f"nbgrader did not produce {path}; check solutions/{module.slug}/{nb.name}")
            written.append(path)
    return written


def render_reference_package(course: Course) -> dict[str, str]:
    """The reference package as ``{relative path: text}``, without writing it."""
    files: dict[str, str] = {}
    owned = {target for nb in course.notebooks for target in nb.exports}
    for path in sorted(course.package_dir.rglob("*")):
        rel = path.relative_to(course.package_dir).as_posix()
        # Skeleton files only: a learner's *.mine and *.bak copies, or anything else left beside them, are not.
        skeleton = path.suffix in _SKELETON_SUFFIXES and "__pycache__" not in rel
        if path.is_file() and skeleton and rel not in owned:
            files[rel] = path.read_text(encoding="utf-8")
    for nb in course.notebooks:
        for exported in render_exports(course, nb, nb.source_path(course.root)):
            files[exported.target] = exported.text
    return files


_TABLE_START = "<!-- modules:start (generated from course.toml by `ds2mle build`) -->"
_TABLE_END = "<!-- modules:end -->"


def render_module_table(course: Course) -> str:
    """The README's module table (module, skill gap, lessons, package files), from the manifest."""
    lines = [
        "| module | skill gap | lessons | graded | package files (owning notebook) |",
        "|---|---|---|---|---|",
    ]
    for module in course.modules:
        lessons = "<br>".join(nb.stem for nb in module.lessons) or "coming soon"
        graded = "<br>".join(f"{nb.stem} ({nb.points:g} pts)" for nb in module.assignments) or "-"
        files = "<br>".join(f"`{t}` ({nb.stem})" for nb in module.notebooks for t in nb.exports) or "-"
        lines.append(f"| {module.id} {module.title} | {module.skill_gap} | {lessons} | {graded} | {files} |")
    return "\n".join(lines)


def _readme_with_table(course: Course) -> tuple[Path, str, str]:
    readme = course.root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if _TABLE_START not in text or _TABLE_END not in text:
        return readme, text, text
    head, rest = text.split(_TABLE_START, 1)
    _, tail = rest.split(_TABLE_END, 1)
    return readme, text, f"{head}{_TABLE_START}\n{render_module_table(course)}\n{_TABLE_END}{tail}"


def build(course: Course) -> list[Path]:
    """Regenerate ``assignments/`` and the reference package in place.

    Returns
    -------
    list of Path
        Every file written.
    """
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="ds2mle-build-") as scratch:
        generated = generate_student_versions(course, Path(scratch))
        for path in generated:
            rel = path.relative_to(scratch)
            target = course.root / "assignments" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(target)
    for path, nb in render_learner_lessons(course).items():
        if not path.is_file() or _canonical(path) != _canonical_node(nb):
            write_notebook(nb, path)
        written.append(path)
    reference = render_reference_package(course)
    for name, text in reference.items():
        target = course.reference_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        written.append(target)
    for stale in _files(course.reference_dir):
        if stale.relative_to(course.reference_dir).as_posix() not in reference:
            stale.unlink()
            logger.info("removed stale %s", stale)
    readme, old, new = _readme_with_table(course)
    if new != old:
        readme.write_text(new, encoding="utf-8")
        written.append(readme)
    return written


def check(course: Course) -> list[str]:
    """Every way the committed course differs from what ``build`` would write.

    Returns
    -------
    list of str
        One line per problem; empty when everything is in sync.
    """
    problems: list[str] = []
    problems += _check_notebooks_listed_and_clean(course)
    problems += _check_points(course)
    _, old_readme, new_readme = _readme_with_table(course)
    if old_readme != new_readme:
        problems.append("README.md's module table differs from course.toml; run `ds2mle build`")
    with tempfile.TemporaryDirectory(prefix="ds2mle-check-") as scratch:
        for path in generate_student_versions(course, Path(scratch)):
            rel = path.relative_to(scratch)
            committed = course.root / "assignments" / rel
            if not committed.is_file():
                problems.append(f"assignments/{rel.as_posix()} is missing; run `ds2mle build`")
            elif _canonical(committed) != _canonical(path):
                problems.append(f"assignments/{rel.as_posix()} is out of date with solutions/; run `ds2mle build`")
    for path, nb in render_learner_lessons(course).items():
        lesson = path.relative_to(course.root).as_posix()
        if not path.is_file():
            problems.append(f"{lesson} is missing; run `ds2mle build`")
        elif _canonical(path) != _canonical_node(nb):
            problems.append(f"{lesson} is out of date with solutions/{lesson}; run `ds2mle build`")
    reference = render_reference_package(course)
    ref_rel = course.reference_dir.relative_to(course.root).as_posix()
    for name, text in reference.items():
        committed = course.reference_dir / name
        if not committed.is_file():
            problems.append(f"{ref_rel}/{name} is missing; run `ds2mle build`")
        elif committed.read_text(encoding="utf-8") != text:
            problems.append(f"{ref_rel}/{name} differs from the export of its notebook; run `ds2mle build`")
    for path in _files(course.reference_dir):
        name = path.relative_to(course.reference_dir).as_posix()
        if name not in reference:
            problems.append(f"{ref_rel}/{name} is not produced by any notebook; run `ds2mle build` to remove it")
    return problems


def _check_notebooks_listed_and_clean(course: Course) -> list[str]:
    problems = []
    listed = {nb.source_path(course.root).resolve() for nb in course.notebooks}
    listed |= {nb.student_path(course.root).resolve() for nb in course.notebooks}
    for top in _NOTEBOOK_DIRS:
        for path in sorted((course.root / top).rglob("*.ipynb")):
            rel = path.relative_to(course.root).as_posix()
            if ".ipynb_checkpoints" in rel:
                continue
            if path.resolve() not in listed:
                problems.append(f"{rel} is not listed in {MANIFEST_NAME}; add it or delete it")
            problems += [f"{rel}: {p}; clear it with `ds2mle clean {rel}`" for p in cleanliness_problems(read_notebook(path))]
    return problems


def _check_points(course: Course) -> list[str]:
    from nbgrader import utils

    problems = []
    for nb in course.notebooks:
        if nb.kind != "assignment":
            continue
        source = read_notebook(nb.source_path(course.root))
        total = sum(float(cell.metadata.nbgrader.get("points", 0)) for cell in source.cells if utils.is_grade(cell))
        if abs(total - (nb.points or 0)) > 1e-9:
            problems.append(
                f"{nb.label}: {MANIFEST_NAME} says {nb.points:g} points but its grade cells add up to {total:g}; "
                "make them agree"
            )
    return problems


def _canonical(path: Path) -> str:
    return json.dumps(read_notebook(path), sort_keys=True)


def _canonical_node(nb: NotebookNode) -> str:
    """The same text :func:`_canonical` gives once ``nb`` is written and read back."""
    import nbformat

    return json.dumps(nbformat.reads(nbformat.writes(nb), as_version=4), sort_keys=True)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
