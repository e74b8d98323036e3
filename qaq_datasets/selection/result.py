"""``Selection``: the result of ``Selector.fit`` — which rows to keep, why the others go — and its report.

The fit report is a JSON-serialisable dict of what happened to the rows, bin by bin and step by step.

Keys (see ``docs/architecture.md``)::

    library_version  str
    rows_in          rows of the dataset the plan was fitted on
    rows_kept        rows selected
    rows_dropped     rows_in - rows_kept
    drop_reasons     {reason: rows}, in the order the reasons first occurred
    budget           rows the last keep_top was asked to keep (None without keep_top)
    shortfall        rows of that budget left unfilled because fewer rows survived the filters (0 if filled)
    kept_with_missing  kept rows that had a missing value in a column the plan read (keep_nan only)
    bins_column      the column of the first stratification (None if the plan has none)
    bins             [{bin, low, high, rows, kept, dropped[, ppl_low, ppl_high]}] of that stratification
    steps            [{step, params, rows_in, rows_out, nan_rows, dropped {reason: rows}, fitted {...}}]:
                     rows_in/rows_out = rows alive before/after the step, nan_rows = alive rows with a
                     missing value in a column the step reads; ``fitted`` holds what the step computed:
                     stratify: bins_used, collapsed_by_ties, merged_small, edges, bins (table as below);
                     rank: output, rows_ranked; drop_outliers: column, reasons {reason: rows},
                     fences [{bin, rows, median, scale, low, high}] (the fitted thresholds); drop_extremes:
                     rank_column, reasons {reason: rows}; drop_where: reason, matched;
                     gap: bins_used, rows_ranked, gap {min, max, mean}, bins {weak: table, strong: table};
                     score/closest_to: min, max, mean; random: seed; keep_top: score, ascending,
                     basis_rows, budget, survivors, kept, shortfall, cut (worst kept score),
                     ties_at_cut_dropped
    notes            human-readable remarks: merged/collapsed bins, the fences drop_outliers fitted, a keep_top
                     budget not filled, why no row was kept
    warnings         the notes the user must see (``qaq select`` prints them): a budget not filled, a text
                     check skipped, why no row was kept
    plan             the plan dict (``Selector.to_dict()``)
    fitted_on        {rows, sha256}: the :func:`rows_identity` of the dataset the plan was fitted on

``low``/``high`` are the smallest/largest value of the column in the bin (for an NLL column, also as
perplexities ``ppl_low``/``ppl_high`` = exp(nll)); ``rows`` counts the rows binned when the
stratification was fitted, ``kept`` those of them finally selected. Non-finite floats become None.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Dataset

from .._version import __version__
from ..files import to_builtin
from ..errors import ConfigError, ConfigTypeError
from ..scoring.schema import ScoreColumns, infer_prefixes

KEEP_COLUMN = "qaq_keep"
REASON_COLUMN = "qaq_drop_reason"


def rows_identity(ds) -> dict:
    """``{rows, sha256}``: the row count and a sha256 of every score column (all prefixes), in row order.

    Two datasets get the same identity only if their score columns hold the same values in the same order: a
    selection fitted on one is refused on the other, even when both have the same length (or are one shuffled).
    Columns are read as Arrow (through any indices mapping); numbers hash as float64 with one NaN bit pattern,
    anything else (and a column with nulls) as JSON.
    """
    names = ds.column_names
    columns = sorted(c for p in infer_prefixes(names) for c in ScoreColumns(p).columns if c in names)
    table = ds.select_columns(columns).with_format("arrow")[:]  # one read: through an indices mapping, one gather
    digest = hashlib.sha256()
    for col, values in zip(columns, table.columns):  # select_columns keeps the order it is given
        digest.update(col.encode() + b"\0")
        if values.null_count == 0 and (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
                                       or pa.types.is_boolean(values.type)):
            v = np.asarray(values.to_numpy(), dtype="<f8")
            digest.update(np.where(np.isnan(v), np.nan, v).tobytes())
        else:
            digest.update(json.dumps(values.to_pylist()).encode())
    return {"rows": len(ds), "sha256": digest.hexdigest()}


def check_fitted_on(fitted_on, ds, *, what: str, fix: str) -> dict:
    """``rows_identity(ds)`` if it equals ``fitted_on`` (the identity of the rows ``what`` was fitted on), else
    :class:`ConfigError` saying so and how to ``fix`` it (one line; the recorded values are cut)."""
    if fitted_on != (mine := rows_identity(ds)):
        old = fitted_on if isinstance(fitted_on, dict) else {}
        raise ConfigError(f"{what} was fitted on other rows ({str(old.get('rows'))[:20]} rows, sha256 "
                          f"{str(old.get('sha256'))[:12]}) than the rows given ({mine['rows']} rows, sha256 "
                          f"{mine['sha256'][:12]}); {fix}.")
    return mine


def bins_table(bins, keep: np.ndarray) -> list[dict[str, Any]]:
    """One entry per bin: value range, rows binned, and how many of those were kept / dropped."""
    kept = np.bincount(bins.of_row[keep & (bins.of_row >= 0)], minlength=bins.count)
    with np.errstate(over="ignore"):  # inf: None in the JSON
        ppl = np.exp([bins.low, bins.high]).tolist() if "nll" in bins.column else None
    return [{"bin": b, "low": float(bins.low[b]), "high": float(bins.high[b]), "rows": int(bins.rows[b]),
             "kept": int(kept[b]), "dropped": int(bins.rows[b] - kept[b]),
             **({"ppl_low": ppl[0][b], "ppl_high": ppl[1][b]} if ppl else {})} for b in range(bins.count)]


def _with_columns(ds, new: dict[str, Any]):
    """``ds`` with the columns ``new``, each replacing a column of the same name."""
    for name, values in new.items():
        ds = (ds.remove_columns(name) if name in ds.column_names else ds).add_column(name, values)
    return ds


class Selection:
    """The fitted outcome of a plan on one dataset (``Selector(...).fit(ds)``).

    Attributes:
        keep: bool numpy array, one per row of the fitted dataset: True = selected.
        reasons: per-row drop reason (str) or None for kept rows, e.g. ``"rmi_low"``, ``"below_cut"``.
        indices: int64 numpy array of the kept rows' positions, ascending (dataset order).
        columns: the columns the plan computed, ``{name: float64 array}`` with one value per row and
            NaN where the step did not compute one (rows dropped before it), e.g. ``weak_rmi_rank``,
            ``qaq_gap``.
        report: JSON-serialisable dict (see the module docs).
        plan: the plan dict that produced this selection (``Selector.from_dict(plan)`` rebuilds it).
        fitted_on: ``{rows, sha256}``, the :func:`rows_identity` of the dataset it was fitted on.

    A Selection belongs to the dataset it was fitted on: ``apply``/``annotate``/``as_filter`` index
    rows by position, so use them on that dataset (same rows, same order), or its ``map``-ed
    descendants that kept every row and score column in place. ``apply``, ``annotate`` and ``publish``
    check :attr:`fitted_on` and refuse other rows (ConfigError), even of the same length (a shuffle);
    ``as_filter`` sees only indices and cannot check.

    Examples:
        >>> selection = qaq.Selector().score("strong_ifd").keep_top(0.25).fit(scored)
        >>> curated = selection.apply(scored)            # the kept rows + computed columns
        >>> audit = selection.annotate(scored)           # every row + qaq_keep / qaq_drop_reason
        >>> same = scored.filter(selection.as_filter(), with_indices=True)
        >>> selection.report["drop_reasons"]
        {'below_cut': 750}
    """

    def __init__(self, state, steps: list[dict[str, Any]], kept_with_missing: int, plan: dict[str, Any]):
        """The selection of a fitted ``FitState``, with the report (see the module docs) of it and its ``steps``
        entries."""
        keep, rows_in, strata = state.alive, state.n, state.stratifications
        rows_kept, drop_reasons = int(keep.sum()), state.dropped_by(np.ones(state.n, dtype=bool))
        for index, label, bins in strata:  # attach each step's bins table(s): gap's by label
            table, fitted = bins_table(bins, keep), steps[index]["fitted"]
            fitted["bins"] = table if label is None else {**fitted.get("bins", {}), label: table}
        first = strata[0][2] if strata else None
        cut = next((s["fitted"] for s in reversed(steps) if s["step"] == "keep_top"), {"budget": None, "shortfall": 0})
        if rows_kept == 0:
            why = ", ".join(f"{n} {r}" for r, n in drop_reasons.items()) or "the dataset has no rows"
            state.warn(f"no row was kept ({why}).")
        self.report = to_builtin({
            "library_version": __version__, "rows_in": rows_in, "rows_kept": rows_kept,
            "rows_dropped": rows_in - rows_kept, "drop_reasons": drop_reasons, "budget": cut["budget"],
            "shortfall": cut["shortfall"], "kept_with_missing": kept_with_missing,
            "bins_column": first.column if first else None, "bins": bins_table(first, keep) if first else [],
            "steps": steps, "notes": state.notes, "warnings": state.warnings, "plan": plan,
            "fitted_on": rows_identity(state.dataset)})
        self.keep, self.columns, self.rows_in, self.indices = keep, state.outputs, rows_in, np.flatnonzero(keep)
        self.plan, self.fitted_on = self.report["plan"], self.report["fitted_on"]
        for values in (self.keep, self.indices, *self.columns.values()):
            values.setflags(write=False)
        self._reasons = pa.array([None, *state.reasons], type=pa.string()).take(state.code.astype(np.int32))

    @cached_property
    def reasons(self) -> list[str | None]:
        return self._reasons.to_pylist()

    def check(self, ds) -> dict:
        """``rows_identity(ds)`` if ``ds`` holds the rows this selection was fitted on, else ConfigError."""
        if not isinstance(ds, Dataset):
            raise ConfigTypeError(f"a selection applies to a datasets.Dataset (one split), got {type(ds).__name__}.")
        return check_fitted_on(self.fitted_on, ds, what="This selection", fix="re-fit the plan on these rows: "
                               "plan.fit(rows), e.g. Selector.from_dict(selection.plan).fit(rows)")

    def apply(self, ds):
        """The kept rows of ``ds`` (in dataset order) plus the computed columns (replacing same-named ones).

        Input columns: the score columns of ``ds``, to check it holds the rows the selection was fitted on.
        Output columns: every column of ``ds`` plus :attr:`columns` (e.g. ``weak_rmi_rank``, ``qaq_gap``).
        """
        self.check(ds)
        return _with_columns(ds.select(self.indices), {k: v[self.indices] for k, v in self.columns.items()})

    def annotate(self, ds):
        """Every row of ``ds`` plus ``qaq_keep`` (bool), ``qaq_drop_reason`` (str or None) and :attr:`columns`.

        ``ds`` must hold the rows the selection was fitted on (checked as in :meth:`apply`).
        """
        self.check(ds)
        return _with_columns(ds, {KEEP_COLUMN: self.keep, REASON_COLUMN: self._reasons, **self.columns})

    def as_filter(self) -> Callable:
        """A function for ``ds.filter(fn, with_indices=True)`` (batched or not) keeping the selected rows.

        Works only on the dataset the selection was fitted on: it looks rows up by index.
        """
        keep = np.asarray(self.keep)

        def qaq_selection_filter(example, idx):  # one index: a bool; a batch of them: a list of bools
            return keep[np.asarray(idx, np.int64)].tolist()

        return qaq_selection_filter

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in self.report.get("drop_reasons", {}).items())
        return f"Selection(rows_in={self.rows_in}, rows_kept={int(self.keep.sum())}, dropped: {reasons or 'none'})"
