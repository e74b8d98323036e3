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
from ..scoring.schema import ScoreColumns
from .ranking import quantile_bins, within_bin_rank
from .steps import Context, FitState, Score, Step, check_unit


#: the most bins ``stratify`` takes: each bin must hold rows to rank (the paper uses 10; 10,000 bins is still 100 rows
#: a bin at a million rows), and a fit's memory grows with the bins asked for, whatever the rows (quantile edges)
MAX_BINS = 10_000


def _stats(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    return {k: float(getattr(finite, k)()) if finite.size else None for k in ("min", "max", "mean")}


def measure_of(column: str) -> str:
    """The score name of a contract column (``"weak_rmi"`` → ``"rmi"``), else the column itself."""
    split = ScoreColumns.parse(column)
    return split[1] if split else column


@dataclass(frozen=True)
class Stratify(Step):
    """Quantile bins of ``column`` over the alive rows; later ``rank`` steps rank within them."""

    kind = "stratify"
    column: str
    bins: int = 10
    min_rows: int = 2

    def validate(self):
        if self.bins > MAX_BINS:  # the value itself may be a number of any size: not repeated
            raise ConfigError(f"stratify bins must be an integer from 1 to {MAX_BINS}; this plan asks for more.")

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


@dataclass(frozen=True)
class Rank(Step):
    """Normalised within-bin rank of ``column`` in the current bins (output ``{column}_rank``)."""

    kind = "rank"
    column: str
    name: str | None = None

    def outputs(self):
        return [self.name or f"{self.column}_rank"]

    def check(self, ctx: Context) -> None:
        if ctx.bins is None:
            raise ConfigError(f"rank({self.column!r}) needs a stratify() step before it "
                              "(use stratify(column, bins=1) for one global rank).")

    def advance(self, ctx: Context) -> None:
        super().advance(ctx)
        ctx.rank_column = self.column

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        output, rank = self.outputs()[0], within_bin_rank(state.reader.numeric(self.column), state.bins.of_row, valid)
        state.outputs[output], state.ranked, state.score = rank, (self.column, rank), Score(output, rank, False)
        return {"output": output, "bins_column": state.bins.column, "rows_ranked": int(np.isfinite(rank).sum())}


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

    def validate(self):
        if self.strong == self.weak:
            raise ConfigError(f"gap needs two different columns, got strong = weak = {self.strong!r}.")
        ps, pw = ScoreColumns.parse(self.strong), ScoreColumns.parse(self.weak)
        if ps and pw and ps[0] == pw[0]:
            raise ConfigError(f"gap compares two models, but {self.strong!r} and {self.weak!r} come from the same "
                              f"model prefix {ps[0]!r}; pass e.g. strong='strong_rmi', weak='weak_rmi'.")

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
        state.score = Score(self.name, diff, False)
        return {"bins_used": used, "rows_ranked": int(np.isfinite(diff).sum()), "gap": _stats(diff)}


@dataclass(frozen=True)
class ScoreBy(Step):
    """Make a numeric column (or ``column / divide_by``) the ``keep_top`` score (highest first unless ``ascending``)."""

    kind = "score"
    column: str
    ascending: bool = False
    divide_by: str | None = None
    name: str = "qaq_ratio"

    def validate(self):
        if not isinstance(self.ascending, bool):
            raise ConfigError(f"score ascending must be True or False, got {self.ascending!r}.")

    def outputs(self):
        return [self.name] if self.divide_by else []

    def advance(self, ctx: Context) -> None:
        super().advance(ctx)
        ctx.score = self.name if self.divide_by else self.column

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        values = state.reader.numeric(self.column)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(valid, values / state.reader.numeric(self.divide_by) if self.divide_by else values,
                              np.nan)
        state.outputs.update({self.name: values} if self.divide_by else {})
        state.score = Score(self.name if self.divide_by else self.column, values, self.ascending)
        return _stats(values)


@dataclass(frozen=True)
class ClosestTo(Step):
    """Score rows by ``|rank - center|`` of the latest rank, smallest first (a band around center)."""

    kind = "closest_to"
    center: float = 0.5
    name: str = "qaq_center_distance"

    def validate(self):
        object.__setattr__(self, "center", check_unit(self.center, "closest_to center", "[0, 1]"))

    def outputs(self):
        return [self.name]

    def check(self, ctx: Context) -> None:
        if ctx.rank_column is None:
            raise ConfigError("closest_to() needs a rank() step before it (it measures distance from a rank).")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        column, rank = state.ranked
        state.outputs[self.name] = distance = np.where(state.alive, np.abs(rank - self.center), np.nan)
        state.score = Score(self.name, distance, True)
        return {"rank_column": column, **_stats(distance)}


@dataclass(frozen=True)
class Random(Step):
    """A uniform random score per row from ``numpy.random.Generator(PCG64(seed))``."""

    kind = "random"
    seed: int = 0
    name: str = "qaq_random"

    def outputs(self):
        return [self.name]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        # one draw per dataset row, so a row's value depends only on (seed, row index)
        state.outputs[self.name] = values = np.random.Generator(np.random.PCG64(self.seed)).random(state.n)
        state.score = Score(self.name, values, False)
        return {"seed": self.seed}
