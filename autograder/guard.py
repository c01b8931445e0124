"""Tamper detection inside the kernel: a best-effort guard around test cells.

A submission runs in the same Python process as the tests that grade it, so
it can try to make a wrong answer pass by changing what the tests rely on:
replacing ``numpy.floor`` or ``pandas.testing.assert_frame_equal``,
rebinding a helper such as ``generate_transactions``, swapping a function's
``__code__``, installing a trace function or an IPython input transformer
that rewrites or blanks the test cells.

The grader instruments the merged notebook before running it
(:func:`instrument`):

1. a **setup cell**, first of all, snapshots the identity of every function
   and class in ``builtins``, ``math``, ``numpy``, ``numpy.testing``,
   ``pandas``, ``pandas.testing`` and the methods of the main pandas
   classes; records IPython's execution machinery (``run_cell`` and friends,
   input and AST transformers) and the trace and profile hooks; and installs
   an audit hook that refuses any later audit hook;
2. after each grader-owned code cell (one that is not a learner's answer),
   a **protect cell** adds the modules, functions and classes that cell
   imports or defines (the helpers the tests call) to the snapshot;
3. every **test cell** starts with a **check** that compares the snapshot
   with the present and publishes the differences as a display output of
   type :data:`GUARD_MIME`.

The coordinator (outside the sandbox) reads those outputs
(:func:`guard_report`): a test passes only when its check ran and found
nothing changed, otherwise it fails with ``tampering detected: ...``. A test
cell blanked or rewritten before it runs has no check output and fails too.

This raises the bar, it is not a proof: code in the kernel can in principle
forge the kernel's messages. The instructor guide says so.
"""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from autograder.merge import grade_id, is_answer_cell, is_test_cell

__all__ = ["GUARD_MIME", "GuardReport", "guard_report", "instrument", "protected_names", "strip_guard_outputs"]

GUARD_MIME = "application/vnd.ds2mle.guard+json"
GUARD_NAME = "__ds2mle_guard__"

