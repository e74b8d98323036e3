"""load_scored: rows plus the qaq: metadata, with the score columns checked against it."""

from __future__ import annotations

import pytest
from datasets import Dataset, DatasetDict, Value
from pub_helpers import METADATA, StandInSelection, scored_ds

from qaq_datasets.errors import ColumnError, ConfigError
from qaq_datasets.publishing import load_scored, publish, save_folder


def test_load_scored_folder_returns_rows_and_metadata(tmp_path):
    ds = scored_ds(12, prefixes=("strong_", "weak_"))
    meta = {"scorers": {"strong": {"prefix": "strong_", "model": {"name": "m1"}},
                        "weak": {"prefix": "weak_", "model": {"name": "m2"}}}, "seed": 3}
    save_folder(tmp_path, {"scored": ds}, meta)
    loaded, got = load_scored(tmp_path)
    assert isinstance(loaded, DatasetDict) and loaded["train"].to_dict().keys() == ds.to_dict().keys()
    assert loaded["train"]["strong_rmi"][1:] == ds["strong_rmi"][1:]
    assert got["scorers"] == meta["scorers"] and got["seed"] == 3
    one, _ = load_scored(str(tmp_path), split="train")
    assert isinstance(one, Dataset) and len(one) == 12


def test_load_scored_default_config_and_dry_run_folder(tmp_path):
    save_folder(tmp_path / "a", {"default": scored_ds(5)}, METADATA)
    ds, meta = load_scored(tmp_path / "a")
    assert len(ds["train"]) == 5 and meta["scorers"] == METADATA["scorers"]
    full = scored_ds(20)
    publish("me/x", full, StandInSelection(full), dry_run=tmp_path / "b", metadata=METADATA)
    ds, meta = load_scored(tmp_path / "b")
    assert len(ds["train"]) == 20 and meta["selection"]["steps"][0]["step"] == "top_fraction"
    cur, _ = load_scored(tmp_path / "b", config="curated", split="train")
    assert len(cur) == 10


def test_missing_score_column_is_named(tmp_path):
    save_folder(tmp_path, {"scored": scored_ds(5).remove_columns("qaq_ifd")}, METADATA)
    with pytest.raises(ColumnError, match="qaq_ifd") as err:
        load_scored(tmp_path)
    assert err.value.column == "qaq_ifd"
    assert "qaq_rmi" in err.value.available and "Available columns" in str(err.value)


def test_mistyped_score_column_is_named(tmp_path):
    ds = scored_ds(5).cast_column("qaq_q_tokens", Value("string"))
    save_folder(tmp_path, {"scored": ds}, METADATA)
    with pytest.raises(ColumnError, match="qaq_q_tokens.*int") as err:
        load_scored(tmp_path)
    assert err.value.column == "qaq_q_tokens"


def test_scorer_listed_in_metadata_but_absent(tmp_path):
    meta = {"scorers": {**METADATA["scorers"], "weak": {"prefix": "weak_"}}}
    save_folder(tmp_path, {"scored": scored_ds(5)}, meta)
    with pytest.raises(ColumnError, match="weak_nll_q"):
        load_scored(tmp_path)


def test_without_scorers_the_prefixes_are_inferred(tmp_path):
    save_folder(tmp_path, {"scored": scored_ds(5, prefixes=("strong_",))})
    with pytest.warns(UserWarning, match="inferred"):
        _, meta = load_scored(tmp_path)
    assert meta["scorers"] == {"strong": {"prefix": "strong_"}}


def test_no_score_columns_at_all(tmp_path):
    save_folder(tmp_path, {"scored": Dataset.from_dict({"text": ["a"]})})
    with pytest.raises(ColumnError, match="no score columns"):
        load_scored(tmp_path)


