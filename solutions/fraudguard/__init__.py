"""fraudguard: Paylane's fraud model, as a package.

This package starts as a skeleton. Each notebook of the ds2mle course owns
some of its modules and writes them here with ``ds2mle export`` (the manifest,
``course.toml``, says which notebook owns which file). Import the modules
directly, for example::

    from fraudguard.splits import split_by_time

fraudguard stands alone: it never imports ``ds2mle`` or ``autograder``.
"""

__version__ = "0.1.0"
