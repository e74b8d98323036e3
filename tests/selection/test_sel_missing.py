"""Missing scores: dropped as nan_score at the first step that reads them, or kept with keep_nan=True."""

from __future__ import annotations

import numpy as np
from sel_helpers import check_accounting, scored

from qaq_datasets.selection import Selector, preset


def _with_gaps():
    ds = scored(200, seed=1)
    d = ds.to_dict()
    d["weak_nll_q"][5] = float("nan")
    d["weak_rmi"][3] = None  # an Arrow null counts as missing too
    d["strong_ifd"][7] = float("inf")
    d["strong_ifd"][9] = float("nan")
    return type(ds).from_dict(d, features=ds.features)


PLAN = Selector().stratify("weak_nll_q", bins=4).rank("weak_rmi").score("strong_ifd").keep_top(1.0)


def test_nan_rows_dropped_at_the_first_step_that_reads_them():
    ds = _with_gaps()
    sel = PLAN.fit(ds)
    check_accounting(sel, 200)
    for i in (3, 5, 7, 9):
        assert sel.reasons[i] == "nan_score" and not sel.keep[i]
    assert sel.report["drop_reasons"] == {"nan_score": 4}
    nan_rows = [s["nan_rows"] for s in sel.report["steps"]]
    assert nan_rows == [1, 1, 2, 0]  # stratify saw row 5, rank row 3, score rows 7 and 9
    assert [s["dropped"] for s in sel.report["steps"]][:3] == [{"nan_score": 1}] * 2 + [{"nan_score": 2}]
    assert np.isnan(sel.columns["weak_rmi_rank"][[3, 5]]).all()
    assert sel.report["kept_with_missing"] == 0


def test_a_row_missing_in_two_columns_is_dropped_once_at_the_first():
    ds = scored(50)
    d = ds.to_dict()
    d["weak_nll_q"][0] = float("nan")
    d["strong_ifd"][0] = float("nan")
    ds = type(ds).from_dict(d, features=ds.features)
    sel = PLAN.fit(ds)
    assert sel.report["steps"][0]["nan_rows"] == 1 and sel.report["steps"][2]["nan_rows"] == 0


def test_keep_nan_keeps_rows_but_reports_them_and_sorts_them_last():
    ds = _with_gaps()
    plan = Selector(keep_nan=True).stratify("weak_nll_q", bins=4).rank("weak_rmi").drop_extremes(0.01, 0.99)
    sel = plan.score("strong_ifd").keep_top(1.0).fit(ds)
    check_accounting(sel, 200)
    assert all(sel.keep[i] for i in (3, 5, 7, 9))
    assert "nan_score" not in sel.report["drop_reasons"]
    assert sel.report["kept_with_missing"] == 4
    assert np.isnan(sel.columns["weak_rmi_rank"][[3, 5]]).all()  # no bin / no value: no rank
    # with a budget, the rows with a missing score come after every number
    sel = plan.score("strong_ifd").keep_top(190).fit(ds)
    assert not sel.keep[7] and not sel.keep[9]
    assert sel.reasons[7] == sel.reasons[9] == "below_cut"


def test_keep_nan_missing_values_never_match_drop_where():
    ds = _with_gaps()
    sel = Selector(keep_nan=True).drop_where("strong_ifd", "!=", 0.5, reason="x").fit(ds)
    assert sel.keep[7] and sel.keep[9] and sel.report["rows_kept"] == 2
    sel = Selector().drop_where("strong_ifd", "!=", 0.5, reason="x").fit(ds)
    assert sel.reasons[7] == sel.reasons[9] == "nan_score"


def test_failed_rows_are_dropped_by_status_in_presets():
    ds = scored(400, failed=(0, 1, 2))
    for name in ("default", "gap", "cherry", "superfiltering", "perplexity", "sweet-spot"):
        sel = preset(name).fit(ds)
        check_accounting(sel, 400)
        assert [sel.reasons[i] for i in (0, 1, 2)] == ["not_ok_status"] * 3, name
        assert "nan_score" not in sel.report["drop_reasons"]


def test_nan_scores_without_status_step_are_never_kept_silently():
    ds = scored(400, failed=(0, 1, 2))
    sel = Selector().gap("strong_rmi", "weak_rmi", bins=10).keep_top(1.0).fit(ds)
    assert sel.report["drop_reasons"] == {"nan_score": 3}
    assert sel.report["rows_kept"] == 397
