"""Steps that drop rows: by a condition on a column, by outlier fences, by rank extremes, by the keep_top budget."""

from __future__ import annotations

import math
import operator
from dataclasses import KW_ONLY
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import INT_MAX, ConfigError, ConfigTypeError, check_int, check_number, shown
from .ranking import robust_fences, top_rows
from .scores import measure_of, value_stats
from .steps import NAN_SCORE, STRING, FitState, Step, is_number, register_step

#: the drop reason of the rows outside keep_top's budget (a user's drop_where reason may not take it)
BELOW_CUT = "below_cut"
#: drop_where operators → the word used in default reasons (and the ``operator`` function for numbers)
OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne", "in": "in", "not in": "not_in"}


@register_step
class DropWhere(Step):
    """Drop rows where ``column <op> value`` holds (missing values never match; see ``keep_nan``).

    ``op`` is one of ``<  <=  >  >=  ==  !=  in  not in``; strings work with ``== != in not in``.
    With ``divide_by``, the ratio ``column / divide_by`` is compared (``<  <=  >  >=``). The decision for a
    row reads that row alone, so no mix of other rows can move it.
    ``reason`` defaults to ``{column}_{op word}_{value}`` (e.g. ``weak_ifd_gt_1``).

    Input columns: ``column`` (numeric, or string for string values), ``divide_by`` (numeric).
    Output columns: none.

    Examples:
        >>> Selector().drop_where("strong_ifd", ">", 1, reason="ifd_gt_1")
        >>> Selector().drop_where("strong_status", "not in", ["ok", "truncated"], reason="not_ok_status")
        >>> Selector().drop_where("weak_rmi", "<", 0.1, divide_by="weak_nll_q", reason="rmi_low")
    """

    kind = "drop_where"
    column: str
    op: str
    value: Any
    _: KW_ONLY
    reason: str | None = None
    divide_by: str | None = None

    def validate(self):
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ConfigError(f"drop_where op must be one of {', '.join(map(repr, OPS))}; got {shown(self.op)}.")
        many = self.op in ("in", "not in")
        if many and not (isinstance(self.value, (list, tuple, set, frozenset)) and self.value):
            raise ConfigTypeError(f"drop_where {self.op!r} needs a non-empty list of values, got {shown(self.value)}.")
        values = (sorted if isinstance(self.value, (set, frozenset)) else list)(self.value if many else [self.value])
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        strings = all(isinstance(v, str) for v in values)
        if not strings and not all(is_number(v) for v in values):
            raise ConfigTypeError(f"drop_where values must be all strings or all numbers, got {shown(self.value)}.")
        if strings and self.op in ("<", "<=", ">", ">="):
            raise ConfigError(f"drop_where {self.op!r} compares numbers; got the string {shown(self.value)}.")
        if not strings and any(math.isnan(v) for v in values):
            raise ConfigError("drop_where value must not be NaN (missing values are dropped as nan_score).")
        if self.reason in (NAN_SCORE, BELOW_CUT, "kept"):  # a count of these must mean what the library says
            raise ConfigError(f"drop_where reason {self.reason!r} is one the library gives; name your own reason.")
        if self.divide_by is not None and self.op not in ("<", "<=", ">", ">="):
            raise ConfigError(f"drop_where divide_by= compares a ratio with < <= > >=, not {self.op!r}.")
        object.__setattr__(self, "value", tuple(values) if many else values[0])
        object.__setattr__(self, "_values", tuple(values))  # not a field: not a parameter, not compared

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in super().params().items() if k != "divide_by" or self.divide_by}

    def inputs(self):
        return [(self.column, STRING)] if isinstance(self._values[0], str) else super().inputs()  # no divide_by there

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        if isinstance(self._values[0], str):  # ==, !=, in, not in: membership, negated below
            col = state.table[self.column]
            hit = pc.is_in(col, value_set=pa.array(self._values, type=col.type)).to_numpy()  # a null row: False
        elif self.op in ("<", "<=", ">", ">="):
            # x / 0 is ±inf (compared as such); 0 / 0 is NaN, which matches no comparison
            hit = getattr(operator, OPS[self.op])(state.ratio(self.column, self.divide_by), float(self.value))
        else:
            hit = np.isin(state.numeric(self.column), np.asarray(self._values, float))
        if self.op in ("!=", "not in"):
            hit = ~hit
        column = f"{self.column}_per_{self.divide_by}" if self.divide_by else self.column
        value = self.value if isinstance(self.value, (str, tuple)) else format(self.value, "g")
        reason = self.reason or f"{column}_{OPS[self.op]}" + ("" if isinstance(value, tuple) else f"_{value}")
        return {"reason": reason, "matched": state.drop(hit & valid, reason)}


