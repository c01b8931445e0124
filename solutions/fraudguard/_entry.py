"""The ``fraudguard`` command's entry point, a hand-written skeleton file that no notebook owns.

``pyproject.toml`` points the console script here, not at :func:`fraudguard.cli.main`, because
``fraudguard/cli.py`` only exists once you have written it in module 01, lesson
03-logging-and-a-cli. Until then ``fraudguard --help`` says so in one line instead of a
``ModuleNotFoundError``. Afterwards it runs :func:`fraudguard.cli.main`, which handles its own
errors, and adds one thing: a command that reaches an exercise you have not finished yet (a stub
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
