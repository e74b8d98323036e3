"""The Hub stand-in, exercised with the real ``huggingface_hub`` and ``datasets`` clients (no network)."""

from __future__ import annotations

import httpx2
import pytest
from datasets import Dataset, load_dataset
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    DatasetCard,
    HfApi,
    hf_hub_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

REPO = "test-user/standin-ds"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _rows(n: int, tag: str) -> list[dict]:
    return [{"id": i, "text": f"{tag} row {i}", "score": i / 10} for i in range(n)]


def test_endpoint_is_the_standin(hub):
    assert hub.endpoint == HfApi().endpoint
    assert HfApi().whoami()["name"] == "test-user"


def test_create_upload_download_round_trip(hub, tmp_path):
    api = HfApi()
    url = api.create_repo(REPO, repo_type="dataset")
    assert url.repo_id == REPO and url.repo_type == "dataset"
    assert api.repo_exists(REPO, repo_type="dataset")
    assert not api.repo_exists("test-user/nope", repo_type="dataset")
    # exist_ok on a repo that exists (409 from the server)
    api.create_repo(REPO, repo_type="dataset", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(REPO, repo_type="dataset")
    assert err.value.response.status_code == 409

    info = api.upload_file(path_or_fileobj=b"hello hub\n", path_in_repo="notes/hello.txt", repo_id=REPO,
                           repo_type="dataset", commit_message="add hello")
    assert len(info.oid) == 40
    api.upload_file(path_or_fileobj=PNG, path_in_repo="img/x.png", repo_id=REPO, repo_type="dataset")

    assert sorted(api.list_repo_files(REPO, repo_type="dataset")) == [".gitattributes", "img/x.png",
                                                                      "notes/hello.txt"]
    local = hf_hub_download(REPO, "notes/hello.txt", repo_type="dataset")
    assert open(local, "rb").read() == b"hello hub\n"
    local_png = hf_hub_download(REPO, "img/x.png", repo_type="dataset", local_dir=tmp_path)
    assert open(local_png, "rb").read() == PNG
    # the png went through git-LFS, the text file did not
    by_path = {f.path: f for f in api.list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    assert by_path["img/x.png"].lfs is not None and by_path["img/x.png"].lfs.size == len(PNG)
    assert by_path["notes/hello.txt"].lfs is None
    assert any(p == "/datasets/test-user/standin-ds.git/info/lfs/objects/batch" for _, p in hub.requests)
    # what is on disk is the latest main
    assert (hub.repo_dir(REPO) / "img" / "x.png").read_bytes() == PNG
    assert (hub.repo_dir(REPO) / "notes" / "hello.txt").read_bytes() == b"hello hub\n"

    # missing things map to the client's exception types
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "nope.txt", repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("test-user/nope", "x.txt", repo_type="dataset")
    with pytest.raises(RevisionNotFoundError):
        api.dataset_info(REPO, revision="no-such-branch")


def test_history_delete_and_old_revisions(hub):
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=REPO, repo_type="dataset").oid
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="a.txt", repo_id=REPO, repo_type="dataset").oid
    assert first != second and hub.head(REPO) == second
    assert api.dataset_info(REPO).sha == second
    assert open(hf_hub_download(REPO, "a.txt", repo_type="dataset", revision=first), "rb").read() == b"v1"
    assert open(hf_hub_download(REPO, "a.txt", repo_type="dataset"), "rb").read() == b"v2"
    assert [c.commit_id for c in api.list_repo_commits(REPO, repo_type="dataset")][:2] == [second, first]

    api.delete_file("a.txt", repo_id=REPO, repo_type="dataset")
    assert api.list_repo_files(REPO, repo_type="dataset") == [".gitattributes"]
    assert not (hub.repo_dir(REPO) / "a.txt").exists()
    with pytest.raises(EntryNotFoundError):
        api.delete_file("a.txt", repo_id=REPO, repo_type="dataset")

    # parent_commit must be the head
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(REPO, repo_type="dataset", operations=[CommitOperationAdd("b.txt", b"b")],
                          commit_message="stale", parent_commit=first)
    assert err.value.response.status_code == 412


def test_upload_folder_and_paths_info(hub, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / "b.parquet").write_bytes(b"PAR1" + b"\0" * 100)
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset", private=True)
    api.upload_folder(folder_path=tmp_path, repo_id=REPO, repo_type="dataset")
    infos = {i.path: i for i in api.get_paths_info(REPO, ["sub", "b.parquet", "missing"], repo_type="dataset")}
    assert set(infos) == {"sub", "b.parquet"} and infos["b.parquet"].lfs is not None
    top = {i.path for i in api.list_repo_tree(REPO, repo_type="dataset")}
    assert top == {".gitattributes", "b.parquet", "sub"}
    # a private repo looks missing without the token
    assert not HfApi(token=False).repo_exists(REPO, repo_type="dataset")


