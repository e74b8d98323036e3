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
    requested: int
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
    n = len(values)
    of_row = np.full(n, -1, dtype=np.int32)
    idx = np.flatnonzero(mask)
    m = idx.size
    empty = np.zeros(0)
    if m == 0:
        return Bins(column, of_row, empty, empty, np.zeros(0, np.int64), bins, 0, 0)
    v = values[idx]
    s = np.sort(v, kind="stable")
    k = np.arange(1, bins, dtype=np.int64)
    inner = np.unique(s[(k * m) // bins])
    inner = inner[inner > s[0]]  # an edge at the minimum would leave the first bin empty
    collapsed = (bins - 1) - inner.size
    raw = np.searchsorted(inner, v, side="right")
    counts = np.bincount(raw, minlength=inner.size + 1)
    # greedy left-to-right merge of bins smaller than min_rows (at most `bins` iterations)
    group = np.empty(counts.size, dtype=np.int64)
    g, acc = 0, 0
    for j, c in enumerate(counts):
        group[j] = g
        acc += int(c)
        if acc >= min_rows:
            g, acc = g + 1, 0
    if acc > 0 and g > 0:  # a small remainder joins the previous bin
        group[group == g] = g - 1
    n_groups = int(group.max()) + 1
    merged = counts.size - n_groups
    of_row[idx] = group[raw].astype(np.int32)
    rows = np.bincount(group[raw], minlength=n_groups).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(rows)[:-1]))
    low = s[starts]
    high = s[starts + rows - 1]
    return Bins(column, of_row, low, high, rows, bins, int(collapsed), int(merged))


def within_bin_rank(values: np.ndarray, of_bin: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised rank in [0, 1] of each masked row's value among the masked rows of its bin.

    Rank = (average 0-based position of the value's tie group in the bin's ascending order) / (rows
    in bin - 1): the smallest value gets 0, the largest 1, equal values share one rank, and a bin
    holding a single row gives it 0.5. Rows outside ``mask`` or with ``of_bin < 0`` get NaN.
    """
    out = np.full(len(values), np.nan)
    idx = np.flatnonzero(mask & (of_bin >= 0))
    m = idx.size
    if m == 0:
        return out
    v, b = values[idx], of_bin[idx]
    order = np.lexsort((v, b))
    sv, sb = v[order], b[order]
    new_bin = np.ones(m, dtype=bool)
    new_bin[1:] = sb[1:] != sb[:-1]
    bin_start = np.flatnonzero(new_bin)
    bin_id = np.cumsum(new_bin) - 1
    bin_size = np.diff(np.append(bin_start, m))[bin_id]
    pos = np.arange(m) - bin_start[bin_id]
    new_tie = new_bin.copy()
    new_tie[1:] |= sv[1:] != sv[:-1]
    tie_start = np.flatnonzero(new_tie)
    tie_end = np.append(tie_start[1:], m) - 1
    tie_id = np.cumsum(new_tie) - 1
    avg = (pos[tie_start] + pos[tie_end])[tie_id] / 2.0
    denom = bin_size - 1
    rank = np.where(denom > 0, avg / np.maximum(denom, 1), 0.5)
    out[idx[order]] = rank
    return out


def top_rows(score: np.ndarray, mask: np.ndarray, k: int, ascending: bool) -> np.ndarray:
    """Row indices of the ``k`` best masked rows, best first.

    Best = largest score (``ascending=False``) or smallest (``ascending=True``); NaN scores come after
    every number; equal scores are ordered by row index, smaller first.
    """
    idx = np.flatnonzero(mask)
    s = score[idx]
    nan = np.isnan(s)
    key = np.where(nan, 0.0, s if ascending else -s)
    order = np.lexsort((idx, key, nan))
    return idx[order[:k]]


def per_bin_range(values: np.ndarray, of_bin: np.ndarray, mask: np.ndarray, n_bins: int):
    """(min, max) of ``values`` over the masked rows of each bin; NaN for a bin with none."""
    lo = np.full(n_bins, np.inf)
    hi = np.full(n_bins, -np.inf)
    sel = mask & (of_bin >= 0) & ~np.isnan(values)
    np.minimum.at(lo, of_bin[sel], values[sel])
    np.maximum.at(hi, of_bin[sel], values[sel])
    lo[np.isinf(lo)] = np.nan
    hi[np.isinf(hi)] = np.nan
    return lo, hi
