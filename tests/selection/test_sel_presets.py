"""The presets run on a synthetic two-model dataset and do what their names say."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import check_accounting, scored

import qaq_datasets.selection.presets as presets
from qaq_datasets.errors import ConfigError
from qaq_datasets.selection import Selector, list_presets, preset


@pytest.fixture(scope="module")
def ds():
    return scored(1000, failed=(10, 20))


def _col(ds, name):
    return np.asarray(ds.data.column(name).to_numpy())


def test_list_presets():
    assert list_presets() == ["default", "gap", "gap-global", "sweet-spot", "paper-band", "cherry", "superfiltering",
                              "perplexity", "random"]


@pytest.mark.parametrize("name", list_presets())
def test_each_preset_runs(ds, name):
    plan = preset(name)
    assert isinstance(plan, Selector)
    sel = plan.fit(ds)
    check_accounting(sel, 1000)
    assert sel.report["rows_kept"] == 250
    assert preset(name, fraction=0.1).fit(ds).report["rows_kept"] == 100
    assert sel.report["plan"] == plan.to_dict()


def test_default_checks_the_text_then_row_local_anchored_thresholds_then_keeps_the_typical(ds):
    sel = preset("default").fit(ds)
    k = presets.DEFAULT_PARAMS
    steps = sel.report["steps"]
    assert [s["step"] for s in steps] == ["drop_where"] * 9 + ["typical", "keep_top"]
    assert [s["params"]["column"] for s in steps[2:6]] == [f"check_{c}" for c in k["checks"]]
    assert set(sel.report["drop_reasons"]) <= {"not_ok_status", "ifd_gt_1", "end_unlikely", "below_cut"}
    assert {"not_ok_status", "below_cut"} <= set(sel.report["drop_reasons"])
    assert [s["params"]["column"] for s in steps[6:9]] == ["weak_ifd", "strong_ifd", "weak_nll_end"]
    assert [s["params"]["value"] for s in steps[6:9]] == [k["ifd_max"]] * 2 + [k["end_max"]]
    assert steps[-2]["params"]["profile"] == k["profile"]
    dist = sel.columns["qaq_typical_distance"]
    below = np.array(sel.reasons, dtype=object) == "below_cut"
    assert dist[sel.keep].max() <= dist[below].min()
    # the distance is the largest |value - center| / spread over the profile's columns
    z = np.max([np.abs(_col(ds, c) - m) / sd for c, (m, sd) in k["profile"].items()], axis=0)
    assert np.allclose(dist[sel.keep], z[sel.keep])


def test_default_final_ranking_and_profile_are_knobs(ds):
    centre = presets.default_plan(final="center").steps
    assert [s["step"] for s in centre[-4:]] == ["stratify", "rank", "closest_to", "keep_top"]
    plan = presets.default_plan(strong="a_", weak="b_", profile={"weak_rmi": [0.2, 0.1], "strong_nll_q": [2, 1]})
    assert plan.steps[-2]["profile"] == {"b_rmi": [0.2, 0.1], "a_nll_q": [2.0, 1.0]}
    with pytest.raises(ConfigError, match="'typical', 'center' or 'gap'"):
        presets.default_plan(final="middle")
    with pytest.raises(ConfigError, match="no strong_ or weak_ score column"):
        presets.default_plan(profile={"qaq_rmi": [0, 1]})


def test_default_parameters_live_in_one_place(monkeypatch):
    for knob, value in {"bins": 5, "rho_low": 0.02, "rho_low_model": "both", "ifd_max": None, "end_max": None,
                        "checks": (), "final": "center"}.items():
        monkeypatch.setitem(presets.DEFAULT_PARAMS, knob, value)
    steps = preset("default").steps
    assert not [s for s in steps if s.get("column", "").startswith("check_")]
    assert [s["bins"] for s in steps if "bins" in s] == [5]
    assert steps[2:4] == [{"step": "drop_where", "column": f"{p}_rmi", "op": "<", "value": 0.02, "reason": "rmi_low",
                           "divide_by": f"{p}_nll_q"} for p in ("weak", "strong")]
    assert not any(s.get("column", "").endswith(("ifd", "nll_end")) for s in steps)
    assert preset("default").steps == presets.default_plan().steps  # the preset is default_plan with the knobs


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
    assert (ifd[reasons == "ifd_gt_1"] > 1).all()
    assert (ifd[sel.keep] <= 1).all()
    # each ranked as its project's code ranks: Cherry_LLM by the ratio of mean losses, Superfiltering by the
    # perplexity ratio (its ifd_ppl, our ifd column)
    ratio = _col(ds, f"{prefix}nll_a_given_q") / _col(ds, f"{prefix}nll_a")
    key = ratio if name == "cherry" else ifd
    assert key[sel.keep].min() >= key[reasons == "below_cut"].max()
    other = ifd if name == "cherry" else ratio
    assert other[sel.keep].min() < other[reasons == "below_cut"].max()  # the two forms pick different rows here


def test_perplexity_keeps_lowest_answer_nll(ds):
    sel = preset("perplexity").fit(ds)
    nll = _col(ds, "strong_nll_a_given_q")
    below = np.array(sel.reasons, dtype=object) == "below_cut"
    assert nll[sel.keep].max() <= nll[below].min()


def test_sweet_spot_keeps_ranks_around_the_centre(ds):
    sel = preset("sweet-spot").fit(ds)
    rank = sel.columns["strong_rmi_rank"]
    assert np.abs(rank[sel.keep] - 0.5).max() < 0.2


def test_paper_band_keeps_ranks_half_to_three_quarters(ds):
    sel = preset("paper-band").fit(ds)
    rank = sel.columns["strong_rmi_rank"]
    assert sel.report["rows_kept"] == 250
    assert rank[sel.keep].min() >= 0.49 and rank[sel.keep].max() <= 0.76


def test_gap_global_ranks_over_all_rows_as_the_authors_readme(ds):
    sel = preset("gap-global").fit(ds)
    ok = np.isfinite(sel.columns["qaq_gap"])
    strong, weak = _col(ds, "strong_rmi"), _col(ds, "weak_rmi")

    def pct(x):  # pandas' rank(pct=True) of the scorable rows
        r = np.empty(ok.sum())
        r[np.argsort(x[ok], kind="stable")] = np.arange(1, ok.sum() + 1)
        return r / ok.sum()

    diff = pct(strong) - pct(weak)
    top = np.sort(np.argsort(-diff, kind="stable")[:250])
    assert np.flatnonzero(ok)[top].tolist() == sel.indices.tolist()
    assert not np.array_equal(sel.keep, preset("gap").fit(ds).keep)  # within-bin ranks pick other rows


def test_no_preset_keeps_an_unscorable_row():
    ds = scored(200, failed=range(0, 200, 3))  # a third of the rows: NaN scores, status 'oom'
    for name in list_presets():
        sel = preset(name, fraction=0.9).fit(ds)
        assert not sel.keep[::3].any(), name
        assert sel.report["drop_reasons"]["not_ok_status"] == 67


def test_one_model_scores_pick_the_prefix_or_name_the_presets_that_work():
    single = scored(300, prefixes=("weak_",))
    for name in ("sweet-spot", "paper-band", "cherry", "perplexity", "random"):
        sel = preset(name, scorers=["weak_"]).fit(single)
        assert sel.report["rows_kept"] == 75 and "weak_status" in str(sel.plan)
    for name in ("default", "gap", "gap-global"):
        with pytest.raises(ConfigError, match="presets that work with one model: sweet-spot, paper-band, cherry"):
            preset(name, scorers=["weak"])
    assert preset("default", strong="a", weak="b", scorers=["a_"]).steps[0]["column"] == "a_status"
    assert preset("sweet-spot", scorers="weak_") == preset("sweet-spot", scorers=["weak_"])  # one prefix as a str
    for options, unread in ((dict(prefix="weak_", strong="zzz_"), "strong"), (dict(weak="weak_"), "weak")):
        with pytest.raises(ConfigError, match=f"reads one model, named by --prefix or --strong .* --{unread} would"):
            preset("sweet-spot", **options)  # an option that would be ignored is refused


def test_random_preset_seed(ds):
    a, b = preset("random", seed=1).fit(ds), preset("random", seed=2).fit(ds)
    assert not np.array_equal(a.keep, b.keep)
    np.testing.assert_array_equal(a.keep, preset("random", seed=1).fit(ds).keep)


def test_single_prefix_for_single_model_presets():
    single = scored(300, prefixes=("qaq_",))
    for name in ("sweet-spot", "paper-band", "cherry", "superfiltering", "perplexity", "random"):
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


def test_load_plan_passes_the_data_s_scorers_and_ignores_unset_options(tmp_path):
    from qaq_datasets.selection import load_plan

    single = scored(100, prefixes=("weak_",))
    plan = load_plan("cherry", fraction=0.1, scorers=["weak_"], strong=None, weak=None, prefix=None)
    assert plan.fit(single).report["rows_kept"] <= 10 and plan == preset("cherry", prefix="weak_", fraction=0.1)
    assert load_plan("paper-band", scorers=["weak_"], prefix="weak") == preset("paper-band", prefix="weak_")
    path = tmp_path / "plan.yaml"
    preset("random").to_yaml(path)
    assert load_plan(str(path), scorers=["weak_"], strong=None) == preset("random")  # a file: scorers unused
    with pytest.raises(ConfigError, match="presets that work with one model"):
        load_plan("default", scorers=["weak_"])
    with pytest.raises(ConfigError, match="only apply to preset names"):
        load_plan(str(path), prefix="weak_")
