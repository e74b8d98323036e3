"""``Selection``: the result of ``Selector.fit`` — which rows to keep, why the others go, and the report."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import ConfigError

KEEP_COLUMN = "qaq_keep"
REASON_COLUMN = "qaq_drop_reason"


class Selection:
    """The fitted outcome of a plan on one dataset (``Selector(...).fit(ds)``).

    Attributes:
        keep: bool numpy array, one per row of the fitted dataset: True = selected.
        reasons: per-row drop reason (str) or None for kept rows, e.g. ``"rmi_low"``, ``"below_cut"``.
        indices: int64 numpy array of the kept rows' positions, ascending (dataset order).
        columns: the columns the plan computed, ``{name: float64 array}`` with one value per row and
            NaN where the step did not compute one (rows dropped before it), e.g. ``weak_rmi_rank``,
            ``qaq_gap``.
        report: JSON-serialisable dict (see :mod:`qaq_datasets.selection.report`).
        plan: the plan dict that produced this selection (``Selector.from_dict(plan)`` rebuilds it).

    A Selection belongs to the dataset it was fitted on: ``apply``/``annotate``/``as_filter`` index
    rows by position, so use them on that dataset (same rows, same order), or its ``map``-ed
    descendants that kept every row in place.

    Examples:
        >>> selection = qaq.Selector().score("strong_ifd").keep_top(0.25).fit(scored)
        >>> curated = selection.apply(scored)            # the kept rows + computed columns
        >>> audit = selection.annotate(scored)           # every row + qaq_keep / qaq_drop_reason
        >>> same = scored.filter(selection.as_filter(), with_indices=True)
        >>> selection.report["drop_reasons"]
        {'below_cut': 750}
    """

    def __init__(
        self,
        *,
        keep: np.ndarray,
        codes: np.ndarray,
        reason_names: list[str],
        columns: dict[str, np.ndarray],
        report: dict[str, Any],
        plan: dict[str, Any],
    ):
        self.keep, self.columns, self.report, self.plan = keep, columns, report, plan
        self.indices = np.flatnonzero(keep).astype(np.int64)
        for values in (keep, self.indices, *columns.values()):
            values.setflags(write=False)
        self._codes, self._reason_names = codes, list(reason_names)

    @property
    def rows_in(self) -> int:
        return len(self.keep)

    @cached_property
    def reasons(self) -> list[str | None]:
        return self._reason_array().to_pylist()

    def _reason_array(self) -> pa.Array:
        names = pa.array([None, *self._reason_names], type=pa.string())
        return names.take(pa.array(self._codes.astype(np.int32)))

    def _check(self, ds) -> None:
        if len(ds) != self.rows_in:
            raise ConfigError(
                f"this selection was fitted on a dataset of {self.rows_in} rows; it cannot be used on one of "
                f"{len(ds)} rows (a Selection only applies to the dataset it was fitted on)."
            )

    @staticmethod
    def _with_columns(ds, new: dict[str, Any]):
        for name, values in new.items():
            if name in ds.column_names:
                ds = ds.remove_columns(name)
            ds = ds.add_column(name, values)
        return ds

    def apply(self, ds):
        """The kept rows of ``ds`` (in dataset order) plus the computed columns (replacing same-named ones).

        Input columns: none read; ``ds`` must be the dataset the selection was fitted on.
        Output columns: every column of ``ds`` plus :attr:`columns` (e.g. ``weak_rmi_rank``, ``qaq_gap``).
        """
        self._check(ds)
        return self._with_columns(ds.select(self.indices), {k: v[self.indices] for k, v in self.columns.items()})

    def annotate(self, ds):
        """Every row of ``ds`` plus ``qaq_keep`` (bool), ``qaq_drop_reason`` (str or None) and :attr:`columns`."""
        self._check(ds)
        new = {KEEP_COLUMN: np.asarray(self.keep), REASON_COLUMN: self._reason_array(), **self.columns}
        return self._with_columns(ds, new)

    def as_filter(self) -> Callable:
        """A function for ``ds.filter(fn, with_indices=True)`` (batched or not) keeping the selected rows.

        Works only on the dataset the selection was fitted on: it looks rows up by index.
        """
        keep = np.asarray(self.keep)

        def qaq_selection_filter(example, idx):
            if isinstance(idx, (int, np.integer)):
                return bool(keep[idx])
            return keep[np.asarray(idx, dtype=np.int64)].tolist()

        return qaq_selection_filter

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in self.report.get("drop_reasons", {}).items())
        return f"Selection(rows_in={self.rows_in}, rows_kept={int(self.keep.sum())}, dropped: {reasons or 'none'})"
