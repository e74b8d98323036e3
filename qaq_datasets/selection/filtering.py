"""Steps that drop rows: by a condition on a column, by rank extremes, and by the keep_top budget."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ConfigTypeError
from .columns import NUMERIC, STRING
from .ranking import per_bin_range, top_rows
from .state import FitState
from .steps import Context, Step, check_budget, check_column_name, check_unit, register

#: drop_where operators → the word used in default reasons
OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne", "in": "in", "not in": "not_in"}
_NUMPY_OPS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}

#: drop reason of rows that survive every filter but fall outside keep_top's budget
BELOW_CUT = "below_cut"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _plain(v: Any) -> Any:
    """numpy scalars → Python scalars (plans must serialise)."""
    return v.item() if isinstance(v, np.generic) else v


@register
@dataclass(frozen=True)
class DropWhere(Step):
    """Drop alive rows where ``column <op> value`` holds, with ``reason``."""

    kind = "drop_where"
    column: str
    op: str
    value: Any
    reason: str | None = None

    def __post_init__(self):
        check_column_name(self.column)
        if self.op not in OPS:
            raise ConfigError(f"drop_where op must be one of {', '.join(map(repr, OPS))}; got {self.op!r}.")
        if self.op in ("in", "not in"):
            if isinstance(self.value, (str, bytes)) or not isinstance(self.value, (list, tuple, set, frozenset)):
                raise ConfigTypeError(f"drop_where {self.op!r} needs a list of values, got {self.value!r}.")
            values = tuple(_plain(v) for v in self.value)
            if not values:
                raise ConfigError(f"drop_where {self.op!r} needs at least one value.")
            if not (all(isinstance(v, str) for v in values) or all(_is_number(v) for v in values)):
                raise ConfigTypeError(f"drop_where values must be all strings or all numbers, got {values!r}.")
            if isinstance(self.value, (set, frozenset)):
                values = tuple(sorted(values))
            object.__setattr__(self, "value", values)
        else:
            value = _plain(self.value)
            if isinstance(value, str):
                if self.op not in ("==", "!="):
                    raise ConfigError(f"drop_where {self.op!r} compares numbers; got the string {value!r}.")
            elif not _is_number(value):
                raise ConfigTypeError(f"drop_where value must be a number or a string, got {value!r}.")
            elif math.isnan(value):
                raise ConfigError("drop_where value must not be NaN (missing values are dropped as nan_score).")
            object.__setattr__(self, "value", value)
        if self.reason is not None:
            check_column_name(self.reason, "drop_where reason")

    @property
    def _strings(self) -> bool:
        v = self.value[0] if isinstance(self.value, tuple) else self.value
        return isinstance(v, str)

    @property
    def drop_reason(self) -> str:
        if self.reason:
            return self.reason
        word = OPS[self.op]
        if isinstance(self.value, tuple):
            return f"{self.column}_{word}"
        shown = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.column}_{word}_{shown}"

    def inputs(self):
        return [(self.column, STRING if self._strings else NUMERIC)]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        if self._strings:
            values = self.value if isinstance(self.value, tuple) else (self.value,)
            hit = state.reader.string_isin(self.column, values)
            if self.op in ("!=", "not in"):
                hit = ~hit
        else:
            x = state.reader.numeric(self.column)
            if self.op in ("in", "not in"):
                hit = np.isin(x, np.asarray(self.value, dtype=np.float64))
                if self.op == "not in":
                    hit = ~hit
            else:
                hit = _NUMPY_OPS[self.op](x, float(self.value))
        dropped = state.drop(hit & valid, self.drop_reason)
        return {"reason": self.drop_reason, "matched": dropped}


@register
@dataclass(frozen=True)
class DropExtremes(Step):
    """Drop rows whose latest rank is below ``low`` (``{measure}_low``) or above ``high`` (``{measure}_high``)."""

    kind = "drop_extremes"
    low: float = 0.1
    high: float = 0.95

    def __post_init__(self):
        low = check_unit(self.low, "drop_extremes low", open_low=False, open_high=True)
        high = check_unit(self.high, "drop_extremes high", open_low=True, open_high=False)
        if low >= high:
            raise ConfigError(f"drop_extremes needs low < high, got low={low}, high={high}.")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def check(self, ctx: Context) -> None:
        if ctx.rank_column is None:
            raise ConfigError("drop_extremes() needs a rank() step (after a stratify()) before it.")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        ranked = state.ranked
        rank = ranked.rank
        has_rank = state.alive & ~np.isnan(rank)  # NaN ranks only exist with keep_nan: they pass
        low_reason, high_reason = f"{ranked.measure}_low", f"{ranked.measure}_high"
        n_low = state.drop(has_rank & (rank < self.low), low_reason)
        n_high = state.drop(has_rank & (rank > self.high), high_reason)
        values = state.reader.numeric(ranked.column)
        bins = ranked.bins
        lo, hi = per_bin_range(values, bins.of_row, state.alive, bins.count)
        return {
            "rank_column": ranked.column,
            "reasons": {low_reason: n_low, high_reason: n_high},
            "kept_range": [
                {"bin": b, "low": float(lo[b]), "high": float(hi[b])} for b in range(bins.count)
            ],
        }


@register
@dataclass(frozen=True)
class KeepTop(Step):
    """Keep the best ``n`` alive rows by the current score; ``n`` is a fraction of the rows IN."""

    kind = "keep_top"
    n: int | float = 0.25

    def __post_init__(self):
        object.__setattr__(self, "n", check_budget(self.n))

    def check(self, ctx: Context) -> None:
        if ctx.score is None:
            raise ConfigError(
                "keep_top() needs a score before it: add rank(), gap(), score(), closest_to() or random()."
            )

    def budget(self, rows_in: int) -> int:
        """Rows to keep: ``n`` itself for a count, else round-half-up(n × rows_in), at least 1."""
        if isinstance(self.n, int):
            return self.n
        if rows_in == 0:
            return 0
        return max(1, math.floor(self.n * rows_in + 0.5))

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        score = state.score
        budget = self.budget(state.n)
        survivors = state.alive_count
        cut_off = np.zeros(state.n, dtype=bool)
        if survivors <= budget:
            if survivors < budget:
                state.notes.append(
                    f"step {index} (keep_top): only {survivors} rows survived the earlier steps, fewer "
                    f"than the budget of {budget}; all of them were kept."
                )
        else:
            cut_off = state.alive.copy()
            cut_off[top_rows(score.values, state.alive, budget, score.ascending)] = False
            state.drop(cut_off, BELOW_CUT)
        kept_scores = score.values[state.alive]
        finite = kept_scores[np.isfinite(kept_scores)]
        cut = float(finite.max() if score.ascending else finite.min()) if finite.size else None
        return {
            "score": score.name,
            "ascending": score.ascending,
            "basis_rows": state.n,
            "budget": budget,
            "survivors": survivors,
            "kept": state.alive_count,
            "shortfall": max(0, budget - survivors),
            "cut": cut,
            # rows scoring exactly the cut that the row-index tie rule left out
            "ties_at_cut_dropped": int((score.values[cut_off] == cut).sum()) if cut is not None else 0,
        }
