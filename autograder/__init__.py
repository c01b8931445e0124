"""autograder: sandboxed, parallel grading on top of nbgrader.

Trusted side (the coordinator's process)::

    coordinator   ds2mle grade: find submissions, merge, schedule, score, write the gradebook
    ├── collect   nbgrader's submitted/ layout, or an LMS zip through nbgrader's zip_collect
    ├── intake    read, validate and merge one notebook, never raising (one bad file stops nothing)
    ├── merge     rebuild a (possibly altered) submission by a fixed cell policy
    ├── jobs      one notebook as a JSON job; validate the worker's JSON lines; score; slots
    ├── gradebook the only writer of gradebook.db, mirroring nbgrader's autograde
    ├── feedback  redacted notebooks and HTML that never show hidden tests
    └── selfgrade ds2mle grade --self: the same path for a learner, no gradebook

Untrusted side (inside the bubblewrap sandbox)::

    zygote        python -m autograder.zygote: per slot, fork each job's worker and kernel, pre-imported
    worker        python -m autograder.worker: run one notebook, print JSON lines
    ├── engine    nbclient with a time budget, an output cap and per-cell records
    └── guard     tamper checks before each test cell

:mod:`autograder.sandbox` builds the sandbox's command line and limits. The
autograder reads the course through :mod:`ds2mle.manifest` and never imports
``fraudguard``: the grader must not depend on the code it grades.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.engine import NotebookResult, TestResult
    from autograder.jobs import execute_and_score
    from autograder.merge import merge_submission

__all__ = ["NotebookResult", "TestResult", "execute_and_score", "merge_submission"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``python -m autograder.worker`` starts without importing nbformat first
    # (the worker starts once per notebook; every tenth of a second counts).
    if name in ("NotebookResult", "TestResult"):
        from autograder import engine

        return getattr(engine, name)
    if name == "execute_and_score":
        from autograder.jobs import execute_and_score

        return execute_and_score
    if name == "merge_submission":
        from autograder.merge import merge_submission

        return merge_submission
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