@register_step
class DropOutliers(Step):
    """Drop the rows whose ``column`` is an outlier of its bin, with fences fitted to the data.

    In each bin of the latest ``stratify``, the fences are median − ``low`` × scale and median + ``high`` ×
    scale, with scale = 1.4826 × MAD (median absolute deviation: the standard deviation for normal data),
    refitted on the rows inside them (three fits at most). No fraction is assumed: with no defects a bin
    loses few rows, and with many the refits keep the fences on the clean rows, as long as the first fence
    catches the outliers: a bin with ~40% outliers has about twice the clean rows' MAD, so a close cluster
    can slip inside wide fences (3 scales), not inside narrower ones. The fences are fitted on the bin's own
    rows, so a dense cluster of defects can pull them onto itself; the ``default`` preset uses row-local
    thresholds at the method's anchors instead (``drop_where(..., divide_by=...)``). ``None`` on one side
    keeps that side.
    Reasons ``{measure}_low`` / ``{measure}_high`` (``rmi_low``, ``rmi_high`` for ``weak_rmi``); the
    fitted fences are in the step's report (``fences``: bin, rows, median, scale, low, high) and its notes.

    Input columns: ``column`` (numeric).
    Output columns: none.

    Examples:
        >>> Selector().stratify("weak_nll_q", bins=10).drop_outliers("weak_rmi", low=2.0, high=3.0)
        >>> Selector().stratify("weak_nll_q").drop_outliers("weak_nll_end", low=None, high=3.0)
    """

    kind = "drop_outliers"
    needs = (("stratify",), "drop_outliers() needs a stratify() step before it (stratify(column, bins=1) for one "
                            "global fence).")
    intervals = {"low": "(0, inf)", "high": "(0, inf)"}  # a number of scales, or None: no fence on that side
    column: str
    low: float | None = 3.0
    high: float | None = 3.0

    def validate(self):
        if self.low is None and self.high is None:
            raise ConfigError("drop_outliers needs low=, high= or both (a number of scales from the median).")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        x, bins = state.numeric(self.column), state.bins
        lo, hi, fences, reasons = np.full(state.n, -np.inf), np.full(state.n, np.inf), [], {}
        for b in range(bins.count):
            rows = valid & (bins.of_row == b)
            med, scale, low, high = robust_fences(x[rows], self.low, self.high)  # ±inf (None in the report): no fence
            lo[rows], hi[rows] = low, high
            fences.append({"bin": b, "rows": int(rows.sum()), "median": med, "scale": scale, "low": low, "high": high})
        for side, out in (("low", x < lo), ("high", x > hi)):
            if getattr(self, side) is None:
                continue
            reason = f"{measure_of(self.column)}_{side}"
            reasons[reason] = state.drop(valid & out, reason)
            finite = [f[side] for f in fences if math.isfinite(f[side])]
            span = f"{min(finite):.3g} to {max(finite):.3g}" if finite else "none"
            state.notes.append(f"step {index} (drop_outliers {self.column}): {side} fences {span} in {bins.count} "
                               f"bins of {bins.column}; {reasons[reason]} rows dropped as {reason}.")
        return {"column": self.column, "reasons": reasons, "fences": fences}


