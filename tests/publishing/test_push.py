"""publish against the local Hub stand-in: round trip, re-publish merge, failures, token hygiene."""

from __future__ import annotations

import json
import logging
import traceback

import numpy as np
import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard, HfApi
from pub_helpers import METADATA, StandInSelection, generated_section, scored_ds

from qaq_datasets.errors import ConfigError, PublishError
import qaq_datasets.selection as qs
from qaq_datasets.publishing import load_scored, publish, publish_folder, save_folder, save_selection
from qaq_datasets.publishing import push as push_mod
from qaq_datasets.publishing.card import BEGIN, END
from qaq_datasets.publishing.folder import PLAN_FILE, REPORT_FILE

REPO = "test-user/qaq-curated"


def _readme(hub, repo=REPO):
    path = hub.repo_dir(repo) / "README.md"
    return path.read_text(encoding="utf-8") if path.exists() else None


def _repo_files(hub, repo=REPO):
    root = hub.repo_dir(repo)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _assert_no_token(hub, *texts):
    token = hub.token.encode()
    for p in hub.repo_dir(REPO).rglob("*"):
        if p.is_file():
            assert token not in p.read_bytes(), p
    for t in texts:
        assert hub.token not in t


def test_round_trip(hub, caplog):
    caplog.set_level(logging.DEBUG)
    ds = scored_ds(40)
    sel = StandInSelection(ds)
    url = publish(REPO, ds, sel, metadata=METADATA, source="org/src", license="mit")
    assert REPO in url
    files = _repo_files(hub)
    for name in ("README.md", PLAN_FILE, REPORT_FILE, "scored/train-00000-of-00001.parquet", "curated/train-00000-of-00001.parquet"):
        assert name in files
    assert yaml.safe_load((hub.repo_dir(REPO) / PLAN_FILE).read_text()) == sel.plan
    assert json.loads((hub.repo_dir(REPO) / REPORT_FILE).read_text())["rows_kept"] == int(sel.keep.sum())

    curated = load_dataset(REPO, "curated")["train"]
    assert curated["instruction"] == sel.apply(ds)["instruction"]
    np.testing.assert_array_equal(np.asarray(curated["qaq_rmi"]), np.asarray(sel.apply(ds)["qaq_rmi"]))

    scored, meta = load_scored(REPO)
    assert scored["train"]["output"] == ds["output"]
    for col in ("qaq_rmi", "qaq_ifd", "qaq_nll_q"):
        np.testing.assert_array_equal(np.asarray(scored["train"][col]), np.asarray(ds[col]))
    assert scored["train"]["qaq_status"] == ds["qaq_status"]
    assert meta["scorers"] == METADATA["scorers"] and meta["selection"] == sel.plan

    card = DatasetCard(_readme(hub))
    assert {c["config_name"] for c in card.data["configs"]} == {"scored", "curated"}
    assert card.data["license"] == "mit"
    assert "Highest RMI" in generated_section(card.text)
    _assert_no_token(hub, caplog.text)


def test_push_and_dry_run_write_the_same_card(hub, tmp_path):
    ds = scored_ds(20)
    sel = StandInSelection(ds)
    publish(REPO, ds, sel, metadata=METADATA)
    publish(REPO, ds, sel, metadata=METADATA, dry_run=tmp_path)
    pushed, dry = DatasetCard(_readme(hub)), DatasetCard((tmp_path / "README.md").read_text())
    assert pushed.text == dry.text
    # the data's YAML is datasets' on the Hub (sizes, glob patterns) and ours in the folder (file names)
    strip = lambda d: {k: v for k, v in d.to_dict().items() if k not in ("dataset_info", "configs")}  # noqa: E731
    assert strip(pushed.data) == strip(dry.data)
    names = lambda d: sorted(c["config_name"] for c in d.data["configs"])  # noqa: E731
    assert names(pushed) == names(dry) == ["curated", "scored"]
    for name in (PLAN_FILE, REPORT_FILE):
        assert (hub.repo_dir(REPO) / name).read_bytes() == (tmp_path / name).read_bytes()


