"""Steps that compute things: quantile bins, within-bin ranks, the cognitive gap, ranking scores.

None of these drops a row (apart from rows with missing values, which the fit loop handles); they
set the current bins (``stratify``), the latest rank (``rank``) and the score ``keep_top`` ranks by
(``rank``, ``gap``, ``score``, ``closest_to``, ``typical``, ``random``).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, ConfigTypeError, shown
from ..scoring.schema import ScoreColumns
from .ranking import Bins, quantile_bins, within_bin_rank
from .steps import NUMERIC, FitState, Score, Step, is_number, register_step


def value_stats(values: np.ndarray) -> dict[str, float | None]:
    """min, max and mean of the finite values (None without one)."""
    finite = values[np.isfinite(values)]
    return {k: float(getattr(finite, k)()) if finite.size else None for k in ("min", "max", "mean")}


def measure_of(column: str) -> str:
    """The score name of a contract column (``"weak_rmi"`` → ``"rmi"``), else the column itself."""
    return (ScoreColumns.parse(column) or (None, column))[1]


def bin_rows(state: FitState, valid, index: int, label: str | None, column: str, bins: int, min_rows: int) -> Bins:
    """Quantile bins of ``column`` over the ``valid`` rows, recorded in ``state`` for step ``index`` (``label``: gap's
    ``"weak"``/``"strong"``, else None), with a note when tied edges collapsed bins or small ones were merged."""
    b = quantile_bins(column, state.numeric(column), valid, bins, min_rows)
    state.stratifications.append((index, label, b))
    if b.collapsed or b.merged:
        state.notes.append(f"step {index} ({f'gap, {label}' if label else 'stratify'} bins of {column}): {bins} bins "
                           f"requested, {b.count} used ({b.collapsed} lost to tied quantile edges, {b.merged} merged "
                           f"for having fewer than {min_rows} rows).")
    return b


@register_step
class Stratify(Step):
    """Split the alive rows into ``bins`` equal-count quantile bins of ``column``.

    Later ``rank`` steps rank within these bins (RMI is heteroscedastic in PPL(Q), so rank it
    within bins of ``{p}nll_q``). Tied values never straddle two bins, so tied quantile edges
    collapse bins; then bins with fewer than ``min_rows`` rows are merged into a neighbour. Both
    are reported (``notes``, the step's ``fitted``); there is never a division by zero.
    ``bins=1`` gives one global bin; at most ``MAX_BINS`` (10,000). More bins than dataset rows is no error (the notes
    say what was used).

    Input columns: ``column`` (numeric, e.g. ``weak_nll_q``).
    Output columns: none (the bins appear in the report).

    Examples:
        >>> Selector().stratify("weak_nll_q", bins=10).rank("weak_rmi")
    """

    kind = "stratify"
    column: str
    bins: int = 10
    _: KW_ONLY
    min_rows: int = 2

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        state.bins = b = bin_rows(state, valid, index, None, self.column, self.bins, self.min_rows)
        return {"bins_used": b.count, "collapsed_by_ties": b.collapsed, "merged_small": b.merged,
                "edges": [float(x) for x in b.low[1:]]}


@register_step
class Rank(Step):
    """Normalised rank in [0, 1] of ``column`` within the latest ``stratify`` bins.

    0 = smallest value of its bin, 1 = largest; equal values share their average rank; a bin
    with one row gives 0.5. The rank becomes the current score (``keep_top`` keeps the highest)
    and the target of ``drop_extremes`` / ``closest_to``. Needs a ``stratify`` before it.

    Input columns: ``column`` (numeric, e.g. ``weak_rmi``).
    Output columns: ``name`` or ``{column}_rank`` (float64, NaN for rows not ranked).

    Examples:
        >>> Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.1, 0.95)
    """

    kind = "rank"
    needs = (("stratify",), "rank({self.column!r}) needs a stratify() step before it (use stratify(column, bins=1) "
                            "for one global rank).")
    column: str
    _: KW_ONLY
    name: str | None = None

    def outputs(self):
        return [self.name or f"{self.column}_rank"]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        output, rank = self.outputs()[0], within_bin_rank(state.numeric(self.column), state.bins.of_row, valid)
        state.outputs[output], state.ranked, state.score = rank, (self.column, rank), Score(output, rank, False)
        return {"output": output, "bins_column": state.bins.column, "rows_ranked": int(np.isfinite(rank).sum())}


def _model_nll_q(column: str, what: str) -> str:
    if (split := ScoreColumns.parse(column)) is None:
        raise ConfigError(f"gap cannot tell which model {shown(column)} comes from (it is not a '{{prefix}}rmi'-style "
                          f"score column); pass {what}_by='<that model's nll_q column>'.")
    return ScoreColumns(split[0]).nll_q


@register_step
class Gap(Step):
    """Cognitive gap Diff = r_strong − r_weak, each a within-bin rank under its own model's bins.

    ``strong`` and ``weak`` must come from different model prefixes. The strong rank is taken
    within quantile bins of ``strong_by`` (default: the strong column's ``{prefix}nll_q``), the
    weak rank within bins of ``weak_by`` (default ``{weak prefix}nll_q``), both over the rows
    alive at this step. ``bins``/``min_rows`` default to those of the latest ``stratify``; with
    no stratify before, ``bins`` must be given. Diff becomes the score (higher is kept first).

    Input columns: ``strong``, ``weak``, ``strong_by``, ``weak_by`` (numeric).
    Output columns: ``qaq_gap`` (Diff in [-1, 1]), ``qaq_gap_strong_rank``, ``qaq_gap_weak_rank``
    (prefix ``name`` instead of ``qaq_gap`` when given).

    Examples:
        >>> Selector().gap(strong="strong_rmi", weak="weak_rmi", bins=10).keep_top(0.25)
    """

    kind = "gap"
    strong: str
    weak: str
    _: KW_ONLY
    strong_by: str | None = None
    weak_by: str | None = None
    bins: int | None = None
    min_rows: int | None = None
    name: str = "qaq_gap"

    def validate(self):
        if self.strong == self.weak:
            raise ConfigError(f"gap needs two different columns, got strong = weak = {self.strong!r}.")
        ps, pw = ScoreColumns.parse(self.strong), ScoreColumns.parse(self.weak)
        if ps and pw and ps[0] == pw[0]:
            raise ConfigError(f"gap compares two models, but {self.strong!r} and {self.weak!r} come from the same "
                              f"model prefix {ps[0]!r}; pass e.g. strong='strong_rmi', weak='weak_rmi'.")

    def resolve(self, earlier: tuple[Step, ...]) -> Gap:
        last = next((s for s in reversed(earlier) if s.kind == "stratify"), None)  # whose bins it reuses
        if self.bins is None and last is None:
            raise ConfigError("gap() needs bins= or a stratify() step before it (whose bins it reuses).")
        return replace(self, bins=self.bins or last.bins, min_rows=self.min_rows or (2 if self.bins else last.min_rows),
                       strong_by=self.strong_by or _model_nll_q(self.strong, "strong"),
                       weak_by=self.weak_by or _model_nll_q(self.weak, "weak"))

    def outputs(self):
        return [self.name, f"{self.name}_strong_rank", f"{self.name}_weak_rank"]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        ranks, used = {}, {}
        for label, column, by in (("weak", self.weak, self.weak_by), ("strong", self.strong, self.strong_by)):
            b = bin_rows(state, valid, index, label, by, self.bins, self.min_rows)
            ranks[label], used[label] = within_bin_rank(state.numeric(column), b.of_row, valid), b.count
        diff = ranks["strong"] - ranks["weak"]
        state.outputs.update({self.name: diff, **{f"{self.name}_{k}_rank": v for k, v in ranks.items()}})
        state.score = Score(self.name, diff, False)
        return {"bins_used": used, "rows_ranked": int(np.isfinite(diff).sum()), "gap": value_stats(diff)}


@register_step
class ScoreBy(Step):
    """Make a raw column, or the ratio ``column / divide_by``, the score ``keep_top`` ranks by.

    ``ascending=False`` (default): higher is better, keep_top keeps the largest values (e.g. IFD).
    ``ascending=True``: lower is better, keep_top keeps the smallest (e.g. perplexity).
    With ``divide_by`` the ratio is also an output column named ``name`` (Cherry_LLM's IFD is the ratio
    of mean losses ``nll_a_given_q / nll_a``).

    Input columns: ``column`` and ``divide_by`` (numeric).
    Output columns: ``name`` (float64) when ``divide_by`` is given, else none.

    Examples:
        >>> Selector().drop_where("strong_ifd", ">", 1, reason="ifd_gt_1").score("strong_ifd").keep_top(0.25)
        >>> Selector().score("strong_nll_a_given_q", divide_by="strong_nll_a", name="qaq_ifd_ratio")
    """

    kind = "score"
    column: str
    _: KW_ONLY
    ascending: bool = False
    divide_by: str | None = None
    name: str = "qaq_ratio"

    def outputs(self):
        return [self.name] if self.divide_by else []

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        values = np.where(valid, state.ratio(self.column, self.divide_by), np.nan)
        state.outputs.update({self.name: values} if self.divide_by else {})
        state.score = Score(self.name if self.divide_by else self.column, values, self.ascending)
        return value_stats(values)


@register_step
class ClosestTo(Step):
    """Score rows by ``|rank − center|`` of the latest rank, closest first: keep_top then keeps a band.

    Input columns: none (reads the latest rank).
    Output columns: ``name`` (float64 distance, NaN for rows not ranked).

    Examples:
        >>> Selector().stratify("qaq_nll_q").rank("qaq_rmi").closest_to(0.5).keep_top(0.25)
    """

    kind = "closest_to"
    needs = (("rank",), "closest_to() needs a rank() step before it (it measures distance from a rank).")
    intervals = {"center": "[0, 1]"}
    center: float = 0.5
    _: KW_ONLY
    name: str = "qaq_center_distance"

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        state.outputs[self.name] = distance = np.where(state.alive, np.abs(state.ranked[1] - self.center), np.nan)
        state.score = Score(self.name, distance, True)
        return {"rank_column": state.ranked[0], **value_stats(distance)}


@register_step
class Typical(Step):
    """Score rows by their distance from a fixed profile of clean rows, closest first: the largest
    ``|value − center| / spread`` over the profile's columns. keep_top then keeps the rows most like clean ones in
    every column at once. A row's distance reads that row alone, so no mix of other rows (a dense cluster of
    defects included) can move it. The profile is numbers measured on rows known to be clean, with the same
    scorers: the default plan's come from the selection benchmark's tune half (docs/selection-benchmark.md).

    Input columns: the profile's columns (numeric).
    Output columns: ``name`` (float64 distance, NaN for rows not scored).

    Examples:
        >>> Selector().typical({"weak_nll_q_given_a": [1.65, 0.57], "weak_nll_a": [1.41, 0.77]}).keep_top(0.25)
    """

    kind = "typical"
    profile: dict
    _: KW_ONLY
    name: str = "qaq_typical_distance"

    def validate(self):
        if not isinstance(self.profile, dict) or not self.profile:
            raise ConfigTypeError(f"typical profile must map a column to [center, spread], got {shown(self.profile)}.")
        for column, cs in self.profile.items():
            if not (isinstance(column, str) and column and isinstance(cs, (list, tuple)) and len(cs) == 2
                    and all(is_number(v) and abs(v) <= 1e300 for v in cs) and cs[1] > 0):  # NaN, inf, 10**400: no
                raise ConfigError(f"typical profile: {shown(column)} needs [center, spread], two finite numbers with "
                                  f"spread > 0, got {shown(cs)}.")
        object.__setattr__(self, "profile", {c: [float(v) for v in cs] for c, cs in self.profile.items()})

    def inputs(self):
        return [(c, NUMERIC) for c in self.profile]

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        with np.errstate(over="ignore"):
            z = [np.abs(state.numeric(c) - m) / s for c, (m, s) in self.profile.items()]
        state.outputs[self.name] = distance = np.where(valid, np.max(z, axis=0), np.nan)
        if np.isinf(distance).any():  # finite values over a tiny spread: no order left to rank by
            raise ConfigError(f"typical profile {shown(self.profile)} puts {int(np.isinf(distance).sum())} rows at an "
                              "infinite distance: give each column a spread of its values' scale.")
        state.score = Score(self.name, distance, True)
        return value_stats(distance)


@register_step
class Random(Step):
    """A uniform random score per row, drawn with ``numpy.random.Generator(PCG64(seed))``.

    One draw per dataset row (row i always gets the i-th draw), so ``random(seed).keep_top(k)``
    is a seeded uniform sample of the surviving rows. The seed is stored in the plan.

    Input columns: none.
    Output columns: ``name`` (float64 in [0, 1)).

    Examples:
        >>> Selector().random(seed=0).keep_top(0.25)
    """

    kind = "random"
    seed: int = 0
    _: KW_ONLY
    name: str = "qaq_random"

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        # one draw per dataset row, so a row's value depends only on (seed, row index)
        state.outputs[self.name] = values = np.random.Generator(np.random.PCG64(self.seed)).random(state.n)
        state.score = Score(self.name, values, False)
        return {"seed": self.seed}