# Runs in the kernel. Kept free of globals: everything lives in one closure.
_RUNTIME = r'''
def __ds2mle_make_guard():
    import builtins, math, sys, threading
    from IPython import get_ipython
    from IPython.display import publish_display_data

    mime = "%(mime)s"
    shell = get_ipython()
    # ipykernel stops its event loop 0.1 s after exit() or quit() (IPython's exiter first resets
    # keepkernel_on_exit, so that flag is not enough): whether the next cells still ran depended on the
    # machine's load. In grading, asking to exit only tells the (absent) front end, and the kernel stays.
    def ask_exit():
        shell.payload_manager.write_payload({"source": "ask_exit", "keepkernel": True})

    shell.ask_exit = ask_exit
    entries = {}
    volatile = {"get_ipython", "exit", "quit", "display", "__IPYTHON__", "_", "__", "___",
                "__builtins__", "__loader__", "__spec__", "__package__", "__doc__", "__name__",
                "__file__", "__cached__", "__path__", "__getattr__", "__dir__", "copyright",
                "credits", "license", "help", "open", "input", "raw_input", "breakpoint"}
    refused = []

    def add(label, mapping, key, value):
        code = getattr(value, "__code__", None)
        entries[label] = (mapping, key, value, code)

    def snapshot_namespace(prefix, mapping):
        for key, value in list(mapping.items()):
            if key in volatile or isinstance(value, (str, bytes, int, float, bool, type(None))):
                continue
            if callable(value) or isinstance(value, type(sys)):
                add(prefix + key, mapping, key, value)

    class Resolved:
        """A class attribute as the class resolves it now (its own or inherited)."""
        __slots__ = ("cls",)

        def __init__(self, cls):
            self.cls = cls

        def get(self, key, default=None):
            for klass in self.cls.__mro__:
                if key in vars(klass):
                    return vars(klass)[key]
            return default

    def snapshot_class(prefix, cls):
        resolved = Resolved(cls)
        for key in dir(cls):
            if key.startswith("__") and key not in ("__getitem__", "__setitem__", "__len__", "__eq__", "__lt__", "__gt__"):
                continue
            value = resolved.get(key)
            if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                add(prefix + key, resolved, key, value)

    snapshot_namespace("builtins.", builtins.__dict__)
    snapshot_namespace("math.", math.__dict__)
    try:
        import numpy, numpy.testing
        snapshot_namespace("numpy.", numpy.__dict__)
        snapshot_namespace("numpy.testing.", numpy.testing.__dict__)
    except Exception:
        pass
    try:
        import pandas, pandas.testing
        snapshot_namespace("pandas.", pandas.__dict__)
        snapshot_namespace("pandas.testing.", pandas.testing.__dict__)
        for cls in (pandas.DataFrame, pandas.Series, pandas.Index, pandas.DatetimeIndex, pandas.Timestamp):
            snapshot_class("pandas." + cls.__name__ + ".", cls)
    except Exception:
        pass
    machinery = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell",
                 "transform_ast", "showtraceback", "_showtraceback", "should_run_async", "ex", "ev")
    own = {name for name in machinery if name in vars(shell)}
    for name in own:
        add("IPython shell." + name, vars(shell), name, vars(shell)[name])
    for klass in type(shell).__mro__:
        for name in machinery:
            if name in klass.__dict__:
                add("IPython." + klass.__name__ + "." + name, klass.__dict__, name, klass.__dict__[name])
    transformers = {
        "input_transformers_cleanup": lambda: shell.input_transformers_cleanup,
        "input_transformers_post": lambda: shell.input_transformers_post,
        "input_transformer_manager.cleanup_transforms": lambda: shell.input_transformer_manager.cleanup_transforms,
        "input_transformer_manager.line_transforms": lambda: shell.input_transformer_manager.line_transforms,
        "input_transformer_manager.token_transformers": lambda: shell.input_transformer_manager.token_transformers,
        "ast_transformers": lambda: shell.ast_transformers,
    }
    lists = {name: [id(x) for x in get()] for name, get in transformers.items()}
    pub = shell.display_pub
    for klass in type(pub).__mro__:
        if "publish" in klass.__dict__:
            add("IPython." + klass.__name__ + ".publish", klass.__dict__, "publish", klass.__dict__["publish"])
    hooks = {"sys.gettrace": sys.gettrace, "sys.getprofile": sys.getprofile,
             "threading.gettrace": getattr(threading, "gettrace", lambda: None),
             "threading.getprofile": getattr(threading, "getprofile", lambda: None)}
    hook_values = {name: get() for name, get in hooks.items()}

    def audit(event, args):
        if event == "sys.addaudithook":
            refused.append("an audit hook was refused")
            raise RuntimeError("the grader does not allow audit hooks")

    sys.addaudithook(audit)

    def protect(namespace, names):
        for name in names:
            if name in namespace:
                value = namespace[name]
                add(name, namespace, name, value)
                if isinstance(value, type(sys)):
                    snapshot_namespace(name + ".", value.__dict__)

    def changes():
        found = []
        missing = object()
        for label, (mapping, key, value, code) in entries.items():
            now = mapping.get(key, missing)
            if now is not value:
                found.append(label + " was replaced" if now is not missing else label + " was deleted")
            elif code is not None and getattr(now, "__code__", None) is not code:
                found.append(label + ".__code__ was replaced")
        for name, get in transformers.items():
            try:
                if [id(x) for x in get()] != lists[name]:
                    found.append("IPython " + name + " were changed")
            except Exception:
                found.append("IPython " + name + " are missing")
        for name in machinery:
            if name in vars(shell) and name not in own:
                found.append("IPython shell." + name + " was overridden")
        if shell.display_pub is not pub or "publish" in vars(pub):
            found.append("IPython's display publisher was replaced")
        for name, get in hooks.items():
            if get() is not hook_values[name]:
                found.append(name + "() was set")
        return found + refused

    def check(test_id):
        publish_display_data({mime: {"check": test_id, "changed": changes()[:20]}})

    class Guard:
        __slots__ = ()
    guard = Guard()
    Guard.check = staticmethod(check)
    Guard.protect = staticmethod(protect)
    return guard

%(name)s = __ds2mle_make_guard()
del __ds2mle_make_guard
'''