def test_republish_keeps_human_edits_and_datasets_yaml(hub):
    ds = scored_ds(30)
    publish(REPO, ds, StandInSelection(ds, frac=0.5), metadata=METADATA)
    card = DatasetCard(_readme(hub))
    card.data["language"] = ["en"]
    card.data["pretty_name"] = "Curated by a human"
    edited = str(card).replace(END, END + "\n\n## Notes from a human\n\nDo not lose me.\n")
    HfApi().upload_file(path_or_fileobj=edited.encode(), path_in_repo="README.md", repo_id=REPO, repo_type="dataset")

    sel2 = StandInSelection(ds, frac=0.3)
    publish(REPO, ds, sel2, metadata=METADATA, curated_only=True)
    card2 = DatasetCard(_readme(hub))
    assert "Do not lose me." in card2.text
    assert card2.data["language"] == ["en"] and card2.data["pretty_name"] == "Curated by a human"
    configs = {c["config_name"] for c in card2.data["configs"]}
    assert configs == {"scored", "curated"}  # the scored config of the first publish is still described
    infos = {i["config_name"]: i for i in card2.data["dataset_info"]}
    assert infos["curated"]["splits"][0]["num_examples"] == int(sel2.keep.sum())
    assert infos["scored"]["splits"][0]["num_examples"] == 30
    assert card2.text.count(BEGIN) == 1
    assert f"**{int(sel2.keep.sum())}**" in generated_section(card2.text)
    assert len(load_dataset(REPO, "curated")["train"]) == int(sel2.keep.sum())
    assert len(load_dataset(REPO, "scored")["train"]) == 30


def _fail_final_commit(monkeypatch, hub, kind):
    """The next commit after the card was read from the Hub (the final one) fails."""
    real = push_mod.merge_card

    def merge_then_arm(*args, **kwargs):
        text = real(*args, **kwargs)
        hub.fail_next("POST", f"/api/datasets/{REPO}/commit/", kind=kind)
        return text

    monkeypatch.setattr(push_mod, "merge_card", merge_then_arm)


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_failed_final_commit_on_a_new_repo(hub, monkeypatch, kind):
    ds = scored_ds(20)
    _fail_final_commit(monkeypatch, hub, kind)
    with pytest.raises(PublishError, match="final commit") as err:
        publish(REPO, ds, StandInSelection(ds), metadata=METADATA)
    assert err.value.__cause__ is not None
    text = "".join(traceback.format_exception(err.value))
    _assert_no_token(hub, str(err.value), text)
    readme = _readme(hub)  # what datasets wrote with the data (YAML only), never a partial qaq card
    assert readme is None or (BEGIN not in readme and "qaq" not in (DatasetCard(readme).data.to_dict()))
    files = _repo_files(hub)
    assert PLAN_FILE not in files and REPORT_FILE not in files


def test_failed_final_commit_keeps_the_old_card(hub, monkeypatch):
    ds = scored_ds(20)
    publish(REPO, ds, StandInSelection(ds, frac=0.5), metadata=METADATA)
    old_card = DatasetCard(_readme(hub))
    old_plan = (hub.repo_dir(REPO) / PLAN_FILE).read_bytes()
    real = push_mod.merge_card
    _fail_final_commit(monkeypatch, hub, "500")
    with pytest.raises(PublishError, match="final commit"):
        publish(REPO, ds, StandInSelection(ds, frac=0.2), metadata=METADATA)
    new_card = DatasetCard(_readme(hub))
    assert generated_section(new_card.text) == generated_section(old_card.text)
    assert new_card.data["qaq"] == old_card.data["qaq"]
    assert (hub.repo_dir(REPO) / PLAN_FILE).read_bytes() == old_plan
    # publishing again once the Hub is back fixes everything
    monkeypatch.setattr(push_mod, "merge_card", real)
    sel = StandInSelection(ds, frac=0.2)
    publish(REPO, ds, sel, metadata=METADATA)
    assert DatasetCard(_readme(hub)).data["qaq"]["selection"] == sel.plan


