"""Bad input → clear errors from qaq_datasets.errors, raised before any computation."""

from __future__ import annotations

import pytest
from sel_helpers import scored

import qaq_datasets.selection.selector as selector_module
from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError, QAQError
from qaq_datasets.selection import Selector, load_plan, preset


@pytest.fixture
def ds():
    return scored(100)


def test_missing_column_lists_available_columns_before_reading_anything(ds, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("columns were read before the plan was validated")

    monkeypatch.setattr(selector_module, "FitState", no_reading)
    plan = Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes().score("strong_ifdd").keep_top(0.5)
    with pytest.raises(ColumnError) as err:
        plan.fit(ds)
    assert err.value.column == "strong_ifdd"
    assert "strong_ifd" in err.value.available and "weak_rmi" in err.value.available
    assert "Available columns:" in str(err.value) and "step 3 (score)" in str(err.value)


def test_wrong_column_types(ds):
    with pytest.raises(ColumnError, match="numeric"):
        Selector().stratify("instruction").fit(ds)
    with pytest.raises(ColumnError, match="string"):
        Selector().drop_where("weak_rmi", "==", "ok").fit(ds)
    with pytest.raises(ColumnError, match="numeric"):
        Selector().drop_where("weak_status", ">=", 1).fit(ds)


@pytest.mark.parametrize("bad", [0.0, -0.25, 1.5, float("nan"), 0, -3])
def test_bad_budget(bad):
    with pytest.raises(ConfigError):
        Selector().random().keep_top(bad)


@pytest.mark.parametrize("bad", ["0.25", True, None, [0.25]])
def test_bad_budget_type(bad):
    with pytest.raises(ConfigTypeError):
        Selector().random().keep_top(bad)


def test_bad_bins(ds):
    with pytest.raises(ConfigError):
        Selector().stratify("weak_nll_q", bins=0)
    with pytest.raises(ConfigError):
        Selector().stratify("weak_nll_q", bins=-1)
    with pytest.raises(ConfigTypeError):
        Selector().stratify("weak_nll_q", bins=2.5)
    # more bins than rows: the bins merge and the notes say so (a tiny or empty dataset still fits)
    sel = Selector().stratify("weak_nll_q", bins=101).rank("weak_rmi").fit(ds)
    assert len(sel.report["bins"]) < 101 and "101 bins requested" in sel.report["notes"][0]
    assert preset("default").fit(ds.select(range(3))).report["rows_kept"] == 1
    assert preset("default").fit(ds.select([])).report["notes"][-1] == "no row was kept (the dataset has no rows)."
    Selector().stratify("weak_nll_q", bins=100).rank("weak_rmi").fit(ds)  # as many bins as rows is allowed


@pytest.mark.parametrize("bins", [10**8, 10**20, 10**400])
def test_bins_beyond_the_cap_are_refused_before_any_data(tmp_path, bins):
    from qaq_datasets.selection.steps import MAX_BINS

    with pytest.raises(ConfigError, match=f"must be <= {MAX_BINS}") as err:
        Selector().stratify("weak_nll_q", bins=bins)
    assert len(str(err.value)) < 100  # a huge number asked for is not repeated
    plan = tmp_path / "plan.yaml"
    plan.write_text("format: qaq-selection-plan\nversion: 1\nsteps:\n- step: stratify\n  column: weak_nll_q\n"
                    f"  bins: {bins}\n- step: rank\n  column: weak_rmi\n- step: keep_top\n  n: 0.5\n")
    with pytest.raises(ConfigError, match=f"must be <= {MAX_BINS}"):
        load_plan(str(plan))
    Selector().stratify("weak_nll_q", bins=MAX_BINS)


def test_gap_from_one_model_is_refused():
    with pytest.raises(ConfigError, match="same model prefix"):
        Selector().gap(strong="weak_rmi", weak="weak_ifd", bins=10)
    with pytest.raises(ConfigError, match="two different columns"):
        Selector().gap(strong="x", weak="x", bins=10, strong_by="a", weak_by="b")
    with pytest.raises(ConfigError, match="strong_by"):
        Selector().gap(strong="my_score", weak="weak_rmi", bins=10)
    Selector().gap(strong="my_score", weak="weak_rmi", bins=10, strong_by="strong_nll_q")


def test_steps_that_need_an_earlier_step():
    with pytest.raises(ConfigError, match="stratify"):
        Selector().rank("weak_rmi")
    with pytest.raises(ConfigError, match="rank"):
        Selector().stratify("weak_nll_q").drop_extremes()
    with pytest.raises(ConfigError, match="stratify"):
        Selector().gap("strong_rmi", "weak_rmi")
    with pytest.raises(ConfigError, match="rank"):
        Selector().closest_to(0.5)
    with pytest.raises(ConfigError, match="score"):
        Selector().keep_top(0.25)
    with pytest.raises(ConfigError, match="score"):
        Selector().stratify("weak_nll_q").keep_top(0.25)


def test_bad_step_parameters():
    with pytest.raises(ConfigError, match="low < high"):
        Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.9, 0.1)
    with pytest.raises(ConfigError):
        Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(-0.1, 0.9)
    with pytest.raises(ConfigError):
        Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.1, 1.5)
    with pytest.raises(ConfigError, match="op"):
        Selector().drop_where("weak_ifd", "=>", 1)
    with pytest.raises(ConfigError, match=r"op must be one of .*got \['<'\]"):  # a list, from a plan file
        Selector.from_dict({"steps": [{"step": "drop_where", "column": "a", "op": ["<"], "value": 1}]})
    with pytest.raises(ConfigError):
        Selector().drop_where("weak_status", "<", "ok")
    with pytest.raises(ConfigError):
        Selector().drop_where("weak_ifd", ">=", float("nan"))
    with pytest.raises(ConfigTypeError):
        Selector().drop_where("weak_ifd", "in", 1)
    with pytest.raises(ConfigTypeError):
        Selector().drop_where("weak_ifd", "in", [1, "a"])
    with pytest.raises(ConfigTypeError):
        Selector().stratify(3)
    with pytest.raises(ConfigError):
        Selector().random(seed=-1)
    with pytest.raises(ConfigTypeError):
        Selector(keep_nan="yes")
    with pytest.raises(ConfigError, match="already computes"):
        Selector().stratify("weak_nll_q").rank("weak_rmi").rank("weak_rmi")
    Selector().stratify("weak_nll_q").rank("weak_rmi").rank("weak_rmi", name="again")


