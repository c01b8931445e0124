"""Exercise checks and preflight for lesson notebooks.

A lesson's exercise cell is followed by a visible check cell. The check is a
small function whose parameters name what it tests; the decorator runs it at
once on the names the learner's notebook defines::

    from ds2mle.checks import check, expect

    @check("split_by_time", module="fraudguard.splits")
    def _(split_by_time):
        train, test = split_by_time(frame, test_fraction=0.25)
        expect(len(test) == 25, f"the test set has {len(test)} rows; test_fraction=0.25 of 100 rows is 25")

When the check fails, the learner sees one sentence (:class:`CheckFailed`
renders without a traceback in Jupyter), never a bare ``AssertionError``:

- ``expect`` failures show their own sentence;
- a TODO stub (``NotImplementedError``) says the exercise is not written yet,
  with the stub's own sentence;
- any other exception shows the line of the learner's code that raised it.

When the notebook's function is still a stub but the package already has a
working one (``ds2mle catch-up`` dropped in the reference, or the learner
exported earlier), the check runs on the package's function instead, says
so, and binds that name in the notebook so the rest of the lesson runs.

A passing check is recorded in ``.ds2mle/progress.json`` with a hash of the
code it passed on; ``ds2mle status`` counts the exercise as done while that
code is in ``src/fraudguard``.

:func:`preflight` is the first call of a lesson that builds on earlier
package files: it checks that each is importable, defines what the lesson
needs and is no longer a stub, and prints the exact command that fixes
each gap.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import linecache
import os
import sys
import textwrap
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import CodeType, FunctionType
from typing import Any

__all__ = [
    "CheckFailed",
    "PreflightFailed",
    "check",
    "code_hash",
    "expect",
    "preflight",
]

STUB_PREFIX = "TODO: "
"""Every generated stub raises ``NotImplementedError("TODO: ...")``."""

_state = {"fallback": True, "record": True}


class CheckFailed(AssertionError):
    """An exercise's check failed; the message is one sentence the learner can act on."""

    def __init__(self, exercise: str, sentence: str, *, package_file: str | None = None) -> None:
        super().__init__(f"{exercise}: {sentence}")
        self.exercise = exercise
        self.sentence = sentence
        self.package_file = package_file

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        target = self.package_file or "<file>"
        return [
            f"\x1b[31m✗ check {self.exercise!r} failed:\x1b[0m {self.sentence}",
            "  Fix the exercise cell above, run it, then run this check again. Stuck? Open the hints,",
            f"  or drop in the reference with `ds2mle catch-up {target}` (your own file is kept as *.mine).",
        ]


class PreflightFailed(RuntimeError):
    """A package file the lesson builds on is missing, broken or unfinished."""

    def __init__(self, gaps: list[str]) -> None:
        super().__init__("; ".join(gaps))
        self.gaps = gaps

    def _render_traceback_(self) -> list[str]:
        return [
            "\x1b[31m✗ preflight: this lesson builds on package files that are not ready:\x1b[0m",
            *(f"  - {gap}" for gap in self.gaps),
            "  Save your notebooks before exporting, then restart this kernel (Kernel > Restart) and run again.",
        ]