def test_failed_data_upload_names_the_step(hub):
    ds = scored_ds(20)
    hub.fail_next("POST", f"/api/datasets/{REPO}/commit/", kind="500")  # the first data commit
    with pytest.raises(PublishError, match="config 'scored'") as err:
        publish(REPO, ds, StandInSelection(ds), metadata=METADATA)
    _assert_no_token(hub, "".join(traceback.format_exception(err.value)))
    assert _readme(hub) is None


def test_missing_token_fails_before_any_request(hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    ds = scored_ds(10)
    before = len(hub.requests)
    with pytest.raises(PublishError, match="No Hugging Face token"):
        publish(REPO, ds, StandInSelection(ds))
    assert hub.requests[before:] == []
    assert hub.head(REPO) is None


def test_explicit_token_wins_and_a_wrong_one_is_scrubbed(hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    ds = scored_ds(10)
    publish(REPO, ds, StandInSelection(ds), token=hub.token, metadata=METADATA)
    assert hub.head(REPO) is not None
    bad = "hf_wrong_secret_token_123"
    with pytest.raises(PublishError, match="401.*The Hub refused the token.*Nothing was uploaded") as err:
        publish(REPO, ds, StandInSelection(ds), token=bad)
    assert bad not in str(err.value) and len(str(err.value).splitlines()) == 1


def test_a_refused_token_is_one_line_from_the_cli(hub, tmp_path, monkeypatch, capsys):
    from qaq_datasets.cli import main

    save_folder(tmp_path / "scored", {"scored": scored_ds(10)}, METADATA)
    bad = "hf_wrong_secret_token_123"
    monkeypatch.setenv("HF_TOKEN", bad)
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(tmp_path / "scored"), REPO])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "refused the token" in lines[0] and bad not in lines[0]


def test_private_repo(hub):
    ds = scored_ds(10)
    publish(REPO, ds, StandInSelection(ds), private=True, metadata=METADATA)
    assert HfApi().repo_info(REPO, repo_type="dataset").private is True


def test_upload_folder_of_a_dry_run_loads(hub, tmp_path):
    ds = scored_ds(25)
    sel = StandInSelection(ds)
    folder = publish(REPO, ds, sel, dry_run=tmp_path / "repo", metadata=METADATA)
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    api.upload_folder(repo_id=REPO, folder_path=folder, repo_type="dataset")
    assert load_dataset(REPO, "curated")["train"]["instruction"] == sel.apply(ds)["instruction"]
    scored, meta = load_scored(REPO)
    assert len(scored["train"]) == 25 and meta["selection"] == sel.plan
    assert PLAN_FILE in _repo_files(hub)


def test_publish_folder_from_score_and_select_outputs(hub, tmp_path):
    ds = scored_ds(30)
    meta = {**METADATA, "source": {"dataset": "org/src", "license": "apache-2.0"}}
    save_folder(tmp_path / "scored", {"scored": ds}, meta)
    selection = qs.Selector().drop_where("qaq_status", "!=", "ok").score("qaq_rmi").keep_top(0.5).fit(ds)
    save_selection(tmp_path / "selected", ds, selection, meta)

    dry = publish_folder(tmp_path / "scored", REPO, selection_dir=tmp_path / "selected", dry_run=tmp_path / "dry")
    assert len(load_dataset(str(dry), "curated")["train"]) == int(selection.keep.sum())
    publish_folder(tmp_path / "scored", REPO, selection_dir=tmp_path / "selected")
    card = DatasetCard(_readme(hub))
    assert card.data["license"] == "apache-2.0" and card.data["source_datasets"] == ["org/src"]
    assert card.data["qaq"]["scorers"] == METADATA["scorers"] and card.data["qaq"]["selection"] == selection.plan
    section = generated_section(card.text)
    assert "(kept)" in section and "(dropped" in section  # the re-fitted plan knows every row's fate
    assert generated_section(DatasetCard((dry / "README.md").read_text()).text) == section
    assert load_dataset(REPO, "curated")["train"]["output"] == selection.apply(ds)["output"]
    assert yaml.safe_load((hub.repo_dir(REPO) / PLAN_FILE).read_text()) == selection.plan


