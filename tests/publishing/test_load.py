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
    publish("me/x", full, StandInSelection(full), dry_run=tmp_path / "b", metadata=METADATA, figures=False)
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
    with pytest.raises(ConfigError, match="no config 'nope'.*curated"):
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
    with pytest.raises(ConfigError, match="no config 'scored'; it has: curated"):
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
