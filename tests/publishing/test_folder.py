"""save_folder and the dry-run folder: Hub layout that datasets.load_dataset reads."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from datasets import Dataset, DatasetDict, load_dataset
from huggingface_hub import DatasetCard
from pub_helpers import METADATA, StandInSelection, front_matter, scored_ds

from qaq_datasets.errors import ConfigError, DiskFullError
from qaq_datasets.publishing import check_out_dir, load_scored, publish, save_folder

pytestmark = pytest.mark.filterwarnings("ignore:No scorers in the qaq. metadata")


def _files(folder):
    """The files under ``folder``, a shard's content hash left out of its name."""
    return sorted(re.sub(r"-[0-9a-f]{16}\.parquet$", ".parquet", str(p.relative_to(folder)))
                  for p in folder.rglob("*") if p.is_file())


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
    assert "| `curated` | `train` | 3 |" in text
    assert len(load_dataset(str(tmp_path), "curated")["train"]) == 3
    assert len(load_dataset(str(tmp_path), "scored")["train"]) == 10


def test_stale_dataset_info_of_a_rewritten_config_goes(tmp_path):
    # a folder written by push_to_hub-like code (or an older version) describes its sizes in dataset_info;
    # rewriting that config with other rows must not leave the old sizes behind (load_dataset checks them)
    save_folder(tmp_path, {"scored": scored_ds(10), "other": scored_ds(4)}, METADATA)
    readme = tmp_path / "README.md"
    infos = [{"config_name": n, "splits": [{"name": "train", "num_bytes": 1, "num_examples": k}]}
             for n, k in (("scored", 10), ("other", 4))]
    card = DatasetCard(readme.read_text())
    card.data["dataset_info"] = infos
    readme.write_text(str(card))
    save_folder(tmp_path, {"scored": scored_ds(7)}, METADATA)
    data = yaml.safe_load(front_matter(readme.read_text()))
    assert data["dataset_info"] == infos[1:]
    assert len(load_dataset(str(tmp_path), "scored")["train"]) == 7
    card = DatasetCard(readme.read_text())
    card.data["dataset_info"] = infos[1]  # one config: datasets writes a single mapping, not a list
    readme.write_text(str(card))
    save_folder(tmp_path, {"other": scored_ds(3)}, METADATA)
    assert "dataset_info" not in yaml.safe_load(front_matter(readme.read_text()))


def test_new_rows_are_read_afresh_despite_the_datasets_cache(tmp_path):
    # datasets caches a folder's config under the folder's name and its YAML: a rewrite with rows of the same
    # shape, or another folder of the same name, must not be served from the cache of the first one
    first, second = scored_ds(12, seed=1), scored_ds(12, seed=2)
    save_folder(tmp_path / "a" / "scored", {"scored": first}, METADATA)
    save_folder(tmp_path / "b" / "scored", {"scored": second}, METADATA)
    assert load_dataset(str(tmp_path / "a" / "scored"), "scored")["train"]["qaq_rmi"][2:] == first["qaq_rmi"][2:]
    assert load_dataset(str(tmp_path / "b" / "scored"), "scored")["train"]["qaq_rmi"][2:] == second["qaq_rmi"][2:]
    save_folder(tmp_path / "a" / "scored", {"scored": second}, METADATA)
    assert load_dataset(str(tmp_path / "a" / "scored"), "scored")["train"]["qaq_rmi"][2:] == second["qaq_rmi"][2:]
    scored, _ = load_scored(tmp_path / "a" / "scored")
    assert scored["train"]["qaq_rmi"][2:] == second["qaq_rmi"][2:]


