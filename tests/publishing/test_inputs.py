"""Bad input to publish: clear errors, raised before anything is written or sent."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset
from pub_helpers import METADATA, StandInSelection, scored_ds

import qaq_datasets.selection as qs
from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError
from qaq_datasets.publishing import publish

pytestmark = pytest.mark.filterwarnings("ignore:No scorers in the qaq. metadata")


@pytest.mark.parametrize("repo_id", ["no spaces/allowed", "a/b/c", "../up", "x" * 200 + "/y", None, 5])
def test_malformed_repo_id(tmp_path, repo_id):
    with pytest.raises(ConfigError, match="not a valid Hub repo id"):
        publish(repo_id, scored_ds(5), dry_run=tmp_path / "out")
    with pytest.raises(ConfigError, match="not a valid Hub repo id"):
        publish(repo_id, scored_ds(5), token="x")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dry_run", ["", 5])
def test_a_dry_run_that_names_no_folder(dry_run):
    with pytest.raises(ConfigError, match="dry-run folder must name a folder"):
        publish("me/x", scored_ds(5), dry_run=dry_run)


def test_empty_dataset(tmp_path):
    with pytest.raises(ConfigError, match="no rows"):
        publish("me/x", scored_ds(3).select([]), dry_run=tmp_path)


def test_not_a_dataset(tmp_path):
    with pytest.raises(ConfigTypeError):
        publish("me/x", [{"a": 1}], dry_run=tmp_path)


def test_selection_of_another_length(tmp_path):
    sel = StandInSelection(scored_ds(30))
    with pytest.raises(ConfigError, match="fitted on other rows .30 rows.*than the rows given .20 rows"):
        publish("me/x", scored_ds(20), sel, dry_run=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("other", ["shuffled", "other_rows"])
def test_a_selection_fitted_on_other_rows_of_the_same_length_is_refused(tmp_path, other):
    a = scored_ds(30)
    b = a.shuffle(seed=1) if other == "shuffled" else scored_ds(30, seed=7)
    selection = qs.Selector().drop_where("qaq_status", "!=", "ok").score("qaq_rmi").keep_top(0.5).fit(a)
    with pytest.raises(ConfigError, match="fitted on other rows.*plan.fit") as err:
        publish("me/x", b, selection, dry_run=tmp_path / "out", metadata=METADATA)
    assert len(str(err.value).splitlines()) == 1
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="fitted on other rows"):  # a duck-typed selection is checked the same way
        publish("me/x", b, StandInSelection(a), dry_run=tmp_path / "out", metadata=METADATA)
    # the rows it was fitted on (a copy, or map()-ed with the score columns unchanged) go through
    publish("me/x", a.map(lambda r: {"note": "x"}), selection, dry_run=tmp_path / "out", metadata=METADATA)
    assert (tmp_path / "out" / "curated").is_dir()


def test_not_a_selection(tmp_path):
    with pytest.raises(ConfigTypeError, match="Selection"):
        publish("me/x", scored_ds(5), object(), dry_run=tmp_path)


def test_curated_only_needs_a_selection(tmp_path):
    with pytest.raises(ConfigError, match="curated_only"):
        publish("me/x", scored_ds(5), curated_only=True, dry_run=tmp_path)


def test_no_score_columns(tmp_path):
    with pytest.raises(ColumnError, match="no score columns"):
        publish("me/x", Dataset.from_dict({"text": ["a", "b"]}), dry_run=tmp_path)


def test_metadata_scorer_without_its_columns(tmp_path):
    meta = {"scorers": {"weak": {"prefix": "weak_"}}}
    with pytest.raises(ColumnError, match="weak_nll_q"):
        publish("me/x", scored_ds(5), dry_run=tmp_path, metadata=meta)


def test_bad_metadata(tmp_path):
    with pytest.raises(ConfigError, match="scorers"):
        publish("me/x", scored_ds(5), dry_run=tmp_path, metadata={"scorers": ["qaq_"]})


def test_several_splits_without_train(tmp_path):
    from datasets import DatasetDict

    dd = DatasetDict({"a": scored_ds(5), "b": scored_ds(5)})
    with pytest.raises(ConfigError, match="one split"):
        publish("me/x", dd, StandInSelection(dd["a"]), dry_run=tmp_path)


def test_an_all_dropped_selection(tmp_path):
    ds = scored_ds(10)
    nothing = StandInSelection(ds)
    nothing.keep = np.zeros(10, bool)
    with pytest.raises(ConfigError, match="kept none of the 10 rows"):
        publish("me/x", ds, nothing, dry_run=tmp_path / "b", metadata=METADATA)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("content,needle", [
    ('[{"instruction": "a", "output": "b"},\n{"instruction": "c", "output"}]', "invalid JSON at line 2, column"),
    ('{"instruction": "a", "output": "b"}\n\n{"instruction": "c", "output"}\n', "line 3 is not valid JSON"),
])
def test_a_broken_json_file_names_where_it_breaks(tmp_path, content, needle):
    from qaq_datasets.inputs import load_input

    (path := tmp_path / "rows.json").write_text(content)
    with pytest.raises(ConfigError, match=f"Cannot read .*rows.json: {needle}"):
        load_input(path)