def test_selection_only_applies_to_its_dataset(ds):
    sel = Selector().random().keep_top(0.5).fit(ds)
    with pytest.raises(ConfigError, match="100 rows"):
        sel.apply(ds.select(range(50)))
    with pytest.raises(ConfigError):
        sel.annotate(ds.select(range(50)))


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="default, gap, gap-global, sweet-spot, paper-band, cherry"):
        preset("chery")
    with pytest.raises(ConfigError, match="presets: default"):
        load_plan("chery")
    with pytest.raises(ConfigError, match="prefix"):
        preset("gap", prefix="qaq_")
    with pytest.raises(ConfigError):
        load_plan(Selector().random().keep_top(1), strong="a_")
    with pytest.raises(ConfigError, match="no keep_top"):
        load_plan(Selector().random(), fraction=0.1)
    with pytest.raises(ConfigTypeError):
        load_plan(42)


def test_every_error_is_a_qaq_error_and_a_builtin():
    assert issubclass(ConfigError, (QAQError, ValueError))
    assert issubclass(ColumnError, (QAQError, ValueError))
    assert issubclass(ConfigTypeError, (QAQError, TypeError))


def test_fit_needs_a_dataset(ds):
    from datasets import DatasetDict

    with pytest.raises(ConfigTypeError, match="pick a split"):
        Selector().random().keep_top(1).fit(DatasetDict({"train": ds}))
    with pytest.raises(ConfigTypeError):
        Selector().random().keep_top(1).fit({"weak_rmi": [1.0]})
