"""Read, validate and merge one submitted notebook, and build its job: total, per submission.

A submission's bytes are the learner's: anything may be in them. A file
nested deeply enough to exhaust Python's recursion while parsing, a file of
hundreds of megabytes, a number of ten thousand digits, text that is not
Unicode: none of it may stop a batch. :func:`prepare_notebook` therefore
never raises. Whatever goes wrong while the notebook is read, checked,
merged with the source and turned into a job becomes that notebook's result
(every test at zero, outcome ``invalid-notebook``, a one-line reason), and
the rest of the batch goes on.

The size is checked before a byte is parsed, and the file is read with a
bounded read, so a file that grows after it was measured is still refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_notebook

from autograder.engine import NotebookResult, first_line
from autograder.jobs import SandboxMode, build_job, failed_result
from autograder.merge import merge_submission
from autograder.sandbox import SandboxPolicy
from ds2mle.manifest import Course, Module

__all__ = ["MAX_NOTEBOOK_BYTES", "Prepared", "load_submission", "prepare_notebook", "reference_files"]

MAX_NOTEBOOK_BYTES = 20 * 1024**2


@dataclass(frozen=True)
class Prepared:
    """One notebook of a submission, ready to run or already decided.

    Attributes
    ----------
    name : str
        The notebook's file name.
    merged : NotebookNode
        The notebook the grader runs (or would have run): the source's cells
        with the learner's answers.
    job : dict or None
        The JSON job for :func:`autograder.jobs.run_job`; ``None`` when the
        notebook cannot run and ``result`` holds its score.
    result : NotebookResult or None
        The final result of a notebook that cannot run.
    notes : tuple of str
        Harmless oddities to report with the run's result.
    """

    name: str
    merged: NotebookNode
    job: dict[str, Any] | None = None
    result: NotebookResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def reference_files(course: Course, module: Module) -> dict[str, str]:
    """The reference ``fraudguard`` as a sandbox may see it when ``module`` is graded.

    Files owned by notebooks of *earlier* modules and by the *lessons* of this
    module (the learner has written them before reaching its assignment),
    plus the hand-written skeleton files no notebook owns (``__init__.py``,
    ``_entry.py``, ``py.typed``). Never the files the assignment itself asks
    for. The reference stands in for the learner's own earlier work, so an
    earlier mistake never costs points twice.

    Returns
    -------
    dict of str to str
        ``"fraudguard/<path>"`` to text.
    """
    order = {m.slug: i for i, m in enumerate(course.modules)}
    here = order[module.slug]
    files: dict[str, str] = {}
    base = course.reference_dir
    if not base.is_dir():
        return {f"{course.package}/__init__.py": ""}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if not path.is_file() or path.is_symlink() or "__pycache__" in rel or path.suffix not in (".py", ".typed"):
            continue
        owner = course.owner_of(rel)
        if owner is None or order[owner.module_slug] < here or (
            owner.module_slug == module.slug and owner.kind == "lesson"
        ):
            files[f"{course.package}/{rel}"] = path.read_text(encoding="utf-8")
    files.setdefault(f"{course.package}/__init__.py", "")
    return files


def _why(exc: BaseException) -> str:
    text = first_line(str(exc))[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_submission(path: Path) -> tuple[NotebookNode | None, str, str, tuple[str, ...]]:
    """Read a submitted notebook without trusting it; never raises.

    Returns
    -------
    notebook : NotebookNode or None
        A clean nbformat 4 notebook rebuilt from the file's cells, or ``None``.
    outcome : str
        ``""`` when readable, else ``missing-notebook``, ``invalid-notebook``
        or ``unsupported-nbformat``.
    reason : str
        Why it cannot be graded, one line.
    notes : tuple of str
        Harmless oddities (another kernel asked for).
    """
    try:
        return _load(path)
    except RecursionError:
        return None, "invalid-notebook", f"{path.name} is nested too deeply to be a notebook; resubmit the file Jupyter saved", ()
    except MemoryError:
        return None, "invalid-notebook", f"{path.name} needs more memory to read than a notebook can; resubmit it", ()
    except Exception as exc:  # whatever the bytes make the reader do: this notebook only
        return None, "invalid-notebook", f"{path.name} could not be read ({_why(exc)}); resubmit the file Jupyter saved", ()


def _load(path: Path) -> tuple[NotebookNode | None, str, str, tuple[str, ...]]:
    if path.is_symlink():
        return None, "invalid-notebook", f"{path.name} is a symbolic link, not a notebook; submit the file itself", ()
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        hint = f" (found: {', '.join(others)})" if others else ""
        return None, "missing-notebook", f"{path.name} was not submitted{hint}", ()
    too_big = (None, "invalid-notebook",
               f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 1024**2} MB; clear its outputs and resubmit", ())
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return too_big
    with path.open("rb") as fh:
        data = fh.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:  # it grew after it was measured
        return too_big
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "invalid-notebook", f"{path.name} is not UTF-8 text", ()
    except json.JSONDecodeError as exc:
        return None, "invalid-notebook", f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg})", ()
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        return None, "invalid-notebook", f"{path.name} is JSON but not a notebook", ()
    version = raw.get("nbformat")
    if version != 4:
        shown = repr(version)[:20]
        return (None, "unsupported-nbformat",
                f"{path.name} is nbformat {shown}; only nbformat 4 can be graded: open and save it in Jupyter", ())
    cells = []
    for cell in raw.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            continue
        meta = cell.get("metadata", {})
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        copied = json.dumps(nbgrader, ensure_ascii=False) if isinstance(nbgrader, dict) else ""
        try:
            (source + copied).encode("utf-8")
        except UnicodeEncodeError:
            return (None, "invalid-notebook",
                    f"{path.name} holds text that is not valid Unicode (a lone surrogate); resubmit the file Jupyter saved", ())
        kind = cell["cell_type"]
        new = (nbformat.v4.new_code_cell(source) if kind == "code" else
               nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_raw_cell(source))
        if copied:
            new.metadata["nbgrader"] = json.loads(copied)
        cells.append(new)
    notes: tuple[str, ...] = ()
    metadata = raw.get("metadata", {})
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    kernel = spec.get("name") if isinstance(spec, dict) else None
    if kernel not in (None, "python3"):
        shown = str(kernel)[:40].encode("utf-8", "replace").decode("utf-8") if isinstance(kernel, str) else type(kernel).__name__
        notes = (f"the notebook asked for kernel {shown!r}; it was graded with python3",)
    return new_notebook(cells=cells), "", "", notes


def prepare_notebook(
    *,
    path: Path,
    source: NotebookNode,
    release: NotebookNode,
    student: str,
    files: dict[str, bytes] | Path | None,
    reference: dict[str, str] | None,
    policy: SandboxPolicy,
    sandbox: SandboxMode,
    notes: tuple[str, ...] = (),
) -> Prepared:
    """Read, validate and merge one submitted notebook and build its job; never raises.

    Parameters
    ----------
    path : Path
        The submitted notebook (it may be missing, a link, or anything at all).
    source, release : NotebookNode
        The nbgrader source (hidden tests) and the student version.
    student : str
        The student id (for the job's label).
    files : dict, Path or None
        The submission's extra files (see :func:`autograder.jobs.build_job`).
    reference : dict or None
        The filtered reference package.
    policy : SandboxPolicy
    sandbox : {"auto", "on", "off"}
    notes : tuple of str
        Notes gathered before (extra files left out).

    Returns
    -------
    Prepared
        With a ``job`` to run, or a final ``result`` scored zero with the reason.
    """
    name = path.name
    blank = merge_submission(submission=new_notebook(cells=[]), source=source, release=release)
    try:
        notebook, outcome, reason, more = load_submission(path)
        if notebook is None:
            result = failed_result(merged=blank, name=name, reason=reason, outcome=outcome)  # type: ignore[arg-type]
            return Prepared(name=name, merged=blank, result=result)
        merged = merge_submission(submission=notebook, source=source, release=release)
        job = build_job(merged=merged, name=name, student=student, files=files, reference=reference,
                        policy=policy, sandbox=sandbox)
        return Prepared(name=name, merged=merged, job=job, notes=tuple(notes) + more)
    except Exception as exc:  # the learner's bytes broke a step after reading: this notebook only
        reason = f"{name} could not be prepared for grading ({_why(exc)}); resubmit the file Jupyter saved"
        result = failed_result(merged=blank, name=name, reason=reason, outcome="invalid-notebook")
        return Prepared(name=name, merged=blank, result=result)