class _Unmet(Exception):
    """Raised by :func:`expect`; turned into :class:`CheckFailed` by :func:`check`."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def expect(condition: object, sentence: str) -> None:
    """Require ``condition``; otherwise fail the check with ``sentence``.

    Parameters
    ----------
    condition : object
        Anything truthy passes.
    sentence : str
        What is wrong, in words a learner can act on: what was found, what
        was expected. Shown as the check's failure.

    Examples
    --------
    >>> expect(1 + 1 == 2, "arithmetic is broken")
    >>> expect(False, "the test set is empty")
    Traceback (most recent call last):
    ...
    ds2mle.checks._Unmet: the test set is empty
    """
    if not condition:
        raise _Unmet(sentence)


@dataclass(frozen=True)
class _Outcome:
    names: dict[str, Any]
    via_package: tuple[str, ...]


def check(exercise: str, *, module: str | None = None) -> Callable[[Callable[..., object]], _Outcome]:
    """Run the decorated function now, as the check of ``exercise``.

    Parameters
    ----------
    exercise : str
        The exercise's id, shown in the messages and in ``ds2mle status``.
    module : str, optional
        The package module the exercise writes (``"fraudguard.splits"``).
        Names the notebook does not define, or defines only as a stub, are
        taken from it.

    Returns
    -------
    callable
        The decorator. It returns a small record of what was checked; the
        check cell needs nothing from it.

    Raises
    ------
    CheckFailed
        With one sentence naming what is wrong.
    """

    def run(fn: Callable[..., object]) -> _Outcome:
        try:
            return _run_check(fn, sys._getframe(1).f_globals)
        except CheckFailed as failed:
            if module is not None and failed.package_file is None:
                failed.package_file = module.partition(".")[2].replace(".", "/") + ".py"
            raise

    def _run_check(fn: Callable[..., object], caller: dict[str, Any]) -> _Outcome:
        params = list(inspect.signature(fn).parameters)
        names = {p: caller[p] for p in params if p in caller}
        missing = [p for p in params if p not in names]
        package = _import_package(module) if missing else None
        for p in missing:
            if package is None or not hasattr(package, p):
                raise CheckFailed(exercise, f"`{p}` is not defined yet: run the exercise cell above first")
            names[p] = getattr(package, p)
        via: tuple[str, ...] = tuple(missing)
        try:
            _run(fn, names)
        except NotImplementedError as exc:
            if _state["fallback"] and package is None:
                package = _import_package(module)
            swapped = _package_versions(package, names) if _state["fallback"] else {}
            if not swapped:
                raise CheckFailed(exercise, _not_written(exc)) from None
            names.update(swapped)
            caller.update(swapped)  # the notebook's other functions call these by name: give them the working ones
            via = tuple(sorted(set(via) | set(swapped)))
            try:
                _run(fn, names)
            except _Unmet as unmet:
                raise CheckFailed(exercise, f"(package version of {', '.join(swapped)}) {unmet.sentence}") from None
            except NotImplementedError as again:
                raise CheckFailed(exercise, _not_written(again)) from None
        except _Unmet as unmet:
            raise CheckFailed(exercise, unmet.sentence) from None
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any crash of the learner's code becomes one sentence
            raise CheckFailed(exercise, _describe_crash(exc)) from None
        if via:
            where = module or "the package"
            print(f"✓ {exercise}: passes, using {', '.join(via)} from {where} (your cell above is still a TODO)")
        else:
            print(f"✓ {exercise}: all checks pass")
        _record(exercise, module=module, names=names, via_package=via)
        return _Outcome(names, via)

    return run


def _run(fn: Callable[..., object], names: dict[str, Any]) -> None:
    fn(**names)


def _import_package(module: str | None) -> Any:
    """Import ``module``, or None when it is missing, does not parse or fails to import.

    An already imported module is used as it is, never reloaded: reloading
    would make new classes, and ``isinstance`` checks against the old ones
    would then fail in confusing ways. After ``ds2mle export`` or
    ``ds2mle catch-up``, restart the kernel.
    """
    if module is None:
        return None
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a missing, unparsable or unfinished package file means no fallback
        return None


def _is_stub(obj: object) -> bool:
    """Is ``obj`` a function (or a class with a method) whose body raises the generated TODO stub?

    Read from the code object, so it works for functions defined in notebook
    cells as well as in files.
    """
    if isinstance(obj, type):
        return any(_is_stub(member) for member in vars(obj).values())
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    if isinstance(obj, property):
        return any(_is_stub(f) for f in (obj.fget, obj.fset) if f is not None)
    wrapped = getattr(obj, "__wrapped__", None)  # functools.wraps: @contextmanager, @lru_cache, ...
    if wrapped is not None and wrapped is not obj and _is_stub(wrapped):
        return True
    code = getattr(obj, "__code__", None)
    return isinstance(obj, FunctionType) and code is not None and _code_is_stub(code)


def _code_is_stub(code: CodeType) -> bool:
    for const in code.co_consts:
        if isinstance(const, str) and const.startswith(STUB_PREFIX) and "NotImplementedError" in code.co_names:
            return True
        if isinstance(const, CodeType) and _code_is_stub(const):
            return True
    return False


def _package_versions(package: Any, names: dict[str, Any]) -> dict[str, Any]:
    """Working package functions to use in place of the notebook's stubs."""
    if package is None:
        return {}
    swapped = {}
    for name, value in names.items():
        if _is_stub(value):
            candidate = getattr(package, name, None)
            if candidate is None or _is_stub(candidate):
                return {}
            swapped[name] = candidate
    return swapped


def _not_written(exc: NotImplementedError) -> str:
    text = str(exc).removeprefix(STUB_PREFIX).strip()
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    name = f"`{frame.name}`" if frame is not None and frame.name != "<module>" else "the exercise"
    return f"{name} is not written yet" + (f": {text}" if text else "")


