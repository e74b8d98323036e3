"""Plans end to end on synthetic score columns: composition, budgets, ties, determinism, stratification."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import check_accounting, from_columns, scored

from qaq_datasets.selection import Selector, preset
from qaq_datasets.selection.ranking import quantile_bins, within_bin_rank

BRIEF_PLAN = (
    Selector()
    .stratify("weak_nll_q", bins=10)
    .rank("weak_rmi")
    .drop_extremes(low=0.1, high=0.95)
    .gap(strong="strong_rmi", weak="weak_rmi")
    .keep_top(0.25)
)


def test_brief_plan_counts_add_up():
    ds = scored(1000)
    sel = BRIEF_PLAN.fit(ds)
    check_accounting(sel, 1000)
    r = sel.report
    assert r["rows_kept"] == 250  # 25% of the rows IN
    assert set(r["drop_reasons"]) == {"rmi_low", "rmi_high", "below_cut"}
    assert r["bins_column"] == "weak_nll_q" and len(r["bins"]) == 10
    assert sum(b["rows"] for b in r["bins"]) == 1000
    assert sum(b["kept"] for b in r["bins"]) == 250
    assert [s["step"] for s in r["steps"]] == ["stratify", "rank", "drop_extremes", "gap", "keep_top"]
    assert set(sel.columns) == {"weak_rmi_rank", "qaq_gap", "qaq_gap_strong_rank", "qaq_gap_weak_rank"}


def test_drop_extremes_reasons_match_ranks():
    ds = scored(1000)
    sel = Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.1, 0.95).fit(ds)
    rank = sel.columns["weak_rmi_rank"]
    reasons = np.array(sel.reasons, dtype=object)
    assert (rank[reasons == "rmi_low"] < 0.1).all()
    assert (rank[reasons == "rmi_high"] > 0.95).all()
    assert ((rank[sel.keep] >= 0.1) & (rank[sel.keep] <= 0.95)).all()
    # about 10% low and 5% high in every bin
    assert 90 <= sel.report["drop_reasons"]["rmi_low"] <= 110
    assert 40 <= sel.report["drop_reasons"]["rmi_high"] <= 60
    reasons = sel.report["steps"][2]["fitted"]["reasons"]
    assert reasons == {k: sel.report["drop_reasons"][k] for k in ("rmi_low", "rmi_high")}


def test_gap_is_strong_rank_minus_weak_rank_each_in_own_bins():
    ds = scored(600)
    sel = Selector().gap("strong_rmi", "weak_rmi", bins=5).fit(ds)
    names = ("strong_rmi", "weak_rmi", "strong_nll_q", "weak_nll_q")
    cols = {c: np.asarray(ds.data.column(c).to_numpy()) for c in names}
    everything = np.ones(600, dtype=bool)
    bs = quantile_bins("strong_nll_q", cols["strong_nll_q"], everything, 5, 2)
    bw = quantile_bins("weak_nll_q", cols["weak_nll_q"], everything, 5, 2)
    r_s = within_bin_rank(cols["strong_rmi"], bs.of_row, everything)
    r_w = within_bin_rank(cols["weak_rmi"], bw.of_row, everything)
    np.testing.assert_array_equal(sel.columns["qaq_gap"], r_s - r_w)
    np.testing.assert_array_equal(sel.columns["qaq_gap_weak_rank"], r_w)
    step = sel.report["steps"][0]["fitted"]
    assert set(step["bins"]) == {"weak", "strong"}
    assert sel.report["bins_column"] == "weak_nll_q"


def test_gap_reuses_stratify_bins_and_ranks_only_survivors():
    ds = scored(1000)
    plan = Selector().stratify("weak_nll_q", bins=4).rank("weak_rmi").drop_extremes(0.2, 0.8)
    plan = plan.gap("strong_rmi", "weak_rmi")
    assert plan.steps[-1]["bins"] == 4
    sel = plan.fit(ds)
    gap = sel.columns["qaq_gap"]
    dropped = ~sel.keep
    assert np.isnan(gap[dropped]).all() and np.isfinite(gap[sel.keep]).all()
    # survivors are re-ranked: each model's ranks span [0, 1] again
    assert sel.columns["qaq_gap_weak_rank"][sel.keep].min() == 0.0
    assert sel.columns["qaq_gap_weak_rank"][sel.keep].max() == 1.0


def test_composition_drop_extremes_then_rank_by_ifd():
    ds = scored(1000)
    plan = (
        Selector()
        .stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.1, 0.95)
        .stratify("strong_nll_q").rank("strong_rmi").drop_extremes(0.1, 0.95)
        .drop_where("strong_ifd", ">=", 1, reason="ifd_ge_1")
        .score("strong_ifd")
        .keep_top(0.2)
    )
    sel = plan.fit(ds)
    check_accounting(sel, 1000)
    assert sel.report["rows_kept"] == 200
    ifd = np.asarray(ds.data.column("strong_ifd").to_numpy())
    reasons = np.array(sel.reasons, dtype=object)
    below = reasons == "below_cut"
    assert (ifd[sel.keep] < 1).all()
    assert ifd[sel.keep].min() >= ifd[below].max()  # the kept rows are the highest-IFD survivors
    assert sel.report["steps"][-1]["fitted"]["cut"] == ifd[sel.keep].min()


def test_budget_is_a_fraction_of_rows_in_and_shortfall_is_reported():
    ds = scored(100)
    sel = Selector().drop_where("strong_ifd", ">", 0, reason="all").random().keep_top(0.5).fit(ds)
    assert sel.report["rows_kept"] == 0
    sel = Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.45, 0.55).keep_top(0.5).fit(ds)
    fitted = sel.report["steps"][-1]["fitted"]
    assert fitted["budget"] == 50 and fitted["survivors"] < 50
    assert fitted["kept"] == fitted["survivors"] == sel.report["rows_kept"]
    assert fitted["shortfall"] == 50 - fitted["survivors"]
    assert any("keep_top" in note for note in sel.report["warnings"])  # a warning: `qaq select` prints it
    assert "below_cut" not in sel.report["drop_reasons"]


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0.25, 25), (0.29, 29), (0.333, 33), (0.005, 1), (0.015, 2), (1.0, 100), (7, 7), (1, 1), (500, 100)],
)
def test_budget_rounding_and_counts(n, expected):
    ds = scored(100)
    assert Selector().random(seed=3).keep_top(n).fit(ds).report["rows_kept"] == expected


def test_tie_rule_equal_scores_keep_earliest_rows():
    ds = from_columns(s=np.ones(10), t=np.array([0, 0, 1, 1, 1, 1, 0, 0, 0, 0], dtype=float))
    sel = Selector().score("s").keep_top(3).fit(ds)
    assert sel.indices.tolist() == [0, 1, 2]
    assert sel.report["steps"][-1]["fitted"]["ties_at_cut_dropped"] == 7
    assert Selector().score("s", ascending=True).keep_top(3).fit(ds).indices.tolist() == [0, 1, 2]
    assert Selector().score("t").keep_top(3).fit(ds).indices.tolist() == [2, 3, 4]
    assert Selector().score("t", ascending=True).keep_top(5).fit(ds).indices.tolist() == [0, 1, 6, 7, 8]
    # equal values share a rank
    sel = Selector().stratify("s", bins=1).rank("t").fit(ds)
    rank = sel.columns["t_rank"]
    t = np.asarray(ds.data.column("t").to_numpy())
    assert set(rank[t == 0]) == {(0 + 5) / 2 / 9} and set(rank[t == 1]) == {(6 + 9) / 2 / 9}


def test_determinism_two_fits_and_a_rebuilt_dataset():
    plan = BRIEF_PLAN
    a = plan.fit(scored(2000, seed=7))
    b = plan.fit(scored(2000, seed=7))
    c = Selector.from_yaml(plan.to_yaml()).fit(scored(2000, seed=7, text=False))
    for other in (b, c):
        np.testing.assert_array_equal(a.keep, other.keep)
        assert a.reasons == other.reasons
        assert a.report["steps"] == other.report["steps"]
        for k in a.columns:
            np.testing.assert_array_equal(a.columns[k], other.columns[k])


def test_random_is_seeded():
    ds = scored(500)
    a = Selector().random(seed=1).keep_top(0.3).fit(ds)
    b = Selector().random(seed=1).keep_top(0.3).fit(ds)
    c = Selector().random(seed=2).keep_top(0.3).fit(ds)
    np.testing.assert_array_equal(a.keep, b.keep)
    assert not np.array_equal(a.keep, c.keep)
    expected = np.random.Generator(np.random.PCG64(1)).random(500)
    np.testing.assert_array_equal(a.columns["qaq_random"], expected)
    assert a.plan["steps"][0]["seed"] == 1


def test_heteroscedastic_stratification_differs_from_global_rank():
    # 10 PPL(Q) bins of 100 rows; within each, RMI takes the same 100 ranks but its spread grows 10x per bin
    bins, per = 10, 100
    rng = np.random.default_rng(0)
    nll_q = np.concatenate([k + np.sort(rng.uniform(0, 0.5, per)) for k in range(bins)])
    rmi = np.concatenate([(rng.permutation(per) - 49.5) * 10.0**k for k in range(bins)])
    ds = from_columns(qaq_nll_q=nll_q, qaq_rmi=rmi)
    bin_of = np.repeat(np.arange(bins), per)

    def dropped_per_bin(n_bins):
        sel = Selector().stratify("qaq_nll_q", bins=n_bins).rank("qaq_rmi").drop_extremes(0.1, 0.9).fit(ds)
        return np.bincount(bin_of[~sel.keep], minlength=bins), sel

    stratified, s_sel = dropped_per_bin(10)
    global_, g_sel = dropped_per_bin(1)
    assert stratified.tolist() == [20] * bins  # both tails trimmed equally in every PPL(Q) bin
    # a global rank trims only the noisiest (highest-PPL(Q)) bins and never touches the others
    assert global_[:7].sum() == 0 and global_[7:].sum() == 200 and global_[9] >= 90
    assert not np.array_equal(s_sel.keep, g_sel.keep)
    assert [b["dropped"] for b in s_sel.report["bins"]] == [20] * bins


def test_closest_to_keeps_a_band_around_the_centre():
    ds = scored(1000)
    sel = Selector().stratify("strong_nll_q").rank("strong_rmi").closest_to(0.5).keep_top(0.3).fit(ds)
    rank = sel.columns["strong_rmi_rank"]
    assert sel.report["rows_kept"] == 300
    assert np.abs(rank[sel.keep] - 0.5).max() <= np.abs(rank[~sel.keep] - 0.5).min()
    assert 0.3 < rank[sel.keep].min() and rank[sel.keep].max() < 0.7


def test_collapsed_and_merged_bins_are_reported_not_divided_by_zero():
    nll_q = np.concatenate([np.full(70, 2.0), np.linspace(3, 4, 30)])
    ds = from_columns(qaq_nll_q=nll_q, qaq_rmi=np.random.default_rng(0).normal(size=100))
    sel = Selector().stratify("qaq_nll_q", bins=10, min_rows=5).rank("qaq_rmi").fit(ds)
    fitted = sel.report["steps"][0]["fitted"]
    assert fitted["bins_used"] < 10 and fitted["collapsed_by_ties"] > 0
    assert all(b["rows"] >= 5 for b in sel.report["bins"])
    assert sel.report["notes"] and "stratify" in sel.report["notes"][0]
    assert not sel.report["warnings"]  # merged bins are a remark, not a warning
    assert np.isfinite(sel.columns["qaq_rmi_rank"]).all()
    # more bins than distinct values, min_rows merging: still fine
    tiny = from_columns(qaq_nll_q=np.arange(12.0), qaq_rmi=np.arange(12.0))
    sel = Selector().stratify("qaq_nll_q", bins=12, min_rows=5).rank("qaq_rmi").fit(tiny)
    assert all(b["rows"] >= 5 for b in sel.report["bins"]) and sum(b["rows"] for b in sel.report["bins"]) == 12
    assert np.isfinite(sel.columns["qaq_rmi_rank"]).all()


def test_empty_plan_keeps_everything():
    sel = Selector().fit(scored(10))
    assert sel.keep.all() and sel.report["drop_reasons"] == {} and sel.report["bins"] == []


def test_a_plan_that_keeps_no_row_fits_and_says_why():
    ds = scored(40, failed=range(40))  # every row unscorable
    for name in ("default", "random", "cherry"):
        sel = preset(name).fit(ds)
        check_accounting(sel, 40)
        assert sel.report["rows_kept"] == 0 and sel.report["drop_reasons"] == {"not_ok_status": 40}
        assert sel.report["budget"] == 10 and sel.report["shortfall"] == 10
        assert "no row was kept (40 not_ok_status)." in sel.report["notes"]
        assert sel.report["warnings"][-1] == "no row was kept (40 not_ok_status)."
        assert len(sel.apply(ds)) == 0 and sel.apply(ds).column_names[:2] == ["instruction", "output"]


def test_report_shortfall_is_zero_when_the_budget_is_filled():
    sel = preset("default").fit(scored(200))
    assert sel.report["budget"] == 50 and sel.report["shortfall"] == 0 and sel.report["rows_kept"] == 50
    assert Selector().random().fit(scored(10)).report["budget"] is None
