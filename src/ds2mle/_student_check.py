"""Worker for ``ds2mle verify``: check one student version in its own process.

Usage: ``python -m ds2mle._student_check ROOT LABEL CELL_TIMEOUT``. Prints one
JSON line, ``{"ok": bool, "error": str}``, as its last line of output.

A student version passes when

1. nbgrader's ``Validator`` reports exactly its autograded test cells as
   failed: the stubs make every test fail, and nothing else does;
2. the autograder scores it 0 without crashing, with hidden tests restored,
   and no cell other than answers and tests raises.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from autograder.jobs import execute_and_score
from autograder.merge import is_answer_cell, is_manual_cell, is_test_cell
from ds2mle.manifest import load_course
from ds2mle.notebooks import read_notebook


def check(root: Path, label: str, cell_timeout: int) -> str:
    """Return an empty string when the student version behaves, else the first problem."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    course = load_course(root)
    entry = next(nb for nb in course.notebooks if nb.label == label)
    student_path = entry.student_path(course.root)
    release = read_notebook(student_path)
    source = read_notebook(entry.source_path(course.root))

    config = Config()
    config.Execute.timeout = cell_timeout
    validator = Validator(config=config)
    validator.log.setLevel(logging.ERROR)
    outcome = validator.validate(str(student_path))
    if outcome.get("type_changed") or outcome.get("changed"):
        return "nbgrader reports changed cells in the generated student version; run `ds2mle build`"
    # Test cells that hold only hidden tests are comments in the student version:
    # they cannot fail there, and the autograde check below restores and runs them.
    # Unanswered written answers (graded by hand) count as failed too.
    expected = {
        cell.source.strip()
        for cell in release.cells
        if (is_test_cell(cell) and _has_code(cell.source)) or is_manual_cell(cell)
    }
    failed = {item["source"] for item in outcome.get("failed", [])}
    if expected - failed:
        return (
            f"{len(expected - failed)} graded cell(s) pass on the unanswered notebook; every test must need the answer"
        )
    if failed - expected:
        return f"{len(failed - expected)} cell(s) fail that are not graded tests; fix the student version's other cells"

    result, executed = execute_and_score(
        submission=release, source=source, release=release, name=entry.name,
        workdir=student_path.parent, cell_timeout=cell_timeout,
    )
    if result.error:
        return f"autograding crashed: {result.error}"
    if result.score != 0:
        passed = [t.grade_id for t in result.tests if t.status == "passed"]
        return f"autograde gives {result.score:g} points to the unanswered notebook (passing: {', '.join(passed)})"
    for index, cell in enumerate(executed.cells, start=1):
        if cell.cell_type != "code" or is_answer_cell(cell) or is_test_cell(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {index} is not a test but fails: {output.get('ename')}: {output.get('evalue')}"[:200]
    return ""


def _has_code(source: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in source.splitlines())


def main(argv: list[str]) -> int:
    """Entry point; always prints the JSON verdict line."""
    root, label, timeout = argv
    try:
        error = check(Path(root), label, int(timeout))
    except Exception as exc:  # reported as this notebook's failure, never a crash of verify
        error = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"ok": not error, "error": error}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
