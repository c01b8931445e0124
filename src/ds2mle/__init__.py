"""ds2mle: the course tooling.

The command-line entry point is :mod:`ds2mle.cli`. The pieces it drives:

- :mod:`ds2mle.manifest`  the course manifest (``course.toml``) as typed objects
- :mod:`ds2mle.data`      the seeded Paylane transaction simulator, faults and drift
- :mod:`ds2mle.notebooks` reading, cleaning and checking notebook files
- :mod:`ds2mle.export`    ``#| export`` cells into the ``fraudguard`` package
- :mod:`ds2mle.build`     student versions (nbgrader) and the reference package
- :mod:`ds2mle.verify`    every notebook run with papermill, with a report
- :mod:`ds2mle.progress`  what a learner has run, exported and scored
"""

from ds2mle.errors import Ds2mleError

__all__ = ["Ds2mleError", "__version__"]
__version__ = "0.1.0"