def test_a_commit_in_between_is_kept(hub, monkeypatch):
    ds = scored_ds(20)
    real = push_mod.merge_card

    def build_with_a_concurrent_commit(*args, **kwargs):
        text = real(*args, **kwargs)  # someone commits after we read the card, before our final commit
        HfApi().upload_file(path_or_fileobj=b"hello\n", path_in_repo="other.txt", repo_id=REPO, repo_type="dataset")
        return text

    monkeypatch.setattr(push_mod, "merge_card", build_with_a_concurrent_commit)
    publish(REPO, ds, StandInSelection(ds), metadata=METADATA)
    assert "other.txt" in _repo_files(hub) and BEGIN in _readme(hub)


def test_local_failures_come_before_any_upload(hub):
    from qaq_datasets.errors import ConfigError

    ds = scored_ds(10)
    before = len(hub.requests)
    with pytest.raises(ConfigError, match="re-fit the plan"):  # a selection fitted on other rows
        publish(REPO, ds, StandInSelection(scored_ds(11)), metadata=METADATA)
    assert hub.requests[before:] == []


def test_load_scored_of_a_missing_repo(hub):
    from qaq_datasets.errors import ConfigError

    with pytest.raises(ConfigError, match="neither a local folder nor a Hub dataset repo"):
        load_scored("test-user/does-not-exist")


def test_publish_folder_without_selection(hub, tmp_path):
    save_folder(tmp_path / "scored", {"scored": scored_ds(12)}, METADATA)
    publish_folder(tmp_path / "scored", REPO, private=True)
    card = DatasetCard(_readme(hub))
    assert [c["config_name"] for c in card.data["configs"]] == ["scored"]
    assert PLAN_FILE not in _repo_files(hub)
    scored, meta = load_scored(REPO)
    assert len(scored["train"]) == 12 and meta["scorers"] == METADATA["scorers"]


def test_a_hub_card_with_aliases_is_refused_before_any_upload(hub):
    bomb = "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    card = f"---\nqaq:\n  a: &a [x, x, x, x, x, x, x, x, x]\n{bomb}---\n\nSomeone's card.\n"
    HfApi().create_repo(REPO, repo_type="dataset")
    HfApi().upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=REPO, repo_type="dataset")
    ds = scored_ds(20)
    with pytest.raises(ConfigError, match=f"dataset repo '{REPO}'.*anchors and aliases") as err:
        publish(REPO, ds, StandInSelection(ds), metadata=METADATA)
    assert len(str(err.value).splitlines()) == 1
    assert not [f for f in _repo_files(hub) if f.endswith(".parquet")] and _readme(hub) == card  # nothing went up


def test_rows_published_without_a_selection_never_sit_beside_an_old_one(hub, tmp_path):
    """A repo (or dry-run folder) holding a selection of the rows published before is refused before any upload:
    its curated config, plan and report would describe other rows. Nor is a card's stale selection copied."""
    ds, other = scored_ds(12), scored_ds(11, seed=1)
    publish(REPO, ds, StandInSelection(ds), metadata=METADATA)
    before = _repo_files(hub)
    with pytest.raises(ConfigError, match=f"repo '{REPO}' holds a selection .* publish with a selection"):
        publish(REPO, other, metadata=METADATA)
    assert _repo_files(hub) == before and len(load_scored(REPO)[0]["train"]) == 12  # nothing went up
    publish(REPO, ds, StandInSelection(ds), metadata=METADATA, dry_run=tmp_path / "dry")
    with pytest.raises(ConfigError, match="holds a selection .* new rows there would leave it stale"):
        publish(REPO, other, metadata=METADATA, dry_run=tmp_path / "dry")
    stale = {**METADATA, "selection": {"steps": []}, "fitted_on": {"rows": 12, "sha256": "0" * 64}}
    card = DatasetCard((publish("me/new", other, metadata=stale, dry_run=tmp_path / "new") / "README.md").read_text())
    assert not {"selection", "fitted_on"} & set(card.data["qaq"])