def test_push_two_configs_and_load_them(hub):
    scored, curated = _rows(7, "scored"), _rows(3, "curated")
    Dataset.from_list(scored).push_to_hub(REPO, config_name="scored")
    Dataset.from_list(curated).push_to_hub(REPO, config_name="curated")

    files = HfApi().list_repo_files(REPO, repo_type="dataset")
    assert "README.md" in files
    assert any(f.startswith("scored/train-") and f.endswith(".parquet") for f in files)
    assert any(f.startswith("curated/train-") and f.endswith(".parquet") for f in files)

    assert load_dataset(REPO, "curated", split="train").to_list() == curated
    assert load_dataset(REPO, "scored", split="train").to_list() == scored
    assert load_dataset(REPO, "scored")["train"].to_list() == scored

    card = DatasetCard.load(REPO, repo_type="dataset")
    names = [c["config_name"] for c in card.data.to_dict()["configs"]]
    assert sorted(names) == ["curated", "scored"]
    assert (hub.repo_dir(REPO) / "README.md").read_text() == str(card)
    assert HfApi().dataset_info(REPO).card_data.to_dict()["configs"]


def test_write_without_token_is_401(hub, monkeypatch):
    HfApi().create_repo(REPO, repo_type="dataset")
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HfHubHTTPError) as err:
        HfApi().upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO, repo_type="dataset")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        Dataset.from_list(_rows(2, "x")).push_to_hub(REPO, config_name="x")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(token="hf_wrong").dataset_info(REPO)
    assert err.value.response.status_code == 401
    assert HfApi().list_repo_files(REPO, repo_type="dataset") == [".gitattributes"]  # reads need no token


def test_500_on_commit_raises_and_leaves_repo_unchanged(hub):
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=REPO, repo_type="dataset")
    before = hub.head(REPO)
    hub.fail_next("POST", "/commit/main")
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=PNG, path_in_repo="x.png", repo_id=REPO, repo_type="dataset")
    assert err.value.response.status_code == 500
    hub.fail_next("POST", "/commit/main")
    with pytest.raises(HfHubHTTPError):
        api.create_commit(REPO, repo_type="dataset", commit_message="two files",
                          operations=[CommitOperationAdd("b.txt", b"b"), CommitOperationDelete("a.txt")])
    assert hub.head(REPO) == before
    assert sorted(api.list_repo_files(REPO, repo_type="dataset")) == [".gitattributes", "a.txt"]
    assert sorted(p.name for p in hub.repo_dir(REPO).iterdir()) == [".gitattributes", "a.txt"]
    # the fault was one-off
    api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=REPO, repo_type="dataset")
    assert hub.head(REPO) != before


def test_dropped_commit_connection_raises(hub):
    """The commit POST is sent once (no retry: a retry could commit twice): a hang-up is an error."""
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    before = hub.head(REPO)
    hub.fail_next("POST", "/commit/main", kind="drop")
    with pytest.raises(httpx2.RemoteProtocolError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO, repo_type="dataset")
    assert hub.head(REPO) == before
    # the reply is lost after the work is done: the client raises although the commit exists
    hub.fail_next("POST", "/commit/main", kind="drop_after")
    with pytest.raises(httpx2.RemoteProtocolError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO, repo_type="dataset")
    assert hub.head(REPO) != before and "x.txt" in api.list_repo_files(REPO, repo_type="dataset")


def test_transient_faults_on_retried_calls_are_absorbed(hub):
    """preupload, the LFS batch call and the LFS PUT go through http_backoff: one failure costs a 1 s retry."""
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    hub.fail_next("PUT", "/__lfs__/", kind="drop")
    hub.fail_next("POST", "/preupload/", kind="500")
    api.upload_file(path_or_fileobj=PNG, path_in_repo="x.png", repo_id=REPO, repo_type="dataset")
    assert open(hf_hub_download(REPO, "x.png", repo_type="dataset"), "rb").read() == PNG
    assert sum(1 for m, p in hub.requests if m == "PUT") == 2
    assert sum(1 for m, p in hub.requests if p.endswith("/preupload/main")) == 2


def test_dropped_download_metadata_call(hub):
    """The HEAD of hf_hub_download is not retried on a hang-up: the client raises the transport error."""
    api = HfApi()
    api.create_repo(REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="h.txt", repo_id=REPO, repo_type="dataset")
    hub.fail_next("HEAD", "/resolve/main/h.txt", kind="drop")
    with pytest.raises(httpx2.RemoteProtocolError):
        hf_hub_download(REPO, "h.txt", repo_type="dataset")
    assert open(hf_hub_download(REPO, "h.txt", repo_type="dataset"), "rb").read() == b"hello"
