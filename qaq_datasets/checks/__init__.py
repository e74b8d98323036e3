"""Model-free text checks, written as columns by a ``Dataset.map`` function (:func:`check_fn`) and read by
selection like any other column (``drop_where("check_looping", "==", 1)``).

Examples:
    >>> import qaq_datasets as qaq
    >>> checked = ds.map(qaq.check_fn(), batched=True)                          # doctest: +SKIP
"""

from .checker import CheckFn, add_checks, build_checks, check_columns, check_fn
from .rules import CHECKS, COLUMN_PREFIX, Check, register

__all__ = ["CHECKS", "COLUMN_PREFIX", "Check", "CheckFn", "add_checks", "build_checks", "check_columns", "check_fn",
           "register"]
