"""Selection folders: save_selection writes the plan, report, curated rows and the identity of the rows it was
fitted on; publishing re-fits the plan and refuses a selection fitted on other rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard
from pub_helpers import METADATA, front_matter, generated_section, scored_ds

import qaq_datasets.selection as qs
from qaq_datasets.errors import ConfigError
from qaq_datasets.publishing import load_selection, publish_folder, rows_identity, save_folder, save_selection

TWO = {"scorers": {"strong": {"prefix": "strong_"}, "weak": {"prefix": "weak_"}}, "seed": 0}


def _score_and_select(tmp_path, ds, plan, name="selected", meta=METADATA):
    save_folder(tmp_path / "scored", {"scored": ds}, meta)
    selection = plan.fit(ds)
    save_selection(tmp_path / name, ds, selection, meta)
    return selection


def test_rows_identity_tells_datasets_of_the_same_length_apart():
    a, b = scored_ds(30, seed=0), scored_ds(30, seed=1)
    assert rows_identity(a) == rows_identity(scored_ds(30, seed=0)) and rows_identity(a)["rows"] == 30
    assert rows_identity(a) != rows_identity(b)
    assert rows_identity(a) != rows_identity(a.select(list(range(29, -1, -1))))  # same rows, other order
    edited = a.map(lambda r, i: {"qaq_status": "oom" if i == 7 else r["qaq_status"]}, with_indices=True)
    assert rows_identity(a) != rows_identity(edited)  # one status changed
    assert rows_identity(a) == rows_identity(a.remove_columns("output"))  # only score columns count


def test_save_selection_writes_plan_report_rows_and_identity(tmp_path):
    ds = scored_ds(120, prefixes=("strong_", "weak_"))
    selection = _score_and_select(tmp_path, ds, qs.preset("default"), meta=TWO)
    out = tmp_path / "selected"
    assert qs.Selector.from_yaml(out / "qaq_plan.yaml").to_dict() == selection.plan
    report = json.loads((out / "qaq_report.json").read_text())
    assert report["rows_kept"] == int(selection.keep.sum()) > 0
    curated = load_dataset(str(out), "curated")["train"]
    assert curated["output"] == selection.apply(ds)["output"]
    qaq = yaml.safe_load(front_matter((out / "README.md").read_text()))["qaq"]
    assert qaq["fitted_on"] == rows_identity(ds) and qaq["selection"] == selection.plan
    assert qaq["scorers"] == TWO["scorers"]
    assert load_selection(out, ds).keep.tolist() == selection.keep.tolist()


def test_new_rows_are_never_written_beside_a_selection_of_the_old_ones(tmp_path):
    """`qaq score --out` onto a folder `qaq select` wrote would leave its curated rows, plan and fitted_on stale."""
    from qaq_datasets.cli import main

    ds = scored_ds(40)
    _score_and_select(tmp_path, ds, qs.Selector().score("qaq_rmi").keep_top(0.5))
    with pytest.raises(ConfigError, match="holds a selection .* new rows there would leave it stale"):
        save_folder(tmp_path / "selected", {"scored": scored_ds(40, seed=1)}, METADATA)
    save_selection(tmp_path / "selected", ds, qs.Selector().score("qaq_rmi").keep_top(0.25).fit(ds), METADATA)
    with pytest.raises(SystemExit) as exit_code:  # refused before the models are even resolved
        main(["score", "data.json", "--out", str(tmp_path / "selected"), "--model", "w=never/loaded"])
    assert exit_code.value.code == 2


def test_publish_folder_refits_the_plan(tmp_path):
    ds = scored_ds(120, prefixes=("strong_", "weak_"))
    selection = _score_and_select(tmp_path, ds, qs.preset("default"), meta=TWO)
    # the curated rows in the selection folder are not read back: publishing re-fits the plan
    (tmp_path / "selected" / "curated").rename(tmp_path / "moved")
    dry = publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert load_dataset(str(dry), "curated")["train"]["output"] == selection.apply(ds)["output"]
    section = generated_section(DatasetCard((dry / "README.md").read_text()).text)
    assert f"| **kept** | **{int(selection.keep.sum())}** |" in section and "(dropped" in section
    assert json.loads((dry / "qaq_report.json").read_text())["rows_kept"] == int(selection.keep.sum())


def test_a_selection_fitted_on_other_rows_of_the_same_length_is_refused(tmp_path):
    plan = qs.Selector().random(seed=0).keep_top(0.5)
    mine, other = scored_ds(40, seed=0), scored_ds(40, seed=1)
    _score_and_select(tmp_path, other, plan, name="foreign")
    save_folder(tmp_path / "scored", {"scored": mine}, METADATA)
    # counts cannot tell them apart: the random plan keeps as many rows of either dataset
    assert plan.fit(mine).report["rows_kept"] == plan.fit(other).report["rows_kept"]
    with pytest.raises(ConfigError, match="fitted on other rows") as err:
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "foreign", dry_run=tmp_path / "dry")
    assert len(str(err.value).splitlines()) == 1 and "qaq select" in str(err.value)
    assert not (tmp_path / "dry").exists()


def test_a_selection_folder_without_its_identity_is_refused(tmp_path):
    ds = scored_ds(20)
    _score_and_select(tmp_path, ds, qs.Selector().random(seed=0).keep_top(0.5))
    readme = tmp_path / "selected" / "README.md"
    card = DatasetCard(readme.read_text())
    del card.data["qaq"]["fitted_on"]
    readme.write_text(str(card))
    with pytest.raises(ConfigError, match="does not record its plan and the rows"):
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    with pytest.raises(ConfigError, match="has no qaq_plan.yaml"):
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "scored", dry_run=tmp_path / "dry")


def test_a_plan_that_keeps_nothing_still_writes_its_report(tmp_path):
    ds = scored_ds(20)
    keeps_some = qs.Selector().random(seed=0).keep_top(0.5)
    _score_and_select(tmp_path, ds, keeps_some)
    assert (tmp_path / "selected" / "curated").is_dir()
    nothing = qs.Selector().drop_where("qaq_q_tokens", ">=", 0)
    selection = _score_and_select(tmp_path, ds, nothing)  # into the same folder
    assert not selection.keep.any()
    out = tmp_path / "selected"
    report = json.loads((out / "qaq_report.json").read_text())
    assert report["rows_kept"] == 0 and report["rows_in"] == 20
    assert qs.Selector.from_yaml(out / "qaq_plan.yaml").to_dict() == selection.plan
    text = (out / "README.md").read_text()
    assert "kept none of the 20 rows" in text
    assert "configs" not in yaml.safe_load(front_matter(text))  # the earlier curated config is gone
    assert not list(out.rglob("*.parquet"))
    with pytest.raises(ConfigError, match="kept none of the 20 rows"):
        publish_folder(tmp_path / "scored", "me/x", selection_dir=out, dry_run=tmp_path / "dry")
    np.testing.assert_array_equal(load_selection(out, ds).keep, np.zeros(20, bool))


def test_a_selection_folder_card_with_aliases_is_refused(tmp_path):
    ds = scored_ds(20)
    _score_and_select(tmp_path, ds, qs.Selector().random(seed=0).keep_top(0.5))
    readme = tmp_path / "selected" / "README.md"
    bomb = "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    readme.write_text(readme.read_text().replace("qaq:\n", "qaq:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + bomb, 1))
    with pytest.raises(ConfigError, match="selection folder.*anchors and aliases") as err:
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert len(str(err.value).splitlines()) == 1
    assert not (tmp_path / "dry").exists()


def _fraction_plan_folder(tmp_path):
    ds = scored_ds(24)
    plan = qs.Selector().drop_where("qaq_status", "!=", "ok").score("qaq_rmi").keep_top(0.25)
    return ds, _score_and_select(tmp_path, ds, plan)


def test_an_edited_plan_file_is_refused_not_published(tmp_path, capsys):
    from qaq_datasets.cli import main

    ds, selection = _fraction_plan_folder(tmp_path)
    plan_file = tmp_path / "selected" / "qaq_plan.yaml"
    plan_file.write_text(plan_file.read_text().replace("n: 0.25", "n: 0.9"))
    assert qs.Selector.from_yaml(plan_file).fit(ds).report["rows_kept"] > int(selection.keep.sum())
    with pytest.raises(ConfigError, match="qaq_plan.yaml no longer matches the selection the folder holds") as err:
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert len(str(err.value).splitlines()) == 1 and "qaq select" in str(err.value)
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(tmp_path / "scored"), "me/x", "--selection", str(tmp_path / "selected"),
              "--dry-run", str(tmp_path / "dry")])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no longer matches" in lines[0]
    assert not (tmp_path / "dry").exists()
    # the same plan written another way (comments, key order, a trailing newline) is the same plan
    plan_file.write_text("# reviewed\n" + yaml.safe_dump(selection.plan, sort_keys=True) + "\n")
    dry = publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert json.loads((dry / "qaq_report.json").read_text())["rows_kept"] == int(selection.keep.sum()) == 6


@pytest.mark.parametrize("edit", ["rows_kept", "not_json", "missing"])
def test_a_report_that_does_not_match_the_refit_is_refused(tmp_path, edit):
    _fraction_plan_folder(tmp_path)
    report = tmp_path / "selected" / "qaq_report.json"
    if edit == "missing":
        report.unlink()
    else:
        report.write_text(json.dumps({**json.loads(report.read_text()), "rows_kept": 22}) if edit == "rows_kept"
                          else "{not json")
    needle = {"rows_kept": "keeps 6 rows, but its qaq_report.json says 22", "not_json": "not valid JSON",
              "missing": "has no qaq_report.json"}[edit]
    with pytest.raises(ConfigError, match=needle):
        publish_folder(tmp_path / "scored", "me/x", selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert not (tmp_path / "dry").exists()


def test_a_selection_made_on_rows_without_check_columns_publishes(tmp_path, capsys):
    from qaq_datasets.checks import check_columns
    from qaq_datasets.cli import main

    ds = scored_ds(60, prefixes=("strong_", "weak_"))
    ds = ds.remove_columns(check_columns(ds.column_names))  # scored elsewhere, or before the checks were columns
    save_folder(tmp_path / "scored", {"scored": ds}, TWO)
    main(["select", str(tmp_path / "scored"), "--out", str(tmp_path / "selected")])
    assert "computing the text checks" in capsys.readouterr().out
    main(["publish", str(tmp_path / "scored"), "me/x", "--selection", str(tmp_path / "selected"), "--dry-run",
          str(tmp_path / "dry")])  # the plan is re-fitted with the checks computed the same way
    kept = load_dataset(str(tmp_path / "selected"), "curated")["train"]["output"]
    assert load_dataset(str(tmp_path / "dry"), "curated")["train"]["output"] == kept


def test_a_check_column_that_is_not_bool_is_refused(tmp_path):
    from qaq_datasets.errors import ColumnError
    from qaq_datasets.publishing.card import check_counts
    from qaq_datasets.selection import preset

    ds = scored_ds(30, prefixes=("strong_", "weak_"))
    halves = ds.remove_columns("check_looping").add_column("check_looping", [0.5] * len(ds))  # never == 1
    with pytest.raises(ColumnError, match="'check_looping' has type .*float.* is bool"):
        preset("default").add_checks(halves)
    words = ds.remove_columns("check_looping").add_column("check_looping", ["false"] * len(ds))
    with pytest.raises(ColumnError, match="'check_looping' has type .*string"):
        check_counts(words)  # the card's counts: one line, not pyarrow's sum over strings


@pytest.mark.parametrize("field, value", [("model", "gemma3-270m"), ("answer", ["output"]), ("question", 5)])
def test_a_recipe_field_of_the_wrong_type_is_one_line(tmp_path, field, value):
    from qaq_datasets.publishing import load_scored

    ds = scored_ds(20, prefixes=("strong_", "weak_"))
    bad = {"scorers": {"strong": {"prefix": "strong_", field: value}, "weak": {"prefix": "weak_"}}}
    with pytest.raises(ConfigError, match=f"qaq.scorers.strong.{field} must be"):
        save_folder(tmp_path / "new", {"scored": ds}, bad)
    assert not list(tmp_path.glob("new/**/*.parquet"))  # refused before any data is written
    save_folder(tmp_path / "scored", {"scored": ds}, TWO)  # then the card edited by hand
    card = tmp_path / "scored" / "README.md"
    line = "      prefix: strong_\n"
    text = card.read_text().replace(line, f"{line}      {field}: {json.dumps(value)}\n", 1)
    assert text != card.read_text()
    card.write_text(text)
    with pytest.raises(ConfigError, match=f"qaq.scorers.strong.{field} must be"):
        load_scored(tmp_path / "scored")
