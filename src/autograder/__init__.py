"""autograder: grading on top of nbgrader.

- :mod:`autograder.merge`      rebuild a (possibly altered) submission by a fixed policy
- :mod:`autograder.engine`     execute it and score its grade cells, JSON-ready results
- :mod:`autograder.selfgrade`  ``ds2mle grade --self``: a learner grades their own work

The autograder reads the course through :mod:`ds2mle.manifest` and never
imports ``fraudguard``: the grader must not depend on the code it grades.
"""

from autograder.engine import NotebookResult, TestResult, execute_and_score
from autograder.merge import merge_submission

__all__ = ["NotebookResult", "TestResult", "execute_and_score", "merge_submission"]