@register_step
class DropExtremes(Step):
    """Drop rows whose latest rank is ``< low`` (reason ``{measure}_low``) or ``> high`` (``{measure}_high``).

    For an RMI rank the reasons are ``rmi_low`` (answer unrelated to the question) and
    ``rmi_high`` (answer echoing the question). ``low`` in [0, 1), ``high`` in (0, 1], low < high.
    Needs a ``rank`` before it.

    Input columns: none (reads the latest rank).
    Output columns: none.

    Examples:
        >>> Selector().stratify("strong_nll_q").rank("strong_rmi").drop_extremes(low=0.1, high=0.95)
    """

    kind = "drop_extremes"
    needs = (("rank",), "drop_extremes() needs a rank() step (after a stratify()) before it.")
    intervals = {"low": "[0, 1)", "high": "(0, 1]"}
    low: float = 0.1
    high: float = 0.95

    def validate(self):
        if self.low >= self.high:
            raise ConfigError(f"drop_extremes needs low < high, got low={self.low}, high={self.high}.")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        column, rank = state.ranked
        has_rank = state.alive & ~np.isnan(rank)  # NaN ranks only exist with keep_nan: they pass
        ends = {f"{measure_of(column)}_low": rank < self.low, f"{measure_of(column)}_high": rank > self.high}
        return {"rank_column": column, "reasons": {r: state.drop(has_rank & out, r) for r, out in ends.items()}}


@register_step
class KeepTop(Step):
    """Keep the ``n`` best alive rows by the current score; drop the rest as ``below_cut``.

    ``n`` is a fraction in (0, 1] (a float: of the rows the plan is fitted on, *not* of the
    survivors; rounded half up, at least 1) or a row count >= 1 (an int; ``1`` = one row,
    ``1.0`` = every row). When fewer rows survive, all are kept and the report notes it. Ties:
    by score, then row index ascending; rows with a NaN score (``keep_nan``) come last.

    Input columns: none (reads the current score).
    Output columns: none.

    Examples:
        >>> Selector().score("strong_nll_a_given_q", ascending=True).keep_top(1000)
    """

    kind = "keep_top"
    needs = (("rank", "gap", "score", "closest_to", "typical", "random"),  # the steps that set a score
             "keep_top() needs a score before it: add rank(), gap(), score(), closest_to() or random().")
    n: int | float

    def validate(self):  # a row count (int), else a fraction: check_number refuses anything but a number in (0, 1]
        n = self.n
        object.__setattr__(self, "n", check_int(n, "keep_top row count", 1, INT_MAX) if isinstance(n, (int, np.integer))
                           else float(check_number(n, "keep_top n (a fraction, or an int row count)", "(0, 1]")))

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        score, survivors = state.score, int(state.alive.sum())
        # the budget: n itself for a count, else round-half-up(n × rows in), at least 1 (0 of 0 rows)
        budget = self.n if isinstance(self.n, int) else max(1, math.floor(self.n * state.n + 0.5)) if state.n else 0
        if survivors < budget:
            state.warn(f"step {index} (keep_top): only {survivors} rows survived the earlier steps, fewer than the "
                       f"budget of {budget} (not filled); all of them were kept.")
        cut_off = state.alive.copy()  # every survivor outside the budget (none when they all fit)
        cut_off[top_rows(score.values, state.alive, budget, score.ascending)] = False
        state.drop(cut_off, BELOW_CUT)
        cut = value_stats(score.values[state.alive])["max" if score.ascending else "min"]  # None: no finite score
        # ties_at_cut_dropped: rows scoring exactly the cut that the row-index tie rule left out
        return {"score": score.name, "ascending": score.ascending, "basis_rows": state.n, "budget": budget,
                "survivors": survivors, "kept": int(state.alive.sum()), "shortfall": max(0, budget - survivors),
                "cut": cut, "ties_at_cut_dropped": int((score.values[cut_off] == cut).sum()) if cut is not None else 0}
