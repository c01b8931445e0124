"""Exceptions raised by the ds2mle tooling.

Every user-facing failure derives from :class:`Ds2mleError`. The CLI catches
it, prints its message on one line and exits 1; anything else is a bug and
keeps its traceback::

    Ds2mleError
    ├── ManifestError      course.toml is malformed or inconsistent
    ├── NotebookError      a notebook is missing, not JSON, or not clean
    ├── ExportError        an export cell cannot be written into fraudguard
    ├── BuildError         nbgrader generate / reference package failed
    ├── GradingError       a submission cannot be graded at all
    └── DataError          the simulator was asked for something impossible
"""

from __future__ import annotations

__all__ = [
    "BuildError",
    "DataError",
    "Ds2mleError",
    "ExportError",
    "GradingError",
    "ManifestError",
    "NotebookError",
]


class Ds2mleError(Exception):
    """Base class: a user error with a one-line message that names the fix."""


class ManifestError(Ds2mleError):
    """The course manifest is malformed or refers to something that is not there."""


class NotebookError(Ds2mleError):
    """A notebook cannot be read, or breaks a rule (clean, ownership, ...)."""


class ExportError(Ds2mleError):
    """An export cell cannot be written into the fraudguard package."""


class BuildError(Ds2mleError):
    """Generating student versions or the reference package failed."""


class GradingError(Ds2mleError):
    """An assignment cannot be graded (not started, unknown, no notebook)."""


class DataError(Ds2mleError):
    """The Paylane simulator was asked for something it cannot do."""
