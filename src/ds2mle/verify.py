"""``ds2mle verify``: run every notebook of the course, as a learner would.

Everything runs in a scratch copy of the repository, with its
``src/fraudguard`` reset to the skeleton, so the check cannot be helped by
files a maintainer exported by hand. Kernels see the scratch copy first on
``PYTHONPATH``.

1. Every lesson source (``solutions/course/``) and every solution notebook
   (``solutions/assignments/``) is executed with papermill, in manifest
   order. A notebook's own ``#| export`` cells are exported into the scratch
   package just before it runs, so a lesson may import what it has just
   written, and later notebooks import what earlier ones built
   (progressive extraction).
2. In the same kernel, after a lesson's source has run, each exercise is
   probed: the learner's stub of the exercise cell, then its check cell,
   which must fail with the check's sentence (so the check can fail), then
   the solution again. No extra kernel per exercise.
3. Each notebook runs in its own copy of the scratch course whose package
   holds exactly what the learner's holds when they reach it: the exports of
   every notebook up to it, none after. So no notebook waits for another,
   and all the checks (sources, learner copies, student versions) share one
   pool of ``-j`` workers, longest first.
4. The learner's copy of every lesson with exercises (``course/``) runs to
   the end with the whole reference package in place: what a learner who
   ran ``ds2mle catch-up`` gets. (Exercise files outside the package, such
   as ``%%writefile`` cells, are taken from the source: catch-up does not
   write them.)
5. Every student version (``assignments/``) must fail exactly its own
   autograded tests (nbgrader's ``Validator``, because ``nbgrader validate``
   exits 0 even when tests fail) and must autograde to zero without crashing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nbformat

from ds2mle.export import export_notebook
from ds2mle.lessons import exercises, learner_copy
from ds2mle.manifest import Course, NotebookEntry, load_course
from ds2mle.notebooks import read_notebook

__all__ = ["CheckResult", "package_states", "render_report", "verify"]

_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".ds2mle", "gradebook.db", "*.egg-info",
    ".pytest_cache", ".mypy_cache", "benchmarks", "tests", "docs",
)


@dataclass(frozen=True)
class CheckResult:
    """One line of the verify report."""

    label: str
    kind: str
    ok: bool
    seconds: float
    error: str = ""


def package_states(notebooks: tuple[NotebookEntry, ...]) -> list[tuple[NotebookEntry, ...]]:
    """For each notebook, the notebooks whose exports its package holds when it runs.

    They are every notebook up to and including it that exports package
    files: what a learner who worked through the course in order has
    exported by then, and nothing a later notebook writes.

    Examples
    --------
    >>> from ds2mle.manifest import NotebookEntry
    >>> def nb(name, exports=()):
    ...     return NotebookEntry("00-x", "lesson", name, tuple(exports), None, 0)
    >>> [[e.name for e in s] for s in package_states((nb("a"), nb("b", ["m.py"]), nb("c"), nb("d", ["n.py"])))]
    [[], ['b'], ['b'], ['b', 'd']]
    """
    states: list[tuple[NotebookEntry, ...]] = []
    exporters: tuple[NotebookEntry, ...] = ()
    for nb in notebooks:
        if nb.exports:
            exporters = (*exporters, nb)
        states.append(exporters)
    return states


def verify(
    course: Course,
    *,
    jobs: int = 2,
    modules: list[str] | None = None,
    cell_timeout: int = 600,
    on_result: Callable[[CheckResult], None] | None = None,
    changed_only: bool = False,
) -> list[CheckResult]:
    """Run the checks above and return one result per notebook check.

    Parameters
    ----------
    course : Course
        The manifest of the repository to verify (it is copied, not changed).
    jobs : int, default 2
        Checks run at once.
    modules : list of str, optional
        Only these modules (ids or slugs). Their notebooks still see the
        package files every earlier notebook exports.
    cell_timeout : int, default 600
        Seconds one cell may run.
    on_result : callable, optional
        Called with each result as soon as it is known (for live output).
    changed_only : bool, default False
        Skip a check that passed before on exactly the same inputs: the
        notebook, the package files it uses (and theirs, transitively) and
        the course tooling a notebook runs (the simulator, checks). Results
        are kept in ``.ds2mle/verify.json`` in the course root. For local use;
        CI runs everything.
    """
    cache = _InputCache(course) if changed_only else None
    wanted = {course.module(key).slug for key in modules} if modules else None
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="ds2mle-verify-") as scratch_name:
        copies, refused = _package_copies(course, Path(scratch_name))
        final = copies[-1]
        notebooks = final.notebooks
        for nb in notebooks:
            if refused.get(nb.label) and (wanted is None or nb.module_slug in wanted):
                results.append(CheckResult(nb.label, _kind(nb), False, 0.0, refused[nb.label]))
                if on_result is not None:
                    on_result(results[-1])
        # (order, check): the report keeps this order; the pool takes the longest kinds first
        checks: list[tuple[int, Callable[[], CheckResult]]] = []
        source = _cached(cache, _kind, lambda n: _run_notebook(copies[_state(notebooks, n)], n, cell_timeout))
        learner = _cached(cache, lambda _: "learner", lambda n: _run_learner_copy(final, n, cell_timeout))
        student = _cached(cache, lambda _: "student", lambda n: _check_student(final, n, cell_timeout))
        for nb in notebooks:
            if (wanted is None or nb.module_slug in wanted) and not refused.get(nb.label):
                checks.append((len(checks), partial(source, nb)))
        for nb in notebooks:
            if nb.kind == "lesson" and (wanted is None or nb.module_slug in wanted) and _has_exercises(final, nb):
                checks.append((len(checks), partial(learner, nb)))
        students = [nb for nb in notebooks if nb.kind == "assignment" and (wanted is None or nb.module_slug in wanted)]
        # A student check runs its notebook twice (nbgrader's validator, then the autograder): start those first,
        # so the last check to finish is a short one and neither worker idles at the end.
        queue = [(len(checks) + i, partial(student, nb)) for i, nb in enumerate(students)] + checks
        done: dict[int, CheckResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(run): order for order, run in queue}
            for future in as_completed(futures):
                done[futures[future]] = result = future.result()
                if on_result is not None:
                    on_result(result)
        results.extend(done[order] for order in sorted(done))
    if cache is not None:
        cache.save()
    return results


class _InputCache:
    """Fingerprints of each check's inputs, and which passed on them (``verify --changed``)."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self.path = course.root / ".ds2mle" / "verify.json"
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        self.passed: dict[str, str] = stored if isinstance(stored, dict) else {}
        self.tooling = _hash_files(sorted((course.root / "src" / "ds2mle").rglob("*.py")))
        from ds2mle.build import render_reference_package

        self.reference = render_reference_package(course)  # from the sources, so an unbuilt edit counts

    def key(self, nb: NotebookEntry, kind: str) -> str:
        """The fingerprint of one check of ``nb``: any change to its inputs changes it."""
        texts = [self.tooling, kind, nb.source_path(self.course.root).read_text(encoding="utf-8")]
        if kind == "student":
            texts.append(nb.student_path(self.course.root).read_text(encoding="utf-8"))
        for name in sorted(self._package_files(texts[2]) | set(nb.exports)):
            texts.append(f"{name}\n{self.reference.get(name, '')}")
        return hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()

    def _package_files(self, text: str) -> set[str]:
        """The reference package files ``text`` imports, and the ones they import, transitively."""
        package = self.course.package
        pattern = re.compile(rf"(?:from|import)\s+{package}\.(\w+)|from\s+{package}\s+import\s+([\w, ]+)")
        found: set[str] = set()
        todo = [text]
        while todo:
            for match in pattern.finditer(todo.pop()):
                names = [match.group(1)] if match.group(1) else [n.strip() for n in match.group(2).split(",")]
                for name in names:
                    file = f"{name}.py"
                    if file in self.reference and file not in found:
                        found.add(file)
                        todo.append(self.reference[file])
        return found

    def fresh(self, nb: NotebookEntry, kind: str) -> bool:
        return self.passed.get(f"{nb.label} {kind}") == self.key(nb, kind)

    def remember(self, nb: NotebookEntry, result: CheckResult) -> None:
        if result.ok:
            self.passed[f"{nb.label} {result.kind}"] = self.key(nb, result.kind)
        else:
            self.passed.pop(f"{nb.label} {result.kind}", None)

    def save(self) -> None:
        self.path.parent.mkdir(exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.passed, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _cached(
    cache: _InputCache | None, kind_of: Callable[[NotebookEntry], str], run: Callable[[NotebookEntry], CheckResult]
) -> Callable[[NotebookEntry], CheckResult]:
    """``run``, unless the cache says the same check passed on the same inputs."""
    if cache is None:
        return run

    def maybe(nb: NotebookEntry) -> CheckResult:
        if cache.fresh(nb, kind_of(nb)):
            return CheckResult(nb.label, kind_of(nb), True, 0.0, "unchanged since it last passed: skipped")
        result = run(nb)
        cache.remember(nb, result)
        return result

    return maybe


def render_report(results: list[CheckResult], *, total_seconds: float) -> str:
    """The per-notebook report that ``ds2mle verify`` prints."""
    width = max([len(r.label) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  {'check':<9} {'status':<6} {'seconds':>7}  first error"]
    for r in results:
        status = "ok" if r.ok else "FAIL"
        lines.append(f"{r.label:<{width}}  {r.kind:<9} {status:<6} {r.seconds:7.1f}  {r.error}")
    failed = sum(not r.ok for r in results)
    lines.append(
        f"{len(results)} checks, {len(results) - failed} passed, {failed} failed in {total_seconds:.1f} s"
    )
    return "\n".join(lines)


def _package_copies(course: Course, scratch: Path) -> tuple[list[Course], dict[str, str]]:
    """One scratch copy of the course per package state (see :func:`package_states`).

    The first copy's ``src/fraudguard`` is the skeleton (every notebook-owned
    file removed, so nothing a maintainer exported by hand helps); each
    exporting notebook adds a copy with its files exported on top of the
    previous one. Returns the copies, in order, and the reason each refused
    export was refused.
    """
    base = scratch / "s00" / "course"
    shutil.copytree(course.root, base, ignore=_COPY_IGNORE)
    copies = [load_course(base)]
    for nb in copies[0].notebooks:
        for target in nb.exports:
            (copies[0].package_dir / target).unlink(missing_ok=True)
    refused: dict[str, str] = {}
    for nb in copies[0].notebooks:
        if nb.exports:
            root = scratch / f"s{len(copies):02d}" / "course"
            shutil.copytree(copies[-1].root, root, symlinks=True)
            copies.append(load_course(root))
            refused[nb.label] = _export(copies[-1], nb)
    return copies, refused


def _state(notebooks: tuple[NotebookEntry, ...], nb: NotebookEntry) -> int:
    """Index of the copy ``nb`` runs in: how many notebooks up to it export files."""
    return sum(1 for other in notebooks[: notebooks.index(nb) + 1] if other.exports)


def _kernel_env(course: Course) -> dict[str, str]:
    """The environment of a check run in ``course``: kernels and subprocesses see its package first."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DS2MLE_ROOT")}
    env["PYTHONPATH"] = os.pathsep.join([str(course.root / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["DS2MLE_ROOT"] = str(course.root)
    env["MPLBACKEND"] = "Agg"
    return env


def _kind(nb: NotebookEntry) -> str:
    return "lesson" if nb.kind == "lesson" else "solution"


def _has_exercises(course: Course, nb: NotebookEntry) -> bool:
    return bool(exercises(read_notebook(nb.source_path(course.root))))


def _run_notebook(course: Course, nb: NotebookEntry, cell_timeout: int) -> CheckResult:
    """Run a source notebook; a lesson's exercises are probed at its end, in the same kernel."""
    path = nb.source_path(course.root)
    source = read_notebook(path)
    if nb.kind == "lesson" and exercises(source):
        probed = path.with_name(f".verify-probed-{path.name}")
        nbformat.write(with_probes(source), str(probed))
        path = probed
    return _papermill(nb.label, _kind(nb), path, cwd=nb.source_path(course.root).parent, cell_timeout=cell_timeout,
                      env=_kernel_env(course))


def _run_learner_copy(course: Course, nb: NotebookEntry, cell_timeout: int) -> CheckResult:
    """Run the learner's copy of a lesson with the reference package in place (after catch-up)."""
    source = read_notebook(nb.source_path(course.root))
    copy = learner_copy(source)
    for exercise in exercises(source):
        if source.cells[exercise.cell].source.startswith("%%writefile"):
            copy.cells[exercise.cell].source = source.cells[exercise.cell].source  # catch-up writes no such file
    path = nb.student_path(course.root)
    path = path.with_name(f".verify-learner-{path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, str(path))
    return _papermill(nb.label, "learner", path, cwd=path.parent, cell_timeout=cell_timeout, env=_kernel_env(course))


def with_probes(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``source`` with one cell appended per exercise that probes its check against the stub.

    The probe (:func:`ds2mle.checks._probe`) runs the learner's stub of the
    exercise cell, then the check cell, which must fail with
    :class:`~ds2mle.checks.CheckFailed`, then the solution cell again.
    """
    import copy as _copy

    stubbed = learner_copy(source)
    out = _copy.deepcopy(source)
    for exercise in exercises(source):
        call = (
            "from ds2mle.checks import _probe\n\n"
            f"_probe(\n    exercise={json.dumps(exercise.id)},\n"
            f"    stub={json.dumps(stubbed.cells[exercise.cell].source)},\n"
            f"    check_code={json.dumps(source.cells[exercise.check_cell].source)},\n"
            f"    solution={json.dumps(source.cells[exercise.cell].source)},\n)"
        )
        cell = nbformat.v4.new_code_cell(call)
        cell.metadata["tags"] = ["ds2mle-probe"]
        out.cells.append(cell)
    return out


def _papermill(label: str, kind: str, path: Path, *, cwd: Path, cell_timeout: int, env: dict[str, str]) -> CheckResult:
    out = path.with_name(f".verify-out-{path.name.removeprefix('.verify-')}")
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable, "-m", "papermill", str(path), str(out),
            "--kernel", "python3", "--cwd", str(cwd),
            "--execution-timeout", str(cell_timeout), "--no-progress-bar", "--no-log-output",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    seconds = time.perf_counter() - started
    if proc.returncode == 0:
        return CheckResult(label, kind, True, seconds)
    error = _first_error(out) or _last_line(proc.stderr) or f"papermill exited {proc.returncode}"
    return CheckResult(label, kind, False, seconds, error)


def _export(course: Course, nb: NotebookEntry) -> str:
    """Export a notebook's cells before it runs; the reason it was refused, or ``""``."""
    try:
        export_notebook(course, nb.source_path(course.root))
    except Exception as exc:  # noqa: BLE001 - reported in the table instead of aborting the whole run
        return f"export failed: {exc}"
    return ""


def _check_student(course: Course, nb: NotebookEntry, cell_timeout: int) -> CheckResult:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ds2mle._student_check", str(course.root), nb.label, str(cell_timeout)],
        capture_output=True,
        text=True,
        check=False,
        env=_kernel_env(course),
    )
    seconds = time.perf_counter() - started
    try:
        verdict = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return CheckResult(nb.label, "student", False, seconds, _last_line(proc.stderr) or "student check crashed")
    return CheckResult(nb.label, "student", bool(verdict["ok"]), seconds, str(verdict.get("error", "")))


def _first_error(path: Path) -> str:
    try:
        nb = read_notebook(path)
    except Exception:  # no output notebook: papermill failed before running
        return ""
    # Number cells as in the source notebook: skip the cells papermill inserts.
    inserted = {"papermill-error-cell-tag", "injected-parameters"}
    cells = [c for c in nb.cells if not inserted & set(c.get("metadata", {}).get("tags", []))]
    for index, cell in enumerate(cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                value = str(output.get("evalue", "")).strip().splitlines()
                return f"cell {index}: {output.get('ename')}: {value[0] if value else ''}"[:200]
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