def _describe_crash(exc: BaseException) -> str:
    """Name the exception and the learner's line that raised it (not the check's own line)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = Path(__file__).resolve()
    learner = [f for f in frames if Path(f.filename).resolve() != own]
    frame = learner[-1] if learner else (frames[-1] if frames else None)
    where = ""
    if frame is not None:
        line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        place = "a notebook cell" if "ipykernel" in frame.filename or frame.filename.startswith("<") else Path(
            frame.filename
        ).name
        where = f" in `{frame.name}` (line {frame.lineno} of {place}: `{line}`)"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"your code raised {type(exc).__name__}{': ' + message if message else ''}{where}"


def code_hash(source: str) -> str:
    """A short hash of a function's source, insensitive to indentation and trailing blanks.

    Examples
    --------
    >>> code_hash("def f():\\n    return 1\\n") == code_hash("    def f():\\n        return 1")
    True
    """
    lines = [line.rstrip() for line in textwrap.dedent(source).strip("\n").splitlines()]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def _function_hashes(names: dict[str, Any]) -> dict[str, str]:
    hashes = {}
    for name, value in names.items():
        if isinstance(value, FunctionType | type):
            try:
                hashes[name] = code_hash(inspect.getsource(value))
            except (OSError, TypeError):
                continue
    return hashes


def _progress_file() -> Path | None:
    root = os.environ.get("DS2MLE_ROOT")
    start = Path(root) if root else Path.cwd()
    for folder in (start, *start.parents):
        if (folder / "course.toml").is_file():
            return folder / ".ds2mle" / "progress.json"
    return None


def _record(exercise: str, *, module: str | None, names: dict[str, Any], via_package: tuple[str, ...]) -> None:
    """Remember a passing check; a failure to write never fails the check."""
    if not _state["record"]:
        return
    path = _progress_file()
    if path is None:
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not isinstance(data, dict):
            data = {}
        passed = data.setdefault("exercises", {})
        passed[exercise] = {
            "module": module,
            "functions": _function_hashes({k: v for k, v in names.items() if k not in via_package}),
            "caught_up": list(via_package),
            "at": datetime.now(UTC).isoformat(),
        }
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except (OSError, ValueError):
        pass


def preflight(*needs: str) -> None:
    """Check the package files a lesson builds on; print the command that fixes each gap.

    Parameters
    ----------
    *needs : str
        ``"module.name"`` pairs relative to the package, for example
        ``"splits.split_by_time"`` or ``"data.load_transactions"``.

    Raises
    ------
    PreflightFailed
        Listing every gap at once, each with its fix.
    """
    from ds2mle.manifest import load_course

    course = load_course()
    gaps: list[str] = []
    ok: list[str] = []
    by_module: dict[str, list[str]] = {}
    for need in needs:
        module, _, name = need.rpartition(".")
        by_module.setdefault(module, []).append(name)
    for module, names in by_module.items():
        target = f"{module.replace('.', '/')}.py"
        owner = course.owner_of(target)
        fix = _fix_command(course, target)
        where = f"{course.package}/{target}" + (f" (written in {owner.label})" if owner else "")
        path = course.package_dir / target
        if not path.is_file():
            gaps.append(f"{where} does not exist: {fix}")
            continue
        try:
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            gaps.append(f"{where} does not parse (line {exc.lineno}: {exc.msg}): {fix}")
            continue
        loaded = _import_package(f"{course.package}.{module}")
        if loaded is None:
            gaps.append(f"{where} fails to import: {fix}")
            continue
        for name in names:
            value = getattr(loaded, name, None)
            if value is None:
                gaps.append(f"{where} has no `{name}`: {fix}")
            elif _is_stub(value):
                gaps.append(f"`{name}` in {where} is still a TODO stub: {fix}")
            else:
                ok.append(f"{module}.{name}")
    if gaps:
        raise PreflightFailed(gaps)
    print(f"✓ preflight: {', '.join(ok)} ready in {course.package}")


def _fix_command(course: Any, target: str) -> str:
    owner = course.owner_of(target)
    if owner is None:
        return f"`ds2mle catch-up {target}`"
    student = owner.student_path(course.root).relative_to(course.root).as_posix()
    return f"finish and save {student}, then `ds2mle export {student}`; or `ds2mle catch-up {target}`"


def _probe(*, exercise: str, stub: str, check_code: str, solution: str) -> None:
    """``ds2mle verify``: in this kernel, the stub must fail its check with a sentence.

    Runs the learner's stub of an exercise cell, then its check cell (which
    must raise :class:`CheckFailed` for ``exercise``), then restores the
    solution. No package fallback and no progress records while probing.
    The cells run in the kernel's namespace with their magics expanded, but
    nothing is displayed: an expected failure must not show as an error.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("_probe runs inside an IPython kernel")

    def run(code: str, label: str) -> None:
        exec(compile(shell.transform_cell(code), f"<{label} of {exercise}>", "exec"), shell.user_ns)  # noqa: S102

    _state.update(fallback=False, record=False)
    try:
        try:
            run(stub, "the stub")
        except Exception as exc:  # noqa: BLE001 - reported as the probe's failure
            raise AssertionError(f"exercise {exercise}: the learner's stub cell itself raises {exc!r}") from None
        try:
            run(check_code, "the check")
        except CheckFailed as failed:
            print(f"probe {exercise}: the stub fails its check with: {failed.sentence}")
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"exercise {exercise}: on the stub, the check fails with {exc!r}, not a sentence") from None
        else:
            raise AssertionError(f"exercise {exercise}: its check passes on the TODO stub, so it cannot fail")
    finally:
        _state.update(fallback=True, record=True)
        run(solution, "the solution")
