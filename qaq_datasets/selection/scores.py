"""Steps that compute things: quantile bins, within-bin ranks, the cognitive gap, ranking scores.

None of these drops a row (apart from rows with missing values, which the fit loop handles); they
set the current bins (``stratify``), the latest rank (``rank``) and the score ``keep_top`` ranks by
(``rank``, ``gap``, ``score``, ``closest_to``, ``random``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..scoring.schema import split_prefix
from .columns import NUMERIC
from .ranking import quantile_bins, within_bin_rank
from .state import FitState, Ranked, Score
from .steps import Context, Step, check_column_name, check_int, check_unit, register


def _stats(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"min": None, "max": None, "mean": None}
    return {"min": float(finite.min()), "max": float(finite.max()), "mean": float(finite.mean())}


def measure_of(column: str) -> str:
    """The score name of a contract column (``"weak_rmi"`` → ``"rmi"``), else the column itself."""
    split = split_prefix(column)
    return split[1] if split else column


@register
@dataclass(frozen=True)
class Stratify(Step):
    """Quantile bins of ``column`` over the alive rows; later ``rank`` steps rank within them."""

    kind = "stratify"
    column: str
    bins: int = 10
    min_rows: int = 2

    def __post_init__(self):
        check_column_name(self.column)
        object.__setattr__(self, "bins", check_int(self.bins, "stratify bins", 1))
        object.__setattr__(self, "min_rows", check_int(self.min_rows, "stratify min_rows", 1))

    def inputs(self):
        return [(self.column, NUMERIC)]


    def advance(self, ctx: Context) -> None:
        super().advance(ctx)
        ctx.bins, ctx.min_rows = self.bins, self.min_rows

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        bins = quantile_bins(self.column, state.reader.numeric(self.column), valid, self.bins, self.min_rows)
        state.bins = bins
        state.stratifications.append((index, None, bins))
        if bins.collapsed or bins.merged:
            state.notes.append(f"step {index} (stratify {self.column}): {self.bins} bins requested, {bins.count} used "
                               f"({bins.collapsed} lost to tied quantile edges, {bins.merged} merged for having fewer "
                               f"than {self.min_rows} rows).")
        return {"bins_used": bins.count, "collapsed_by_ties": bins.collapsed, "merged_small": bins.merged,
                "edges": [float(x) for x in bins.low[1:]]}


@register
@dataclass(frozen=True)
class Rank(Step):
    """Normalised within-bin rank of ``column`` in the current bins (output ``{column}_rank``)."""

    kind = "rank"
    column: str
    name: str | None = None

    def __post_init__(self):
        check_column_name(self.column)
        if self.name is not None:
            check_column_name(self.name, "rank name")

    @property
    def output(self) -> str:
        return self.name or f"{self.column}_rank"

    def inputs(self):
        return [(self.column, NUMERIC)]

    def outputs(self):
        return [self.output]

    def check(self, ctx: Context) -> None:
        if ctx.bins is None:
            raise ConfigError(f"rank({self.column!r}) needs a stratify() step before it "
                              "(use stratify(column, bins=1) for one global rank).")

    def advance(self, ctx: Context) -> None:
        super().advance(ctx)
        ctx.rank_column = self.column

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        values = state.reader.numeric(self.column)
        rank = within_bin_rank(values, state.bins.of_row, valid)
        state.outputs[self.output] = rank
        state.ranked = Ranked(self.column, rank)
        state.score = Score(self.output, rank, ascending=False)
        return {"output": self.output, "bins_column": state.bins.column, "rows_ranked": int(np.isfinite(rank).sum())}


@register
@dataclass(frozen=True)
class Gap(Step):
    """Cognitive gap ``r_strong - r_weak`` of two models' within-bin ranks (output ``qaq_gap``)."""

    kind = "gap"
    strong: str
    weak: str
    strong_by: str
    weak_by: str
    bins: int
    min_rows: int = 2
    name: str = "qaq_gap"

    def __post_init__(self):
        for what in ("strong", "weak", "strong_by", "weak_by", "name"):
            check_column_name(getattr(self, what), f"gap {what}")
        object.__setattr__(self, "bins", check_int(self.bins, "gap bins", 1))
        object.__setattr__(self, "min_rows", check_int(self.min_rows, "gap min_rows", 1))
        if self.strong == self.weak:
            raise ConfigError(f"gap needs two different columns, got strong = weak = {self.strong!r}.")
        ps, pw = split_prefix(self.strong), split_prefix(self.weak)
        if ps and pw and ps[0] == pw[0]:
            raise ConfigError(f"gap compares two models, but {self.strong!r} and {self.weak!r} come from the same "
                              f"model prefix {ps[0]!r}; pass e.g. strong='strong_rmi', weak='weak_rmi'.")

    def inputs(self):
        return [(c, NUMERIC) for c in dict.fromkeys((self.strong, self.weak, self.strong_by, self.weak_by))]

    def outputs(self):
        return [self.name, f"{self.name}_strong_rank", f"{self.name}_weak_rank"]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        read = state.reader.numeric
        ranks, used = {}, {}
        for label, column, by in (("weak", self.weak, self.weak_by), ("strong", self.strong, self.strong_by)):
            b = quantile_bins(by, read(by), valid, self.bins, self.min_rows)
            state.stratifications.append((index, label, b))
            ranks[label], used[label] = within_bin_rank(read(column), b.of_row, valid), b.count
            if b.collapsed or b.merged:
                state.notes.append(f"step {index} (gap, {label} bins of {b.column}): {self.bins} requested, "
                                   f"{b.count} used.")
        diff = ranks["strong"] - ranks["weak"]
        state.outputs.update({self.name: diff, **{f"{self.name}_{k}_rank": v for k, v in ranks.items()}})
        state.score = Score(self.name, diff, ascending=False)
        return {"bins_used": used, "rows_ranked": int(np.isfinite(diff).sum()), "gap": _stats(diff)}


