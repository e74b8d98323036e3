"""The presets run on a synthetic two-model dataset and do what their names say."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import check_accounting, scored

import qaq_datasets.selection.presets as presets
from qaq_datasets.selection import Selector, list_presets, preset


@pytest.fixture(scope="module")
def ds():
    return scored(1000, failed=(10, 20))


def _col(ds, name):
    return np.asarray(ds.data.column(name).to_numpy())


def test_list_presets():
    assert list_presets() == ["default", "gap", "sweet-spot", "cherry", "superfiltering", "perplexity", "random"]


@pytest.mark.parametrize("name", list_presets())
def test_each_preset_runs(ds, name):
    plan = preset(name)
    assert isinstance(plan, Selector)
    sel = plan.fit(ds)
    check_accounting(sel, 1000)
    assert sel.report["rows_kept"] == 250
    assert preset(name, fraction=0.1).fit(ds).report["rows_kept"] == 100
    assert sel.report["plan"] == plan.to_dict()


def test_default_drops_both_models_extremes_and_cut_answers_then_ranks_by_gap(ds):
    sel = preset("default").fit(ds)
    kinds = [s["step"] for s in sel.report["steps"]]
    assert kinds == ["drop_where", "drop_where", "stratify", "rank", "drop_extremes",
                     "stratify", "rank", "drop_extremes", "stratify", "rank", "drop_extremes", "gap", "keep_top"]
    assert {"rmi_low", "rmi_high", "nll_end_high", "below_cut", "not_ok_status"} == set(sel.report["drop_reasons"])
    # the end step ranks the weak model's nll_end and drops only its high end
    end_step = sel.report["steps"][10]
    assert end_step["params"] == {"low": 0.0, "high": presets.DEFAULT_PARAMS["end_high"]}
    assert "weak_nll_end_low" not in sel.report["drop_reasons"]
    gap = sel.columns["qaq_gap"]
    below = np.array(sel.reasons, dtype=object) == "below_cut"
    assert gap[sel.keep].min() >= gap[below].max()


def test_default_parameters_live_in_one_place(monkeypatch):
    monkeypatch.setitem(presets.DEFAULT_PARAMS, "bins", 5)
    monkeypatch.setitem(presets.DEFAULT_PARAMS, "weak_extremes", (0.2, 0.8))
    steps = preset("default").steps
    assert [s["bins"] for s in steps if "bins" in s] == [5, 5, 5, 5]
    assert steps[4] == {"step": "drop_extremes", "low": 0.2, "high": 0.8}


def test_gap_preset(ds):
    sel = preset("gap").fit(ds)
    assert sel.report["steps"][2]["params"]["bins"] == 10
    gap = sel.columns["qaq_gap"]
    assert gap[sel.keep].min() >= np.nanmax(gap[~sel.keep & np.isfinite(gap)])


@pytest.mark.parametrize(("name", "prefix"), [("cherry", "strong_"), ("superfiltering", "weak_")])
def test_ifd_presets(ds, name, prefix):
    sel = preset(name).fit(ds)
    ifd = _col(ds, f"{prefix}ifd")
    reasons = np.array(sel.reasons, dtype=object)
    assert (ifd[reasons == "ifd_ge_1"] >= 1).all()
    assert (ifd[sel.keep] < 1).all()
    assert ifd[sel.keep].min() >= ifd[reasons == "below_cut"].max()


def test_perplexity_keeps_lowest_answer_nll(ds):
    sel = preset("perplexity").fit(ds)
    nll = _col(ds, "strong_nll_a_given_q")
    below = np.array(sel.reasons, dtype=object) == "below_cut"
    assert nll[sel.keep].max() <= nll[below].min()


def test_sweet_spot_keeps_ranks_around_the_centre(ds):
    sel = preset("sweet-spot").fit(ds)
    rank = sel.columns["strong_rmi_rank"]
    assert np.abs(rank[sel.keep] - 0.5).max() < 0.2


def test_random_preset_seed(ds):
    a, b = preset("random", seed=1).fit(ds), preset("random", seed=2).fit(ds)
    assert not np.array_equal(a.keep, b.keep)
    np.testing.assert_array_equal(a.keep, preset("random", seed=1).fit(ds).keep)


def test_single_prefix_for_single_model_presets():
    single = scored(300, prefixes=("qaq_",))
    for name in ("sweet-spot", "cherry", "superfiltering", "perplexity", "random"):
        sel = preset(name, prefix="qaq_").fit(single)
        check_accounting(sel, 300)
        assert sel.report["rows_kept"] == 75
    assert preset("cherry", strong="qaq").steps == preset("cherry", prefix="qaq_").steps  # "_" is added


def test_custom_prefixes_for_two_model_presets():
    ds = scored(300, prefixes=("big_", "small_"))
    sel = preset("default", strong="big_", weak="small_").fit(ds)
    assert sel.report["rows_kept"] == 75


def test_readme_spells_out_the_default_plan():
    """The plan the README recommends (with the benchmark numbers) is the one the preset builds."""
    import re
    from pathlib import Path

    from qaq_datasets.selection import Selector

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"The recommended plan, as the `default` preset builds it.*?```python\n(.*?)```", readme, re.S)
    assert block, "README lost its recommended-plan block"
    namespace = {"qaq": __import__("qaq_datasets")}
    exec(block.group(1), namespace)  # noqa: S102 - our own README
    assert isinstance(namespace["plan"], Selector)
    assert namespace["plan"] == preset("default")