def test_rewrite_with_fewer_shards_removes_stale_ones(tmp_path):
    ds = scored_ds(40)
    save_folder(tmp_path, {"scored": ds}, max_shard_size=20_000)
    assert len(list((tmp_path / "scored").glob("train-*"))) > 1
    save_folder(tmp_path, {"scored": ds})
    assert _files(tmp_path / "scored") == ["train-00000-of-00001.parquet"]
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
        "README.md", "curated/train-00000-of-00001.parquet", "qaq_plan.yaml", "qaq_report.json", "scored/train-00000-of-00001.parquet",
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
    publish("me/dd", DatasetDict({"train": train, "test": test}), sel, dry_run=tmp_path / "a")
    assert {k: len(v) for k, v in load_dataset(str(tmp_path / "a"), "scored").items()} == {"train": 20, "test": 8}
    assert list(load_dataset(str(tmp_path / "a"), "curated")) == ["train"]
    publish("me/dd", train, sel, dry_run=tmp_path / "b", curated_only=True)
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
    for name in ("README.md", "qaq_plan.yaml", "qaq_report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_dataset_with_split_name_keeps_it(tmp_path):
    ds = Dataset.from_dict(scored_ds(5).to_dict(), split="validation")
    save_folder(tmp_path, {"scored": ds})
    assert list(load_dataset(str(tmp_path), "scored")) == ["validation"]


def _half_written_then_full_disk(monkeypatch, after: int = 1):
    """Make Dataset.to_parquet write part of a file, then fail as a full disk would (after ``after`` good calls)."""
    real = Dataset.to_parquet
    calls = []

    def to_parquet(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) <= after:
            return real(self, path, *args, **kwargs)
        with open(path, "wb") as f:
            f.write(b"PAR1 truncated")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Dataset, "to_parquet", to_parquet)
    return calls


def test_full_disk_on_a_new_folder_leaves_nothing_under_a_final_name(tmp_path, monkeypatch):
    calls = _half_written_then_full_disk(monkeypatch, after=1)
    with pytest.raises(DiskFullError, match=f"No space left on the device while writing '{tmp_path / 'out'}/scored'"):
        save_folder(tmp_path / "out", {"scored": scored_ds(40)}, METADATA, max_shard_size=20_000)
    assert len(calls) == 2  # one shard written, the second hit the full disk
    assert _files(tmp_path / "out") == []  # no shard, no temp file, no README


def test_full_disk_on_a_rewrite_keeps_the_old_files(tmp_path, monkeypatch):
    save_folder(tmp_path, {"scored": scored_ds(10)}, METADATA)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    _half_written_then_full_disk(monkeypatch, after=0)
    with pytest.raises(OSError, match="No space left"):
        save_folder(tmp_path, {"scored": scored_ds(12), "curated": scored_ds(3)}, METADATA)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    monkeypatch.undo()
    assert len(load_dataset(str(tmp_path), "scored")["train"]) == 10


