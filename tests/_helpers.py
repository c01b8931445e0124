"""Helpers shared by tests (importable because pyproject puts tests/ on pythonpath)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


def write_nb(path: Path, *cells: str, markdown: str | None = None) -> Path:
    """Write a notebook whose code cells have the given sources."""
    nb = new_notebook(
        cells=([new_markdown_cell(markdown)] if markdown else []) + [new_code_cell(src) for src in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


_SOLUTION_MARKS = re.compile(r"\n?[ \t]*### (BEGIN|END) SOLUTION[ \t]*")


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Grade id to code of each answer cell of an nbgrader source, without its solution markers."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: _SOLUTION_MARKS.sub("", cell.source)
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    }


def reference_answers(notebook: str) -> dict[str, str]:
    """The reference answers of ``solutions/assignments/<notebook>`` (``"<slug>/<name>.ipynb"``)."""
    return answer_cells(nbformat.read(str(REPO / "solutions" / "assignments" / notebook), as_version=4))


def swap(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced once; fails loudly if a variant's anchor is gone."""
    assert text.count(old) == 1, f"the variant's anchor is gone or ambiguous: {old!r}"
    return text.replace(old, new)


# ------------------------------------------------------------------ the whole-course verify, in the background

#: The test that runs ``ds2mle verify`` on the whole course (tests/ds2mle/test_verify.py).
WHOLE_COURSE_VERIFY = "test_ds2mle_verify_is_green_on_the_whole_course"


@dataclass
class VerifyRun:
    """A ``ds2mle verify -j 2`` of the repository, running as a subprocess."""

    proc: subprocess.Popen[bytes]
    folder: Path

    def wait(self) -> tuple[int, str, str]:
        """Its exit status, standard output and standard error, once it has ended."""
        code = self.proc.wait()
        out, err = ((self.folder / name).read_text(encoding="utf-8", errors="replace") for name in ("stdout", "stderr"))
        shutil.rmtree(self.folder, ignore_errors=True)
        return code, out, err

    def stop(self) -> None:
        """End it and everything it started (a session that ends before its test)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


_verify_runs: list[VerifyRun] = []


def start_whole_course_verify() -> VerifyRun:
    """Start ``ds2mle verify -j 2`` on the repository (its own scratch copy), or return the one started.

    ``tests/conftest.py`` starts it as soon as the session has collected its test, so it runs alongside
    the rest of the suite (mostly one process at a time) and the machine's second core is not left idle;
    the test, moved to the end of the session, waits for it and checks its report.
    """
    if not _verify_runs:
        folder = Path(tempfile.mkdtemp(prefix="ds2mle-verify-test-"))
        env = {k: v for k, v in os.environ.items() if k not in ("DS2MLE_ROOT", "PYTHONPATH")}
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ds2mle.cli", "verify", "-j", "2"],
                cwd=REPO, stdout=out, stderr=err, env=env, start_new_session=True,
            )
        _verify_runs.append(VerifyRun(proc=proc, folder=folder))
    return _verify_runs[0]


def stop_whole_course_verify() -> None:
    """Stop the background verify if it is still running (the session ended first)."""
    for run in _verify_runs:
        run.stop()
