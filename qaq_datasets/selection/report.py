"""The fit report: a JSON-serialisable dict of what happened to the rows, bin by bin and step by step.

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
    plan             the plan dict (``Selector.to_dict()``)

``low``/``high`` are the smallest/largest value of the column in the bin (for an NLL column, also as
perplexities ``ppl_low``/``ppl_high`` = exp(nll)); ``rows`` counts the rows binned when the
stratification was fitted, ``kept`` those of them finally selected. Non-finite floats become None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._version import __version__
from .ranking import Bins


def jsonable(obj: Any) -> Any:
    """Deep-convert numpy scalars/arrays and tuples to JSON types; NaN and ±inf become None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def bins_table(bins: Bins, keep: np.ndarray) -> list[dict[str, Any]]:
    """One entry per bin: value range, rows binned, and how many of those were kept / dropped."""
    kept = np.bincount(bins.of_row[keep & (bins.of_row >= 0)], minlength=bins.count)
    nll = "nll" in bins.column
    table = []
    for b in range(bins.count):
        entry = {"bin": b, "low": float(bins.low[b]), "high": float(bins.high[b]), "rows": int(bins.rows[b]),
                 "kept": int(kept[b]), "dropped": int(bins.rows[b] - kept[b])}
        if nll:
            with np.errstate(over="ignore"):  # inf: None in the JSON
                entry["ppl_low"], entry["ppl_high"] = np.exp([entry["low"], entry["high"]]).tolist()
        table.append(entry)
    return table


def build_report(*, rows_in: int, keep: np.ndarray, drop_reasons: dict[str, int], kept_with_missing: int,
                 stratifications: list[tuple[int, str | None, Bins]], steps: list[dict[str, Any]], notes: list[str],
                 plan: dict[str, Any]) -> dict[str, Any]:
    rows_kept = int(keep.sum())
    for index, label, bins in stratifications:  # attach each step's bins table(s)
        fitted = steps[index]["fitted"]
        if label is None:
            fitted["bins"] = bins_table(bins, keep)
        else:
            fitted.setdefault("bins", {})[label] = bins_table(bins, keep)
    first = stratifications[0][2] if stratifications else None
    cut = [s["fitted"] for s in steps if s["step"] == "keep_top"][-1:]
    if rows_kept == 0:
        why = ", ".join(f"{n} {r}" for r, n in drop_reasons.items()) or "the dataset has no rows"
        notes = [*notes, f"no row was kept ({why})."]
    return jsonable({
        "library_version": __version__, "rows_in": rows_in, "rows_kept": rows_kept, "rows_dropped": rows_in - rows_kept,
        "drop_reasons": drop_reasons, "budget": cut[0]["budget"] if cut else None,
        "shortfall": cut[0]["shortfall"] if cut else 0, "kept_with_missing": kept_with_missing,
        "bins_column": first.column if first else None, "bins": bins_table(first, keep) if first else [],
        "steps": steps, "notes": notes, "plan": plan,
    })