@register
@dataclass(frozen=True)
class ScoreBy(Step):
    """Make a numeric column (or ``column / divide_by``) the ``keep_top`` score (highest first unless ``ascending``)."""

    kind = "score"
    column: str
    ascending: bool = False
    divide_by: str | None = None
    name: str = "qaq_ratio"

    def __post_init__(self):
        check_column_name(self.column)
        check_column_name(self.name, "score name")
        if self.divide_by is not None:
            check_column_name(self.divide_by, "score divide_by")
        if not isinstance(self.ascending, bool):
            raise ConfigError(f"score ascending must be True or False, got {self.ascending!r}.")

    def inputs(self):
        return [(c, NUMERIC) for c in (self.column, self.divide_by) if c is not None]

    def outputs(self):
        return [self.name] if self.divide_by else []

    def advance(self, ctx: Context) -> None:
        super().advance(ctx)
        ctx.score = self.name if self.divide_by else self.column

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        values = state.reader.numeric(self.column)
        if self.divide_by:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = values / state.reader.numeric(self.divide_by)
        values = np.where(valid, values, np.nan)
        if self.divide_by:
            state.outputs[self.name] = values
        state.score = Score(self.name if self.divide_by else self.column, values, ascending=self.ascending)
        return _stats(values)


@register
@dataclass(frozen=True)
class ClosestTo(Step):
    """Score rows by ``|rank - center|`` of the latest rank, smallest first (a band around center)."""

    kind = "closest_to"
    center: float = 0.5
    name: str = "qaq_center_distance"

    def __post_init__(self):
        object.__setattr__(
            self, "center", check_unit(self.center, "closest_to center", open_low=False, open_high=False)
        )
        check_column_name(self.name, "closest_to name")

    def outputs(self):
        return [self.name]

    def check(self, ctx: Context) -> None:
        if ctx.rank_column is None:
            raise ConfigError("closest_to() needs a rank() step before it (it measures distance from a rank).")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        rank = state.ranked.rank
        distance = np.where(state.alive, np.abs(rank - self.center), np.nan)
        state.outputs[self.name] = distance
        state.score = Score(self.name, distance, ascending=True)
        return {"rank_column": state.ranked.column, **_stats(distance)}


@register
@dataclass(frozen=True)
class Random(Step):
    """A uniform random score per row from ``numpy.random.Generator(PCG64(seed))``."""

    kind = "random"
    seed: int = 0
    name: str = "qaq_random"

    def __post_init__(self):
        object.__setattr__(self, "seed", check_int(self.seed, "random seed", 0))
        check_column_name(self.name, "random name")

    def outputs(self):
        return [self.name]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        # one draw per dataset row, so a row's value depends only on (seed, row index)
        values = np.random.Generator(np.random.PCG64(self.seed)).random(state.n)
        state.outputs[self.name] = values
        state.score = Score(self.name, values, ascending=False)
        return {"seed": self.seed}
