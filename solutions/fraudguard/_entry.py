"""The ``fraudguard`` command's entry point, a hand-written skeleton file that no notebook owns.

``pyproject.toml`` points the console script here, not at :func:`fraudguard.cli.main`, because
``fraudguard/cli.py`` only exists once you have written it in module 01, lesson
03-logging-and-a-cli. Until then ``fraudguard --help`` says so in one line instead of a
``ModuleNotFoundError``. Afterwards it runs :func:`fraudguard.cli.main`, which handles its own
errors, and adds two things: the commands later modules declare (the ``fraudguard.commands``
entry-point group), and a command that reaches an exercise you have not finished yet (a stub
that raises ``NotImplementedError``) ends in one line that says which file and line, not a traceback.

Like the rest of fraudguard, this file imports nothing of the course's tooling.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

__all__ = ["main"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_CLI_MISSING = (
    "fraudguard has no command line yet: module 01, lesson 03-logging-and-a-cli writes fraudguard/cli.py "
    "(write it there, then `ds2mle export`), or `ds2mle catch-up 01` drops in the reference"
)


def main(argv: list[str] | None = None) -> int:
    """Run ``fraudguard`` and return its exit status: that of :func:`fraudguard.cli.main`, or 1.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.
    """
    try:
        cli = importlib.import_module("fraudguard.cli")  # by name: the skeleton has no cli.py to type-check
        _add_later_commands(cli.app)
        status: int = cli.main(argv)
    except ModuleNotFoundError as exc:
        missing = _missing_package_file(exc)
        if missing is None:
            raise
        sys.stderr.write(f"fraudguard: error: {missing}\n")
        return 1
    except NotImplementedError as exc:
        where = _exercise_frame(exc)
        if where is None:  # raised outside fraudguard: not an exercise stub, so a real bug
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else f"{where.name}() is a stub"
        rel = Path(where.filename).resolve().relative_to(_PACKAGE_DIR).as_posix()
        sys.stderr.write(
            f"fraudguard: error: an exercise is unfinished: {message} ({rel}:{where.lineno} of fraudguard)\n"
        )
        return 1
    return status


def _add_later_commands(app: object) -> None:
    """Let later modules add commands (``fraudguard validate``, ...) without editing module 01's cli.py.

    Each declares a ``register(app)`` function in the ``fraudguard.commands``
    entry-point group (``pyproject.toml``), the way pytest and flake8 find
    plugins. A command whose module the learner has not written yet is
    simply not there; any other import error is a real one and propagates.
    """
    from importlib.metadata import entry_points

    done: set[str] = getattr(app, "_fraudguard_commands", set())
    for entry in entry_points(group="fraudguard.commands"):
        if entry.name in done:
            continue
        try:
            register = entry.load()
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == "fraudguard" or exc.name.startswith("fraudguard.")):
                continue
            raise
        register(app)
        done.add(entry.name)
    setattr(app, "_fraudguard_commands", done)


def _missing_package_file(exc: ModuleNotFoundError) -> str | None:
    """The one-line message for a fraudguard module that does not exist yet; None for any other module."""
    if exc.name == "fraudguard.cli":
        return _CLI_MISSING
    if exc.name and exc.name.startswith("fraudguard."):
        file = exc.name.removeprefix("fraudguard.").replace(".", "/") + ".py"
        return (
            f"fraudguard/{file} does not exist yet: export the lesson that writes it (`ds2mle export`), "
            f"or `ds2mle catch-up {file}` drops in the reference"
        )
    return None


def _exercise_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The frame that raised ``exc`` if it is in a fraudguard file; None otherwise."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return last if Path(last.filename).resolve().is_relative_to(_PACKAGE_DIR) else None