def test_full_disk_while_writing_the_card_keeps_the_old_card(tmp_path, monkeypatch):
    save_folder(tmp_path, {"scored": scored_ds(10)}, METADATA)
    old = (tmp_path / "README.md").read_text()
    real = Path.write_bytes

    def write_bytes(self, data):
        if self.name.startswith(".README.md"):
            real(self, data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(DiskFullError, match=f"while writing '{tmp_path / 'README.md'}'"):
        save_folder(tmp_path, {"scored": scored_ds(10)}, {"seed": 5})
    assert (tmp_path / "README.md").read_text() == old
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("make", ["empty", "file", "under_a_file"])
def test_bad_output_folder_is_refused_before_any_work(tmp_path, make):
    (tmp_path / "f").write_text("x")
    out = {"empty": "", "file": str(tmp_path / "f"), "under_a_file": str(tmp_path / "f" / "sub")}[make]
    with pytest.raises(ConfigError, match="must name a folder" if make == "empty" else "is a file"):
        check_out_dir(out)
    with pytest.raises(ConfigError):
        save_folder(out, {"scored": scored_ds(3)})
    with pytest.raises(ConfigError):
        publish("me/x", scored_ds(3), dry_run=out)
    assert (tmp_path / "f").read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    assert check_out_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"  # not created yet: fine


def test_bad_max_shard_size(tmp_path):
    with pytest.raises(ConfigError, match="max_shard_size"):
        save_folder(tmp_path, {"scored": scored_ds(3)}, max_shard_size="lots")
    save_folder(tmp_path, {"scored": scored_ds(30)}, max_shard_size="10KB")
    assert len(list((tmp_path / "scored").glob("train-*"))) > 1


def _user_project(root: Path) -> dict:
    """A folder of someone's own files, some with the names qaq writes."""
    files = {"scored/important-data.parquet": b"PAR1 someone's data PAR1", "qaq_plan.yaml": b"mine: true\n"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_a_folder_qaq_did_not_write_is_refused_everywhere(tmp_path, capsys):
    from qaq_datasets.cli import main
    from qaq_datasets.publishing import save_selection

    import qaq_datasets.selection as qs

    proj, ds = tmp_path / "myproj", scored_ds(12)
    files = _user_project(proj)
    save_folder(tmp_path / "scored", {"scored": ds}, METADATA)
    selection = qs.Selector().random(seed=0).keep_top(0.5).fit(ds)
    calls = [lambda: publish("me/x", ds, selection, dry_run=proj, metadata=METADATA),
             lambda: save_folder(proj, {"scored": ds}, METADATA),
             lambda: save_selection(proj, ds, selection, METADATA)]
    for call in calls:
        with pytest.raises(ConfigError, match="is not empty .'qaq_plan.yaml' and 1 other entries. and has no "
                                              "README.md with a qaq: block") as err:
            call()
        assert len(str(err.value).splitlines()) == 1
    for argv in (["publish", str(tmp_path / "scored"), "me/x", "--dry-run", str(proj)],
                 ["select", str(tmp_path / "scored"), "--out", str(proj)]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "qaq did not write it" in lines[0]
    assert {str(p.relative_to(proj)) for p in proj.rglob("*") if p.is_file()} == set(files)
    assert all((proj / rel).read_bytes() == data for rel, data in files.items())


@pytest.mark.parametrize("layout", ["readme_without_qaq", "a_file", "qaq_folder_and_a_file"])
def test_what_makes_a_folder_someone_elses(tmp_path, layout):
    out = tmp_path / "out"
    out.mkdir()
    if layout == "readme_without_qaq":
        (out / "README.md").write_text("---\nlicense: mit\n---\n# My project\n")
    elif layout == "a_file":
        (out / "notes.txt").write_text("x")
    else:
        save_folder(out / "scored", {"scored": scored_ds(3)}, METADATA)
        (out / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="qaq did not write it"):
        check_out_dir(out)


@pytest.mark.parametrize("layout", ["qaq_folder", "hidden_only", "qaq_folders_inside", "sharded_run"])
def test_folders_qaq_wrote_are_written_over(tmp_path, layout):
    out = tmp_path / "out"
    out.mkdir()
    if layout == "qaq_folder":
        publish("me/x", scored_ds(5), dry_run=out, metadata=METADATA)
    elif layout == "hidden_only":
        (out / ".qaq.lock").write_text("")
    elif layout == "qaq_folders_inside":  # qaq demo's output: scored/ and hub/
        save_folder(out / "scored", {"scored": scored_ds(3)}, METADATA)
        publish("me/x", scored_ds(3), dry_run=out / "hub", metadata=METADATA)
    else:
        (out / "run").mkdir()
        (out / "run" / "manifest.json").write_text("{}")
    assert check_out_dir(out) == out
    if layout != "qaq_folders_inside":
        save_folder(out, {"scored": scored_ds(4)}, METADATA)
        assert len(load_scored(out)[0]["train"]) == 4


def test_a_full_disk_is_one_line_naming_the_folder_from_the_cli(tmp_path, monkeypatch, capsys):
    from qaq_datasets.cli import main

    save_folder(tmp_path / "scored", {"scored": scored_ds(10)}, METADATA)
    _half_written_then_full_disk(monkeypatch, after=0)
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(tmp_path / "scored"), "me/x", "--dry-run", str(tmp_path / "dry")])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "No space left" in lines[0] and str(tmp_path / "dry" / "scored") in lines[0]
    assert not [p for p in (tmp_path / "dry").rglob("*") if p.is_file()]