def test_unknown_config_and_bad_source(tmp_path):
    save_folder(tmp_path, {"scored": scored_ds(5), "curated": scored_ds(2)}, METADATA)
    with pytest.raises(ConfigError, match="BuilderConfig 'nope' not found. Available: .'scored', 'curated'."):
        load_scored(tmp_path, config="nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_scored(str(tmp_path / "does not exist"))


def test_a_mistyped_folder_is_never_sent_to_the_hub(hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_folder(tmp_path / "out" / "scored", {"scored": scored_ds(4)}, METADATA)
    before = len(hub.requests)
    for typo in ("out/scoredd", "out/scored/x", "./scoredd", "scoredd"):  # a bare name: no published repo has one
        with pytest.raises(ConfigError, match="does not exist"):
            load_scored(typo)
    assert hub.requests[before:] == []
    assert len(load_scored("out/scored")[0]["train"]) == 4


def test_a_curated_only_source_is_not_taken_for_scored_rows(tmp_path):
    save_folder(tmp_path, {"curated": scored_ds(4)}, METADATA)
    with pytest.raises(ConfigError, match="BuilderConfig 'scored' not found. Available: .'curated'."):
        load_scored(tmp_path)
    ds, _ = load_scored(tmp_path, config="curated")
    assert len(ds["train"]) == 4


def test_an_unreachable_hub_is_one_line_not_a_traceback(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    import qaq_datasets.publishing.metadata as metadata

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("cannot reach the Hub")

    monkeypatch.setattr(metadata, "hf_hub_download", offline)
    with pytest.raises(ConfigError, match="could not be reached"):
        load_scored("someone/some_scored_name")


def _alias_bomb(indent: str) -> str:
    """Nine nested anchors, under 1 KB: 9**9 (387 million) strings once expanded."""
    lines = [f"{indent}a: &a [{', '.join(['xxxxxxxx'] * 9)}]"]
    lines += [f"{indent}{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    return "\n".join(lines) + "\n"


def _edit_card(folder, old: str, new: str) -> None:
    readme = folder / "README.md"
    text = readme.read_text()
    assert old in text
    readme.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("insert, needle", [
    ("qaq:\n  bomb:\n" + _alias_bomb("    "), "anchors and aliases .* are not allowed"),
    ("qaq:\n  seed: !!python/object/apply:os.system ['echo pwned']\n", "could not determine a constructor"),
    ("qaq:\n  seed: [1, 2\n", "line"),
])
def test_a_card_with_aliases_or_tags_is_one_line_at_once(tmp_path, capsys, insert, needle):
    import time

    from qaq_datasets.cli import main

    save_folder(tmp_path / "scored", {"scored": scored_ds(5)}, METADATA)
    _edit_card(tmp_path / "scored", "qaq:\n", insert)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=needle) as err:
        load_scored(tmp_path / "scored")
    message = str(err.value)
    assert len(message.splitlines()) == 1 and len(message) < 300 and "README.md" in message
    assert str(tmp_path / "scored") in message and "pwned" not in message
    for argv in (["select", str(tmp_path / "scored"), "--out", str(tmp_path / "sel")],
                 ["publish", str(tmp_path / "scored"), "me/x", "--dry-run", str(tmp_path / "dry")]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "README.md" in lines[0]
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "sel").exists() and not (tmp_path / "dry").exists()


@pytest.mark.parametrize("front", ["- a list\n- not a mapping\n", "1: a number as a name\n"])
def test_a_card_whose_yaml_is_no_mapping_of_names(tmp_path, front):
    (tmp_path / "README.md").write_text(f"---\n{front}---\n\nhello\n")
    with pytest.raises(ConfigError, match="not a mapping of names"):
        load_scored(tmp_path)


def test_a_card_that_is_not_utf8(tmp_path):
    save_folder(tmp_path, {"scored": scored_ds(5)}, METADATA)
    (tmp_path / "README.md").write_bytes(b"---\nqaq: \xff\n---\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_scored(tmp_path)


def _shard(folder, config="scored"):
    (shard,) = (folder / config).glob("train-*.parquet")
    return shard


@pytest.mark.parametrize("damage, needle", [
    ("truncate", "is not a readable parquet file"), ("delete", "Unable to find"), ("empty", "not a readable"),
])
def test_a_damaged_data_file_is_one_line_naming_it(tmp_path, capsys, damage, needle):
    from qaq_datasets.cli import main

    folder = tmp_path / "scored"
    save_folder(folder, {"scored": scored_ds(20)}, METADATA)
    shard = _shard(folder)
    data = shard.read_bytes()
    if damage == "delete":
        shard.unlink()
    else:
        shard.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    with pytest.raises(ConfigError, match=needle) as err:
        load_scored(folder)
    assert len(str(err.value).splitlines()) == 1 and shard.name in str(err.value)
    for argv in (["select", str(folder), "--out", str(tmp_path / "sel")],
                 ["publish", str(folder), "me/x", "--dry-run", str(tmp_path / "dry")]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and shard.name in lines[0] and needle.split()[-1] in lines[0]
    assert not (tmp_path / "sel").exists() and not (tmp_path / "dry").exists()


@pytest.mark.parametrize("path", ["../elsewhere/train.parquet", "/etc/passwd", "../*/train-*.parquet"])
def test_a_card_naming_data_outside_its_folder_is_refused(tmp_path, path):
    folder = tmp_path / "scored"
    save_folder(folder, {"scored": scored_ds(5)}, METADATA)
    save_folder(tmp_path / "elsewhere", {"scored": scored_ds(5)}, METADATA)
    (tmp_path / "elsewhere" / "train.parquet").write_bytes(_shard(tmp_path / "elsewhere").read_bytes())
    readme = folder / "README.md"
    readme.write_text(readme.read_text().replace(f"scored/{_shard(folder).name}", path))
    # a file outside is refused; datasets itself finds no /etc/passwd data file and no glob through '..'
    with pytest.raises(ConfigError, match="outside the folder|Unable to find|No .supported. data files found"):
        load_scored(folder)


def test_an_unknown_split_lists_the_splits(tmp_path):
    save_folder(tmp_path, {"scored": DatasetDict({"train": scored_ds(5), "validation": scored_ds(3)})}, METADATA)
    with pytest.raises(ConfigError, match="could not be loaded: Unknown split .test.. Should be one of "
                                          ".'train', 'validation'.") as err:
        load_scored(tmp_path, split="test")
    assert len(str(err.value).splitlines()) == 1
    assert len(load_scored(tmp_path, split="validation")[0]) == 3


def test_a_folder_without_configs_in_its_card_still_fails_in_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    scored_ds(5).to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    (tmp_path / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 cut")
    with pytest.raises(ConfigError, match="not a readable parquet file") as err:
        load_scored(tmp_path)
    assert len(str(err.value).splitlines()) == 1


@pytest.mark.parametrize("data_dir", ["ABS", "../elsewhere"])
def test_a_card_whose_data_dir_is_outside_its_folder_is_refused(tmp_path, data_dir):
    folder, elsewhere = tmp_path / "scored", tmp_path / "elsewhere"
    save_folder(folder, {"scored": scored_ds(5)}, METADATA)
    save_folder(elsewhere, {"scored": scored_ds(5)}, METADATA)
    readme = folder / "README.md"
    data_dir = str(elsewhere) if data_dir == "ABS" else data_dir
    readme.write_text(readme.read_text().replace("  data_files:", f"  data_dir: {data_dir}\n  data_files:", 1))
    with pytest.raises(ConfigError, match="outside the folder"):
        load_scored(folder)


def test_a_folder_without_configs_holding_a_link_to_a_file_outside_is_refused(tmp_path):
    folder, elsewhere = tmp_path / "scored", tmp_path / "elsewhere"
    save_folder(elsewhere, {"scored": scored_ds(5)}, METADATA)
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.parquet").symlink_to(_shard(elsewhere))
    with pytest.raises(ConfigError, match="a link to a file outside the folder"):
        load_scored(folder)


@pytest.mark.parametrize("source", ["", "  ", None, 5])
def test_load_scored_needs_a_folder_or_a_repo_id(source):
    with pytest.raises(ConfigError, match="needs a folder or a Hub dataset repo id"):
        load_scored(source)
