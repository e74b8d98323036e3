"""The numeric kernels: quantile bins, within-bin ranks, the top-k order (tie rules)."""

from __future__ import annotations

import numpy as np

from qaq_datasets.selection.ranking import quantile_bins, top_rows, within_bin_rank


def _mask(n):
    return np.ones(n, dtype=bool)


def test_quantile_bins_equal_counts_and_ordered():
    v = np.random.default_rng(0).permutation(1000).astype(float)
    b = quantile_bins("x", v, _mask(1000), 10, 2)
    assert b.count == 10 and b.collapsed == 0 and b.merged == 0
    assert b.rows.tolist() == [100] * 10
    for k in range(10):  # bin k holds exactly the values 100k .. 100k+99
        assert sorted(v[b.of_row == k]) == list(range(100 * k, 100 * k + 100))
    assert b.low.tolist() == [100.0 * k for k in range(10)]


def test_quantile_bins_ties_collapse_and_never_straddle():
    v = np.concatenate([np.zeros(700), np.arange(1, 301, dtype=float)])
    b = quantile_bins("x", v, _mask(1000), 10, 2)
    assert b.collapsed > 0 and b.count < 10
    assert (b.of_row >= 0).all()
    assert len(set(b.of_row[v == 0])) == 1  # all zeros in one bin
    assert b.rows.sum() == 1000 and (b.rows >= 2).all()
    for k in range(b.count - 1):  # bins are ordered, non-overlapping value ranges
        assert b.high[k] < b.low[k + 1]


def test_quantile_bins_merge_small_bins():
    v = np.arange(25, dtype=float)
    b = quantile_bins("x", v, _mask(25), 10, 5)
    assert (b.rows >= 5).all() and b.rows.sum() == 25
    assert b.merged == 10 - b.count


def test_quantile_bins_all_equal_values_single_bin():
    b = quantile_bins("x", np.full(50, 3.0), _mask(50), 10, 2)
    assert b.count == 1 and b.rows.tolist() == [50] and b.collapsed == 9


def test_quantile_bins_respects_mask():
    v = np.arange(10, dtype=float)
    mask = v % 2 == 0
    b = quantile_bins("x", v, mask, 2, 1)
    assert (b.of_row[~mask] == -1).all()
    assert b.rows.tolist() == [2, 3]  # 5 masked rows: edge at sorted position 2


def test_within_bin_rank_normalised_with_average_ties():
    v = np.array([5.0, 1.0, 3.0, 3.0, 9.0, 10.0, 20.0])
    bins = np.array([0, 0, 0, 0, 0, 1, 1])
    r = within_bin_rank(v, bins, _mask(7))
    # bin 0 sorted: 1 (pos 0), 3, 3 (pos 1, 2 -> 1.5), 5 (pos 3), 9 (pos 4); / 4
    assert r.tolist() == [0.75, 0.0, 0.375, 0.375, 1.0, 0.0, 1.0]


def test_within_bin_rank_single_row_bin_and_unbinned_rows():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    bins = np.array([0, 1, 1, -1])
    mask = np.array([True, True, True, True])
    r = within_bin_rank(v, bins, mask)
    assert r[0] == 0.5 and r[1] == 0.0 and r[2] == 1.0 and np.isnan(r[3])
    r = within_bin_rank(v, bins, np.array([True, False, True, True]))
    assert np.isnan(r[1]) and r[2] == 0.5


def test_within_bin_rank_is_independent_of_row_order():
    rng = np.random.default_rng(1)
    v = rng.integers(0, 20, 500).astype(float)  # many ties
    bins = rng.integers(0, 5, 500)
    r = within_bin_rank(v, bins, _mask(500))
    perm = rng.permutation(500)
    r2 = within_bin_rank(v[perm], bins[perm], _mask(500))
    np.testing.assert_array_equal(r[perm], r2)
    assert ((r >= 0) & (r <= 1)).all()


def test_top_rows_tie_rule_and_nan_last():
    score = np.array([1.0, 3.0, 3.0, np.nan, 3.0, 0.0])
    assert top_rows(score, _mask(6), 2, ascending=False).tolist() == [1, 2]  # ties: lower index first
    assert top_rows(score, _mask(6), 4, ascending=False).tolist() == [1, 2, 4, 0]
    assert top_rows(score, _mask(6), 6, ascending=False).tolist() == [1, 2, 4, 0, 5, 3]
    assert top_rows(score, _mask(6), 6, ascending=True).tolist() == [5, 0, 1, 2, 4, 3]
    mask = np.array([True, False, True, True, True, True])
    assert top_rows(score, mask, 2, ascending=False).tolist() == [2, 4]
