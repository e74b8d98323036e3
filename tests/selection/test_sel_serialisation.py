"""Plans round-trip through dict / YAML / files; reports are JSON and embed the plan; load_plan."""

from __future__ import annotations

import json

import pytest
import yaml
from sel_helpers import scored

from qaq_datasets.errors import ConfigError
from qaq_datasets.selection import Selector, list_presets, load_plan, preset

CUSTOM = (
    Selector(keep_nan=True)
    .drop_where("weak_status", "not in", ("ok", "truncated"), reason="not_ok_status")
    .drop_where("strong_ifd", ">=", 1)
    .stratify("weak_nll_q", bins=7, min_rows=3)
    .rank("weak_rmi", name="wr")
    .drop_extremes(0.05, 0.9)
    .closest_to(0.4)
    .gap("strong_rmi", "weak_rmi", strong_by="weak_nll_q", name="g")
    .score("strong_nll_a_given_q", ascending=True)
    .random(seed=11)
    .keep_top(42)
)


@pytest.mark.parametrize("plan", [CUSTOM, *[preset(n) for n in list_presets()]], ids=["custom", *list_presets()])
def test_round_trip(plan, tmp_path):
    d = plan.to_dict()
    assert Selector.from_dict(d) == plan
    assert Selector.from_dict(json.loads(json.dumps(d))) == plan
    assert Selector.from_yaml(plan.to_yaml()) == plan
    path = tmp_path / "plan.yaml"
    plan.to_yaml(path)
    assert Selector.from_yaml(path) == plan and Selector.from_yaml(str(path)) == plan
    assert load_plan(str(path)) == plan
    assert yaml.safe_load(path.read_text())["format"] == "qaq-selection-plan"
    assert hash(Selector.from_dict(d)) == hash(plan)


def test_plan_dict_shape():
    d = CUSTOM.to_dict()
    assert d["version"] == 1 and d["keep_nan"] is True
    assert d["steps"][0] == {"step": "drop_where", "column": "weak_status", "op": "not in",
                             "value": ["ok", "truncated"], "reason": "not_ok_status"}
    assert d["steps"][6]["bins"] == 7 and d["steps"][6]["min_rows"] == 3  # gap inherits the stratify bins
    assert d["steps"][-1] == {"step": "keep_top", "n": 42}


def test_report_is_json_and_embeds_the_plan(tmp_path):
    sel = CUSTOM.fit(scored(300))
    text = json.dumps(sel.report, allow_nan=False)
    report = json.loads(text)
    assert report["plan"] == CUSTOM.to_dict() == sel.plan
    assert set(report) >= {"rows_in", "rows_kept", "rows_dropped", "drop_reasons", "bins", "steps", "plan"}
    for step, plan_step in zip(report["steps"], report["plan"]["steps"]):
        assert {"step": step["step"], **step["params"]} == plan_step
    # a saved report is itself a loadable plan
    path = tmp_path / "report.json"
    path.write_text(text)
    assert load_plan(path) == CUSTOM
    assert Selector.from_dict({"selection": CUSTOM.to_dict()}) == CUSTOM


def test_bad_plans():
    with pytest.raises(ConfigError, match="unknown step"):
        Selector.from_dict({"steps": [{"step": "shuffle"}]})
    with pytest.raises(ConfigError, match="step 0"):
        Selector.from_dict({"steps": [{"step": "stratify", "column": "x", "bins": 3, "colour": 1}]})
    with pytest.raises(ConfigError, match="stratify"):
        Selector.from_dict({"steps": [{"step": "rank", "column": "x"}]})
    with pytest.raises(ConfigError, match="newer"):
        Selector.from_dict({"version": 99, "steps": []})
    with pytest.raises(ConfigError, match="format"):
        Selector.from_dict({"format": "other", "steps": []})
    with pytest.raises(ConfigError, match="unknown plan keys"):
        Selector.from_dict({"steps": [], "extra": 1})
    with pytest.raises(ConfigError):
        Selector.from_dict([1, 2])
    with pytest.raises(ConfigError):
        Selector.from_yaml("steps: [unclosed")
    with pytest.raises(ConfigError, match="mapping"):
        Selector.from_yaml("no/such/file.yaml")
    with pytest.raises(ConfigError, match="neither a selection preset nor an existing plan file"):
        load_plan("no/such/file.yaml")


def test_load_plan_resolves_presets_and_fractions():
    assert load_plan("default") == preset("default")
    assert load_plan("cherry", fraction=0.1) == preset("cherry", fraction=0.1)
    assert load_plan("cherry", prefix="qaq_") == preset("cherry", prefix="qaq_")
    assert load_plan(CUSTOM) is CUSTOM
    assert load_plan(CUSTOM, fraction=0.5).steps[-1] == {"step": "keep_top", "n": 0.5}
    assert load_plan(CUSTOM.to_dict(), fraction=10).steps[-1] == {"step": "keep_top", "n": 10}
    assert load_plan(CUSTOM).steps[-1] == {"step": "keep_top", "n": 42}


def test_selector_is_immutable():
    base = Selector().random()
    a = base.keep_top(0.1)
    b = base.keep_top(0.2)
    assert len(base.steps) == 1 and a != b
    assert a.with_fraction(0.2) == b and a.steps[-1]["n"] == 0.1
    assert "keep_top(n=0.1)" in repr(a)
