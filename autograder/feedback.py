"""Feedback that never shows hidden tests.

nbgrader's feedback is the autograded notebook rendered as HTML, hidden
tests and their tracebacks included (nbgrader #1363). Ours is built from a
*redacted* copy of the executed notebook (:func:`redact`), which is also
what the coordinator writes to ``autograded/`` (so even
``nbgrader generate_feedback`` cannot leak):

1. A test cell with hidden tests shows the student version's source (the
   hidden part removed) and no outputs of its own; a one-line verdict takes
   their place: passed, or failed with the first line of the error.
2. Every cell from the first hidden-test cell on loses its outputs. Code the
   learner ran earlier may have hooked the kernel to copy the hidden tests
   as they ran and print them later; this closes that route.
3. Outputs of earlier cells and every verdict line are scanned for lines of
   the hidden tests (also as a ``repr`` would escape them) and withheld if
   they quote one.
4. The first line of a failed hidden test keeps an ``assert`` message only
   when it matches a message written in that test; other messages are
   scanned as above and cut to 160 characters.

:func:`render_html` turns the redacted notebook into one HTML page with a
table of the tests at the top.
"""

from __future__ import annotations

import ast
import copy
import html
import re
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output

from autograder.engine import NotebookResult
from autograder.merge import grade_id, is_test_cell

__all__ = ["hidden_lines", "redact", "render_html", "safe_reason"]

_BEGIN = "### BEGIN HIDDEN TESTS"
_END = "### END HIDDEN TESTS"
_WITHHELD_AFTER = "[outputs of cells after the hidden tests started are not shown in feedback]"
_WITHHELD_QUOTE = "[output withheld: it quoted the grader's hidden tests]"
_EXPORTER: Any = None


def _hidden_block(source: str) -> str:
    parts = re.findall(re.escape(_BEGIN) + r"(.*?)(?:" + re.escape(_END) + r"|\Z)", source, flags=re.S)
    return "\n".join(parts)


def _norm(text: str) -> str:
    return re.sub(r"[\s\\]+", "", text)


def hidden_lines(source_nb: NotebookNode) -> set[str]:
    """The hidden tests' distinctive lines, normalised (whitespace and backslashes removed)."""
    lines: set[str] = set()
    for cell in source_nb.cells:
        for line in _hidden_block(cell.source).splitlines():
            norm = _norm(line)
            if len(norm) >= 12 and not norm.startswith("#"):
                lines.add(norm)
    return lines


def _quotes(text: str, hidden: set[str]) -> bool:
    norm = _norm(text)
    return any(line in norm for line in hidden)