def _runtime_source() -> str:
    return _RUNTIME % {"mime": GUARD_MIME, "name": GUARD_NAME}


def protected_names(source: str) -> list[str]:
    """Names a grader cell binds to modules, functions or classes (imports, ``def``, ``class``).

    Examples
    --------
    >>> protected_names("import numpy as np\\nfrom a.b import c, d as e\\ndef f(): pass\\nx = 1")
    ['np', 'c', 'e', 'f']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.asname or alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names += [alias.asname or alias.name for alias in node.names if alias.name != "*"]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return names


def instrument(merged: NotebookNode) -> tuple[NotebookNode, list[int | None]]:
    """Add the guard to a merged notebook.

    Parameters
    ----------
    merged : NotebookNode
        The notebook to grade (see :func:`autograder.merge.merge_submission`).

    Returns
    -------
    instrumented : NotebookNode
        A new notebook: the setup cell, then the merged cells with a check at
        the top of each test cell and a protect cell after each grader-owned
        code cell.
    origin : list of int or None
        For each instrumented cell, the index of the merged cell it comes
        from, or ``None`` for a cell the guard added.
    """
    cells: list[NotebookNode] = [new_code_cell(_runtime_source())]
    origin: list[int | None] = [None]
    for index, cell in enumerate(merged.cells):
        copied = copy.deepcopy(cell)
        gid = grade_id(cell)
        if cell.cell_type == "code" and is_test_cell(cell):
            copied.source = f"{GUARD_NAME}.check({json.dumps(gid)})\n{cell.source}"
        cells.append(copied)
        origin.append(index)
        if cell.cell_type == "code" and gid is not None and not is_answer_cell(cell) and not is_test_cell(cell):
            names = protected_names(cell.source)
            if names:
                cells.append(new_code_cell(f"{GUARD_NAME}.protect(globals(), {json.dumps(names)})"))
                origin.append(None)
    instrumented: NotebookNode = copy.deepcopy(merged)
    instrumented.cells = cells
    return instrumented, origin


class GuardReport:
    """What the guard saw in one test cell.

    Attributes
    ----------
    ran : bool
        The check at the top of the cell ran (the cell was not blanked or rewritten).
    changed : list of str
        What the submission changed, e.g. ``"numpy.floor was replaced"``.
    """

    def __init__(self, *, ran: bool, changed: list[str]) -> None:
        self.ran = ran
        self.changed = changed

    @property
    def reason(self) -> str:
        """Empty when the cell is clean, else the failure reason for the test."""
        if not self.ran:
            return "tampering detected: the test cell did not run as written (its guard check never ran)"
        if self.changed:
            return "tampering detected: " + "; ".join(self.changed[:3])
        return ""


def guard_report(outputs: list[dict[str, Any]], test_id: str) -> GuardReport:
    """Read the check outputs of a test cell.

    A check that reports changes wins over one that does not, so a clean
    report forged next to the real one cannot hide it.
    """
    reports: list[GuardReport] = []
    for output in outputs:
        data = output.get("data") if isinstance(output, dict) else None
        if not isinstance(data, dict) or GUARD_MIME not in data:
            continue
        payload = data[GUARD_MIME]
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except json.JSONDecodeError:
                continue
        if not isinstance(payload, dict) or payload.get("check") != test_id:
            continue
        changed = payload.get("changed", [])
        if not isinstance(changed, list):
            changed = ["the guard's report was altered"]
        reports.append(GuardReport(ran=True, changed=[str(c)[:200] for c in changed]))
    for report in reports:
        if report.changed:
            return report
    return reports[0] if reports else GuardReport(ran=False, changed=[])


def strip_guard_outputs(outputs: list[Any]) -> list[Any]:
    """Drop the guard's own outputs (they are for the grader, not for people)."""
    return [
        o for o in outputs
        if not (isinstance(o, dict) and isinstance(o.get("data"), dict) and GUARD_MIME in o["data"])
    ]
