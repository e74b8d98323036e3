"""drop_outliers: fences fitted to each bin's own distribution, adapting to how many outliers there are."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import check_accounting, from_columns

from qaq_datasets.errors import ConfigError
from qaq_datasets.selection import Selector
from qaq_datasets.selection.ranking import robust_fences


def _rows(n_clean: int, n_low: int, n_high: int, seed: int = 0):
    """RMI of clean rows ~ N(1, 0.2); outliers far below (misaligned, ~0) and far above (echoes, ~3)."""
    rng = np.random.default_rng(seed)
    rmi = np.concatenate([rng.normal(1.0, 0.2, n_clean), rng.normal(0.0, 0.05, n_low), rng.normal(3.0, 0.2, n_high)])
    kind = np.array(["clean"] * n_clean + ["low"] * n_low + ["high"] * n_high)
    order = rng.permutation(len(rmi))
    return from_columns(qaq_nll_q=rng.uniform(1, 3, len(rmi)), qaq_rmi=rmi[order]), kind[order]


@pytest.mark.parametrize(("n_low", "n_high"), [(0, 0), (20, 10), (100, 60), (250, 150)])
def test_fences_adapt_to_the_number_of_outliers(n_low, n_high):
    """0% to 40% outliers: every outlier goes, and the clean rows lost stay few (no fixed fraction)."""
    ds, kind = _rows(600, n_low, n_high)
    sel = Selector().stratify("qaq_nll_q", bins=1).drop_outliers("qaq_rmi", low=2.5, high=2.5).fit(ds)
    check_accounting(sel, len(ds))
    reasons = np.array(sel.reasons, dtype=object)
    assert (reasons[kind == "low"] == "rmi_low").all() and (reasons[kind == "high"] == "rmi_high").all()
    assert (~sel.keep[kind == "clean"]).sum() <= 18  # ~1.2% of normal rows lie beyond 2.5 scales; allow 3%
    fence = sel.report["steps"][1]["fitted"]["fences"][0]
    assert 0.9 < fence["median"] < 1.1 and 0.15 < fence["scale"] < 0.25  # fitted on the clean rows
    assert fence["low"] == pytest.approx(fence["median"] - 2.5 * fence["scale"])
    assert any("drop_outliers qaq_rmi" in n and "rmi_low" in n for n in sel.report["notes"])


def test_the_limit_a_close_cluster_of_many_outliers_widens_wide_fences():
    """40% outliers inflate the first MAD about 2x: fences of 3 scales then let a cluster 5 clean scales away in."""
    ds, kind = _rows(600, 250, 150)
    sel = Selector().stratify("qaq_nll_q", bins=1).drop_outliers("qaq_rmi", low=3.0, high=3.0).fit(ds)
    assert sel.keep[kind == "low"].all() and not sel.keep[kind == "high"].any()


def test_fences_are_fitted_per_bin():
    """Two bins with a 10x different spread: each gets its own scale, so the wide bin is not over-trimmed."""
    rng = np.random.default_rng(1)
    rmi = np.concatenate([rng.normal(0, 1, 500), rng.normal(0, 10, 500)])
    ds = from_columns(qaq_nll_q=np.repeat([1.0, 2.0], 500), qaq_rmi=rmi)
    sel = Selector().stratify("qaq_nll_q", bins=2).drop_outliers("qaq_rmi", 2.5, 2.5).fit(ds)
    scales = [f["scale"] for f in sel.report["steps"][1]["fitted"]["fences"]]
    assert 0.8 < scales[0] < 1.2 and 8 < scales[1] < 12
    dropped = ~sel.keep
    assert 0 < dropped[:500].sum() < 25 and 0 < dropped[500:].sum() < 25
    # one global fence: the refits settle on the dense narrow rows, and the wide bin is trimmed hard
    glob = Selector().stratify("qaq_nll_q", bins=1).drop_outliers("qaq_rmi", 2.5, 2.5).fit(ds)
    assert (~glob.keep[500:]).sum() > 300


def test_one_sided_and_degenerate_fences():
    x = np.concatenate([np.full(50, 2.0), [100.0]])
    assert robust_fences(x, 3.0, 3.0)[2:] == (-np.inf, np.inf)  # MAD 0: no fence rather than dropping all
    ds, kind = _rows(300, 30, 30)
    sel = Selector().stratify("qaq_nll_q", bins=3).drop_outliers("qaq_rmi", low=None, high=3.0).fit(ds)
    assert "rmi_low" not in sel.report["drop_reasons"] and sel.report["drop_reasons"]["rmi_high"] >= 30
    with pytest.raises(ConfigError, match="low=, high="):
        Selector().stratify("qaq_nll_q").drop_outliers("qaq_rmi", None, None)
    with pytest.raises(ConfigError, match=r"low must be in \(0, inf\)"):
        Selector().stratify("qaq_nll_q").drop_outliers("qaq_rmi", low=-1)
    with pytest.raises(ConfigError, match="stratify"):
        Selector().drop_outliers("qaq_rmi")


def test_drop_outliers_round_trips_through_yaml():
    plan = Selector().stratify("weak_nll_q").drop_outliers("weak_nll_end", None, 2.5)
    assert Selector.from_yaml(plan.to_yaml()) == plan
    assert plan.steps[-1] == {"step": "drop_outliers", "column": "weak_nll_end", "low": None, "high": 2.5}


def test_missing_values_are_dropped_as_nan_score_or_pass_with_keep_nan():
    ds, kind = _rows(100, 10, 0)
    d = ds.to_dict()
    d["qaq_rmi"][0] = float("nan")
    ds = type(ds).from_dict(d)
    dropped = Selector().stratify("qaq_nll_q", bins=1).drop_outliers("qaq_rmi", 2.5, 2.5).fit(ds)
    kept = Selector(keep_nan=True).stratify("qaq_nll_q", bins=1).drop_outliers("qaq_rmi", 2.5, 2.5).fit(ds)
    assert dropped.reasons[0] == "nan_score" and kept.keep[0] and kept.report["kept_with_missing"] == 1
    assert dropped.report["drop_reasons"]["rmi_low"] == kept.report["drop_reasons"]["rmi_low"] >= 10
