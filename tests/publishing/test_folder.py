"""save_folder and the dry-run folder: Hub layout that datasets.load_dataset reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from datasets import Dataset, DatasetDict, load_dataset
from pub_helpers import METADATA, StandInSelection, front_matter, scored_ds

from qaq_datasets.errors import ConfigError
from qaq_datasets.publishing import publish, save_folder

pytestmark = pytest.mark.filterwarnings("ignore:No scorers in the qaq. metadata")


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_save_folder_single_config_loads_without_a_config_name(tmp_path):
    ds = scored_ds(10)
    save_folder(tmp_path, {"scored": ds}, METADATA)
    assert _files(tmp_path) == ["README.md", "scored/train-00000-of-00001.parquet"]
    assert load_dataset(str(tmp_path))["train"]["output"] == load_dataset(str(tmp_path), "scored")["train"]["output"]
    data = yaml.safe_load(front_matter((tmp_path / "README.md").read_text()))
    assert data["qaq"]["scorers"] == METADATA["scorers"]


def test_save_folder_default_config_uses_data_dir(tmp_path):
    save_folder(tmp_path, {"default": DatasetDict({"train": scored_ds(6), "test": scored_ds(4)})})
    assert _files(tmp_path) == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    loaded = load_dataset(str(tmp_path))
    assert {k: len(v) for k, v in loaded.items()} == {"train": 6, "test": 4}


def test_save_folder_again_keeps_other_configs_metadata_and_human_text(tmp_path):
    ds = scored_ds(10)
    save_folder(tmp_path, {"scored": ds}, METADATA)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text() + "\nA note by a human.\n")
    save_folder(tmp_path, {"curated": ds.select(range(3))}, {"selection": {"steps": []}})
    text = readme.read_text()
    data = yaml.safe_load(front_matter(text))
    assert sorted(c["config_name"] for c in data["configs"]) == ["curated", "scored"]
    assert data["qaq"]["scorers"] == METADATA["scorers"] and data["qaq"]["selection"] == {"steps": []}
    assert "A note by a human." in text
    assert "| `scored` | `train` | 10 |" in text and "| `curated` | `train` | 3 |" in text
    assert len(load_dataset(str(tmp_path), "curated")["train"]) == 3


def test_rewrite_with_fewer_shards_removes_stale_ones(tmp_path):
    ds = scored_ds(40)
    save_folder(tmp_path, {"scored": ds}, max_shard_size=20_000)
    assert len(list((tmp_path / "scored").glob("train-*"))) > 1
    save_folder(tmp_path, {"scored": ds})
    assert [p.name for p in (tmp_path / "scored").iterdir()] == ["train-00000-of-00001.parquet"]
    assert len(load_dataset(str(tmp_path), "scored")["train"]) == 40


def test_save_folder_rejects_bad_configs(tmp_path):
    with pytest.raises(ConfigError):
        save_folder(tmp_path, {})
    with pytest.raises(ConfigError, match="data"):
        save_folder(tmp_path, {"data": scored_ds(3)})
    with pytest.raises(ConfigError):
        save_folder(tmp_path, {"a/b": scored_ds(3)})
    with pytest.raises(ConfigError, match="no rows"):
        save_folder(tmp_path, {"scored": scored_ds(3).select([])})


def test_dry_run_folder_loads_and_matches_the_selection(tmp_path):
    ds = scored_ds(30)
    sel = StandInSelection(ds)
    out = publish("me/dry", ds, sel, dry_run=tmp_path / "repo", metadata=METADATA)
    assert out == tmp_path / "repo"
    assert _files(out) == [
        "README.md", "curated/train-00000-of-00001.parquet", "figures/qaq_ifd.png", "figures/qaq_rmi.png",
        "qaq_plan.yaml", "qaq_report.json", "scored/train-00000-of-00001.parquet",
    ]
    curated = load_dataset(str(out), "curated")["train"]
    assert curated.to_dict() == sel.apply(ds).to_dict()
    scored = load_dataset(str(out), "scored")["train"]
    assert scored["instruction"] == ds["instruction"]
    np.testing.assert_array_equal(np.asarray(scored["qaq_rmi"]), np.asarray(ds["qaq_rmi"]))
    assert json.loads((out / "qaq_report.json").read_text())["rows_kept"] == int(sel.keep.sum())


def test_dry_run_with_several_splits_and_curated_only(tmp_path):
    train, test = scored_ds(20, seed=1), scored_ds(8, seed=2)
    sel = StandInSelection(train)
    publish("me/dd", DatasetDict({"train": train, "test": test}), sel, dry_run=tmp_path / "a", figures=False)
    assert {k: len(v) for k, v in load_dataset(str(tmp_path / "a"), "scored").items()} == {"train": 20, "test": 8}
    assert list(load_dataset(str(tmp_path / "a"), "curated")) == ["train"]
    publish("me/dd", train, sel, dry_run=tmp_path / "b", curated_only=True, figures=False)
    data = yaml.safe_load(front_matter((tmp_path / "b" / "README.md").read_text()))
    assert [c["config_name"] for c in data["configs"]] == ["curated"]
    assert not (tmp_path / "b" / "scored").exists()
    assert len(load_dataset(str(tmp_path / "b"), "curated")["train"]) == int(sel.keep.sum())


def test_dry_run_twice_gives_the_same_card(tmp_path):
    ds = scored_ds(20)
    sel = StandInSelection(ds)
    publish("me/same", ds, sel, dry_run=tmp_path / "a", metadata=METADATA)
    publish("me/same", ds, sel, dry_run=tmp_path / "b", metadata=METADATA)
    publish("me/same", ds, sel, dry_run=tmp_path / "b", metadata=METADATA)  # into an existing folder
    for name in ("README.md", "figures/qaq_rmi.png", "qaq_plan.yaml", "qaq_report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_dataset_with_split_name_keeps_it(tmp_path):
    ds = Dataset.from_dict(scored_ds(5).to_dict(), split="validation")
    save_folder(tmp_path, {"scored": ds})
    assert list(load_dataset(str(tmp_path), "scored")) == ["validation"]
