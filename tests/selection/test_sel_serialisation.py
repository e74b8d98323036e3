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
    with pytest.raises(ConfigError, match=r"step 0 \(stratify\) takes column, bins, .*; got colour\."):
        Selector.from_dict({"steps": [{"step": "stratify", "column": "x", "bins": 3, "colour": 1}]})
    with pytest.raises(ConfigError, match="stratify"):
        Selector.from_dict({"steps": [{"step": "rank", "column": "x"}]})
    for version in (99, 0, -1):
        with pytest.raises(ConfigError, match="from 1 to 1 .a newer"):
            Selector.from_dict({"version": version, "steps": []})
    with pytest.raises(ConfigError, match="format"):
        Selector.from_dict({"format": "other", "steps": []})
    with pytest.raises(ConfigError, match="unknown plan keys"):
        Selector.from_dict({"steps": [], "extra": 1})
    with pytest.raises(ConfigError):
        Selector.from_dict([1, 2])
    with pytest.raises(ConfigError):
        Selector.from_yaml("steps: [unclosed")
    with pytest.raises(ConfigError, match="mapping.*got str .the path of a file that does not exist"):
        Selector.from_yaml("no/such/file.yaml")
    with pytest.raises(ConfigError, match="^the plan: a selection plan must be a mapping.*got list.$"):
        Selector.from_yaml("[1, 2]")
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


def alias_bomb(indent: str = "") -> str:
    """Nine nested anchors, under 1 KB: 9**9 (387 million) strings once expanded."""
    lines = [f"{indent}a: &a [{', '.join(['xxxxxxxx'] * 9)}]"]
    lines += [f"{indent}{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    alias_bomb() + "steps: [{step: random, seed: 0}, {step: keep_top, n: *i}]\n",
    "format: qaq-selection-plan\nsteps: &s [{step: random}]\n",  # an anchor alone
    "x: &n 3\nsteps: [{step: random, seed: *n}]\n",  # an innocent-looking alias
])
def test_a_plan_with_anchors_or_aliases_is_refused_at_once(tmp_path, text, capsys):
    import time

    from qaq_datasets.cli import main

    path = tmp_path / "plan.yaml"
    path.write_text(text)
    assert len(text) < 1024
    start = time.perf_counter()
    for load in (Selector.from_yaml, lambda p: Selector.from_yaml(p.read_text()), load_plan):
        with pytest.raises(ConfigError, match="anchors and aliases .* are not allowed") as err:
            load(path)
        assert len(str(err.value).splitlines()) == 1 and len(str(err.value)) < 300
    assert "plan.yaml" in str(err.value)
    with pytest.raises(SystemExit) as exit_:
        main(["select", str(tmp_path / "scored"), "--out", str(tmp_path / "out"), "--plan", str(path)])
    assert exit_.value.code == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "anchors and aliases" in err_lines[0] and "plan.yaml" in err_lines[0]
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, needle", [
    ("steps: !!python/object/apply:os.system ['echo pwned']\n", "could not determine a constructor"),
    ("steps: [{step: random}\n", "line 2"),
    ("[" * 20000, "nested too deeply"),
    (b"steps: [{step: random, reason: \xff}]\n", "not UTF-8"),
])
def test_a_bad_plan_file_is_one_line_naming_the_file(tmp_path, text, needle):
    path = tmp_path / "plan.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=needle) as err:
        load_plan(str(path))
    assert len(str(err.value).splitlines()) == 1 and "plan.yaml" in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("plan", [
    {"steps": ["x" * 100_000]},
    {"steps": [{"step": "x" * 100_000}]},
    {"steps": [{"step": "random", "x" * 100_000: 1}]},
    {"steps": [{"step": "stratify", "column": "c" * 100_000, "bins": "b" * 100_000}]},
    {"steps": [{"step": "drop_where", "column": "weak_rmi", "op": "o" * 100_000, "value": ["v" * 1000] * 1000}]},
    {"steps": [{"step": "keep_top", "n": "n" * 100_000}]},
    {"steps": [], "k" * 100_000: 1},
    {"steps": [], "format": "f" * 100_000},
    {"steps": [], "version": 10 ** 5000},
    {"steps": [], "keep_nan": "n" * 100_000},
])
def test_plan_values_are_not_repeated_whole_in_errors(plan):
    try:
        Selector.from_dict(plan)
    except (ConfigError, TypeError) as err:
        assert len(str(err)) < 700 and len(str(err).splitlines()) == 1, str(err)[:200]
    else:
        raise AssertionError("the plan was accepted")