def _assert_templates(source: str) -> list[re.Pattern[str]]:
    """Regexes for the messages of the ``assert`` statements in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    patterns = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert) or node.msg is None:
            continue
        msg = node.msg
        if isinstance(msg, ast.Constant) and isinstance(msg.value, str):
            patterns.append(re.compile(re.escape(msg.value) + r"\Z"))
        elif isinstance(msg, ast.JoinedStr):
            parts = [re.escape(str(v.value)) if isinstance(v, ast.Constant) else r".{0,80}" for v in msg.values]
            patterns.append(re.compile("".join(parts) + r"\Z"))
    return patterns


def safe_reason(reason: str, *, test_source: str, hidden: set[str]) -> str:
    """A failure line that is safe to show the learner for a test with hidden parts.

    Examples
    --------
    >>> src = '### BEGIN HIDDEN TESTS\\nassert x == 1, "x must be one"\\n### END HIDDEN TESTS'
    >>> safe_reason("AssertionError: x must be one", test_source=src, hidden=set())
    'AssertionError: x must be one'
    >>> safe_reason("AssertionError: something else", test_source=src, hidden=set())
    'AssertionError'
    """
    if _BEGIN not in test_source or not reason:
        return reason if not _quotes(reason, hidden) else "failed (details withheld)"
    name, _, message = reason.partition(": ")
    if name == "AssertionError":
        if any(p.match(message) for p in _assert_templates(_hidden_block(test_source))):
            return reason
        return "AssertionError"
    if reason.startswith("tampering detected"):
        return reason[:200] if not _quotes(reason, hidden) else "tampering detected"
    if _quotes(reason, hidden):
        return name[:80] or "failed (details withheld)"
    return reason[:160]


def redact(
    executed: NotebookNode, *, source: NotebookNode, release: NotebookNode, result: NotebookResult
) -> NotebookNode:
    """A copy of ``executed`` that is safe to hand back to the learner (see the module docstring).

    Parameters
    ----------
    executed : NotebookNode
        The merged notebook with its outputs (hidden tests included).
    source, release : NotebookNode
        The nbgrader source and student version.
    result : NotebookResult
        The scores, for the verdict lines.

    Returns
    -------
    NotebookNode
    """
    nb = copy.deepcopy(executed)
    hidden = hidden_lines(source)
    release_by_id = {gid: c for c in release.cells if (gid := grade_id(c))}
    tests = {t.grade_id: t for t in result.tests}
    started = False
    for cell in nb.cells:
        gid = grade_id(cell)
        has_hidden = _BEGIN in cell.source
        started = started or has_hidden
        if is_test_cell(cell) and gid is not None:
            original = cell.source
            if has_hidden:
                shown = release_by_id.get(gid)
                cell.source = shown.source if shown is not None else "# (hidden tests)"
            test = tests.get(gid)
            if started:
                cell.outputs = []
            if test is not None:
                reason = safe_reason(test.reason, test_source=original, hidden=hidden)
                verdict = (f"PASSED ({test.points:g}/{test.max_points:g} points)" if test.status == "passed"
                           else f"FAILED (0/{test.max_points:g} points): {reason}")
                cell.outputs = [o for o in cell.get("outputs", []) if not _quotes(str(o), hidden)]
                cell.outputs.append(new_output("stream", name="stdout", text=f"[grader] {verdict}\n"))
            continue
        if cell.cell_type != "code":
            continue
        if started and cell.get("outputs"):
            cell.outputs = [new_output("stream", name="stdout", text=_WITHHELD_AFTER + "\n")]
        else:
            cell.outputs = [
                o if not _quotes(str(o), hidden) else new_output("stream", name="stdout", text=_WITHHELD_QUOTE + "\n")
                for o in cell.get("outputs", [])
            ]
    for cell in nb.cells:
        cell.source = cell.source.replace(_BEGIN, "").replace(_END, "")
    return nb


def render_html(nb: NotebookNode, *, student: str, assignment: str, results: list[NotebookResult]) -> str:
    """One HTML page: a table of every test, then the redacted notebook(s).

    Parameters
    ----------
    nb : NotebookNode
        The redacted notebook (see :func:`redact`).
    student, assignment : str
    results : list of NotebookResult
        Every notebook of the submission, for the table.

    Returns
    -------
    str
    """
    rows = []
    score = sum(r.score for r in results)
    auto_max = sum(r.max_score - r.manual_points for r in results)
    manual = sum(r.manual_points for r in results)
    for result in results:
        for test in result.tests:
            points = f"{test.points:g}/{test.max_points:g}" if test.status != "manual" else f"?/{test.max_points:g}"
            mark = {"passed": "PASS", "failed": "FAIL", "manual": "by hand"}[test.status]
            rows.append(
                f"<tr><td>{html.escape(result.notebook)}</td><td>{html.escape(test.grade_id)}</td>"
                f"<td>{mark}</td><td>{points}</td></tr>"
            )
    summary = (
        f"<div style='font-family:sans-serif;margin:1em'><h2>{html.escape(assignment)}: feedback for "
        f"{html.escape(student)}</h2><p>Autograded score: <b>{score:g}/{auto_max:g}</b>"
        + (f" (+{manual:g} points of written answers, graded by hand)" if manual else "")
        + "</p><table border='1' cellpadding='4' style='border-collapse:collapse'>"
        "<tr><th>notebook</th><th>test</th><th>result</th><th>points</th></tr>"
        + "".join(rows) + "</table><p>Failure reasons are shown under each test cell below.</p></div>"
    )
    return _PAGE.format(title=html.escape(f"{assignment}: {student}"), summary=summary, body=_render_cells(nb))


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 1em auto; }}
.cell {{ margin: 0.8em 0; }}
.cell > pre.input {{ background: #f5f5f5; border-left: 3px solid #9ab; padding: 0.5em; }}
pre {{ white-space: pre-wrap; word-break: break-word; margin: 0.2em 0; }}
pre.error {{ background: #fdd; }}
pre.stderr {{ background: #ffe; }}
</style></head>
<body>{summary}
{body}
</body></html>
"""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _render_output(output: Any) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return f"<pre class='{'stderr' if output.get('name') == 'stderr' else 'stdout'}'>{html.escape(_text(output.get('text', '')))}</pre>"
    if kind == "error":
        trace = _ANSI.sub("", "\n".join(_text(t) for t in output.get("traceback", [])))
        return f"<pre class='error'>{html.escape(trace or _text(output.get('ename', '')) + ': ' + _text(output.get('evalue', '')))}</pre>"
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        image = _text(data.get(mime, ""))
        if image and _BASE64.fullmatch(image):
            return f"<img alt='' src='data:{mime};base64,{image.strip()}'>"
    if "text/plain" in data:  # rich HTML from the notebook is never embedded: it could carry scripts
        return f"<pre>{html.escape(_text(data['text/plain']))}</pre>"
    return ""


def _render_cells(nb: NotebookNode) -> str:
    """The cells as plain, escaped HTML: markdown rendered with raw HTML escaped, code and outputs as text.

    Nothing from the notebook is embedded as markup, so a learner's output can carry no script into
    the page an instructor opens; and it is fast (nbconvert's lab template cost 1.5 s a page).
    """
    global _EXPORTER
    if _EXPORTER is None:
        import mistune

        _EXPORTER = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(f"<div class='cell markdown'>{_EXPORTER(cell.source)}</div>")
        elif cell.cell_type == "code":
            count = cell.get("execution_count")
            label = f"In [{count}]:" if isinstance(count, int) else "In [ ]:"
            outputs = "".join(_render_output(o) for o in cell.get("outputs", []))
            parts.append(f"<div class='cell code'><small>{label}</small><pre class='input'>{html.escape(cell.source)}</pre>"
                         f"{outputs}</div>")
        else:
            parts.append(f"<div class='cell raw'><pre>{html.escape(cell.source)}</pre></div>")
    return "\n".join(parts)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
