"""Vectorised numeric kernels of the selection steps: quantile bins, within-bin ranks, top-k order.

Everything here works on whole numpy arrays (one value per dataset row) plus a boolean ``mask`` of
the rows taking part; rows outside the mask are left alone (bin ``-1``, rank ``NaN``). The rules
are exact and machine-independent: bin edges are data values picked by integer positions (no
interpolation), ranks are average positions of tied values, and orders are stable sorts with the
row index as the last key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bins:
    """Quantile bins of one column: ``of_row[i]`` is row ``i``'s bin (``-1`` = not binned)."""

    column: str
    of_row: np.ndarray  # int32, one per dataset row
    low: np.ndarray  # smallest value in each bin
    high: np.ndarray  # largest value in each bin
    rows: np.ndarray  # rows in each bin when it was fitted
    collapsed: int  # bins lost because tied values made quantile edges coincide
    merged: int  # bins merged into a neighbour because they had fewer than min_rows rows

    @property
    def count(self) -> int:
        return len(self.rows)


def quantile_bins(column: str, values: np.ndarray, mask: np.ndarray, bins: int, min_rows: int) -> Bins:
    """Split the masked rows into ``bins`` equal-count quantile bins of ``values``.

    The inner edges are the data values at sorted positions ``floor(k * m / bins)``, k = 1..bins-1
    (m = masked rows); a row equal to an edge goes to the upper bin, so tied values never straddle
    two bins. Edges that coincide (ties) collapse into one; then, left to right, a bin with fewer
    than ``min_rows`` rows is merged into the next one (a small last bin into the previous one).
    """
    of_row = np.full(len(values), -1, dtype=np.int32)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return Bins(column, of_row, np.zeros(0), np.zeros(0), np.zeros(0, np.int64), 0, 0)
    v = values[idx]
    s = np.sort(v, kind="stable")
    inner = np.unique(s[np.arange(1, bins, dtype=np.int64) * idx.size // bins])
    inner = inner[inner > s[0]]  # an edge at the minimum would leave the first bin empty
    raw = np.searchsorted(inner, v, side="right")
    counts = np.bincount(raw, minlength=inner.size + 1)
    # greedy left-to-right merge of bins smaller than min_rows (at most `bins` iterations)
    group, g, acc = np.empty(counts.size, dtype=np.int64), 0, 0
    for j, c in enumerate(counts):
        group[j], acc = g, acc + int(c)
        if acc >= min_rows:
            g, acc = g + 1, 0
    if acc > 0 and g > 0:  # a small remainder joins the previous bin
        group[group == g] = g - 1
    of_row[idx] = group[raw]
    rows = np.bincount(group[raw]).astype(np.int64)  # no bin is empty: each holds its lower edge (or s[0])
    ends = np.cumsum(rows)
    return Bins(column, of_row, s[ends - rows], s[ends - 1], rows, bins - 1 - inner.size, counts.size - rows.size)


def within_bin_rank(values: np.ndarray, of_bin: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised rank in [0, 1] of each masked row's value among the masked rows of its bin.

    Rank = (average 0-based position of the value's tie group in the bin's ascending order) / (rows
    in bin - 1): the smallest value gets 0, the largest 1, equal values share one rank, and a bin
    holding a single row gives it 0.5. Rows outside ``mask`` or with ``of_bin < 0`` get NaN.
    """
    out = np.full(len(values), np.nan)
    for b in np.unique(of_bin[mask & (of_bin >= 0)]):
        idx = np.flatnonzero(mask & (of_bin == b))
        s = np.sort(values[idx])
        first, last = np.searchsorted(s, values[idx], "left"), np.searchsorted(s, values[idx], "right") - 1
        out[idx] = (first + last) / 2 / (idx.size - 1) if idx.size > 1 else 0.5
    return out


def top_rows(score: np.ndarray, mask: np.ndarray, k: int, ascending: bool) -> np.ndarray:
    """Row indices of the ``k`` best masked rows, best first.

    Best = largest score (``ascending=False``) or smallest (``ascending=True``); NaN scores come after
    every number; equal scores are ordered by row index, smaller first.
    """
    idx = np.flatnonzero(mask)
    s = score[idx]
    nan = np.isnan(s)
    return idx[np.lexsort((idx, np.where(nan, 0.0, s if ascending else -s), nan))[:k]]


def robust_fences(values: np.ndarray, low: float | None, high: float | None, rounds: int = 3):
    """(median, scale, low fence, high fence) of ``values``: median ∓ ``low``/``high`` × scale, where scale is
    the MAD × 1.4826 (the standard deviation for normal data). The fences are refitted on the values inside
    them, ``rounds`` fits at most, so a block of far outliers does not widen them; the bound keeps the refits
    from walking onto a dense cluster of outliers, which unbounded refits converge on. A missing side (None) or
    a zero scale gives an infinite fence (nothing dropped there).
    """
    inside, med, scale, lo, hi = values, float("nan"), float("nan"), -np.inf, np.inf
    for _ in range(rounds if values.size else 0):  # no values: no fit, no fence
        med = float(np.median(inside))
        scale = 1.4826 * float(np.median(np.abs(inside - med)))
        if scale <= 0:
            return med, scale, -np.inf, np.inf
        lo, hi = med - low * scale if low is not None else -np.inf, med + high * scale if high is not None else np.inf
        nxt = values[(values >= lo) & (values <= hi)]
        if nxt.size in (0, inside.size):  # settled, or nothing left to refit on
            break
        inside = nxt
    return med, scale, lo, hi
