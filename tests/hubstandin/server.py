"""A local stand-in for the Hugging Face Hub HTTP API. TEST CODE ONLY: it stands in for huggingface.co.

The real ``huggingface_hub`` and ``datasets`` clients talk to it when ``HF_ENDPOINT`` points at it
(``http://127.0.0.1:<port>``) and Xet is off (``HF_HUB_DISABLE_XET=1``: uploads then use the git-LFS
protocol, downloads plain HTTP). Tests can then create repos, push and load datasets with no network.
Only the part of the Hub API those clients use is implemented, from reading their source
(huggingface_hub 2.4, datasets 5.2):

write path
    ``POST /api/repos/create``, ``DELETE /api/repos/delete``, ``GET /api/whoami-v2``,
    ``POST /api/validate-yaml``, ``POST /api/{type}s/{id}/preupload/{rev}``,
    ``POST /{prefix}{id}.git/info/lfs/objects/batch`` (git-LFS batch API, "basic" transfer) and the
    ``PUT`` of the bytes to the href it hands out, ``POST /api/{type}s/{id}/commit/{rev}`` (NDJSON:
    ``header``, ``file``, ``lfsFile``, ``deletedFile``, ``deletedFolder``; ``parentCommit`` checked, 412),
    ``POST|DELETE /api/{type}s/{id}/branch/{branch}``.
read path
    ``GET /api/{type}s/{id}[/revision/{rev}]`` (info: ``sha``, ``siblings``, ``cardData``...),
    ``GET /api/{type}s/{id}/tree/{rev}[/{path}]`` (``recursive``, ``expand``; one page, no ``Link``),
    ``POST /api/{type}s/{id}/paths-info/{rev}``, ``GET /api/{type}s/{id}/commits/{rev}``,
    ``GET /api/{type}s/{id}/refs``, ``HEAD|GET /{prefix}{id}/resolve/{rev}/{path}`` (``X-Repo-Commit``,
    ``ETag``, ``X-Linked-Etag``/``X-Linked-Size`` for LFS files, ``Range`` -> 206).

``{prefix}`` is ``datasets/`` or ``spaces/`` (nothing for models); repo ids must be ``namespace/name``.
Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) and
``X-Error-Message`` as the Hub does, since the client maps them to its exception types.

Auth: writes need ``Authorization: Bearer <token>`` (else 401); a wrong token is a 401 on any call;
private repos look missing without the token. The LFS ``PUT`` carries no auth (like a signed S3 URL):
the href it hands out holds a random signature instead, checked on the PUT.

Storage: each content is a blob stored once under ``<root>/blobs/<sha256>``; a commit is an immutable
snapshot ``{path: Entry}`` (all history kept, so any commit sha resolves); a branch names a commit. A
commit is applied atomically: the new tree is built and checked in full, then the branch moves. The
current tree of ``main`` is also written out under ``repo_dir(repo_id)`` for tests to inspect.

Fault injection: ``fail_next(method, path_substring, kind)`` makes the next matching request answer
500 (``"500"``), or close the connection without a reply, either before doing anything (``"drop"``)
or after having done the work, as when a reply is lost (``"drop_after"``).

Not implemented on purpose: Xet, pull requests (``create_pr``), tags, multipart LFS, pagination,
gated repos, the dataset viewer (``datasets-server``) API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

try:  # only to fill ``cardData`` and to reject invalid README metadata, as the Hub does
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# files stored with git-LFS (as in the .gitattributes the Hub puts in new repos); binaries and big files too
LFS_EXTENSIONS = (
    "7z arrow bin bz2 ckpt ftz gguf gz h5 jpeg jpg joblib lz4 mds mlmodel model msgpack npy npz onnx ot "
    "parquet pb pickle pkl png pt pth rar safetensors tar tflite tgz wasm webp xz zip zst mp3 mp4 ogg wav flac"
).split()
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n" for ext in LFS_EXTENSIONS).encode()
ERROR_CODE_HEADER = "X-Error-Code"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class Entry:
    """One file of a commit: its content (by sha256) and how git stores it."""

    sha256: str
    size: int
    lfs: bool
    git_oid: str  # git blob sha1, of the LFS pointer for LFS files


@dataclass
class Commit:
    oid: str
    parent: str | None
    tree: dict[str, Entry]
    title: str
    message: str
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    method: str
    needle: str
    kind: str
    times: int


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


class HubError(Exception):
    """An error answer: JSON ``{"error": message}`` plus the ``X-Error-*`` headers the client reads."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}

    def response(self) -> _Response:
        headers = {"X-Error-Message": self.message.encode("ascii", "replace").decode(), **self.headers}
        if self.code:
            headers[ERROR_CODE_HEADER] = self.code
        return _json(self.status, {"error": self.message}, headers)


class HubStandIn:
    """The server and its state. ``start()`` it (or use it as a context manager), then point clients at
    ``endpoint`` with ``token``."""

    def __init__(self, port: int = 0, *, token: str = "hf_test_token", user: str = "test-user",
                 host: str = "127.0.0.1", root: str | Path | None = None):
        self.token = token
        self.user = user
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="hub-standin-") if root is None else root)
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], Repo] = {}
        self._faults: list[_Fault] = []
        self._upload_sigs: dict[str, tuple[str, int]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, unquoted path without query), in arrival order
        self.crashes: list[str] = []  # tracebacks of bugs in the stand-in itself (answered 500)
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://{host}:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._init_storage()

    # ---- life cycle and test helpers -------------------------------------------------------------
    def start(self) -> HubStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _init_storage(self) -> None:
        for sub in ("blobs", "repos"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
            (self.root / sub).mkdir(parents=True)

    def reset(self) -> None:
        """Forget all repos, blobs, pending faults and the request log."""
        with self._lock:
            self._repos.clear()
            self._faults.clear()
            self._upload_sigs.clear()
            self.requests.clear()
            self.crashes.clear()
            self._init_storage()

    def repo_dir(self, repo_id: str, repo_type: str = "dataset") -> Path:
        """Directory holding the files of the repo's ``main`` branch as of its latest commit."""
        return self.root / "repos" / f"{repo_type}s" / repo_id

    def head(self, repo_id: str, repo_type: str = "dataset", branch: str = "main") -> str | None:
        """Commit sha the branch points at, None if there is no such repo or branch."""
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            return repo.branches.get(branch) if repo else None

    def fail_next(self, method: str, path_substring: str, kind: str = "500", times: int = 1) -> None:
        """Make the next ``times`` requests with this method whose unquoted path contains
        ``path_substring`` fail: ``"500"`` answers 500, ``"drop"`` closes the connection without a reply
        (nothing done), ``"drop_after"`` does the work then closes without a reply (reply lost)."""
        if kind not in ("500", "drop", "drop_after"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._faults.append(_Fault(method.upper(), path_substring, kind, times))

    # ---- request dispatch --------------------------------------------------------------------------
    def _handle(self, method: str, raw_target: str, headers, body: bytes) -> _Response | None:
        """Answer one request; None means: close the connection without a reply."""
        raw_path, _, query = raw_target.partition("?")
        path = unquote(raw_path)
        with self._lock:
            self.requests.append((method, path))
            fault = next((f for f in self._faults if f.method == method and f.needle in path), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind == "500":
            return _json(500, {"error": "Internal Error - injected by the hub stand-in"})
        try:
            response = self._route(method, raw_path, parse_qs(query), headers, body)
        except HubError as err:
            response = err.response()
        except Exception as err:  # a bug in the stand-in: record it, answer 500
            with self._lock:
                self.crashes.append(f"{method} {raw_target}\n{traceback.format_exc()}")
            response = _json(500, {"error": f"hub stand-in crashed: {err!r}"})
        return None if fault is not None else response

    def _route(self, method: str, raw_path: str, query: dict, headers, body: bytes) -> _Response:
        segs = [unquote(s) for s in raw_path.split("/")[1:]]
        if segs and segs[-1] == "":
            segs.pop()
        authed = self._check_auth(headers)
        if segs[:1] == ["api"]:
            rest = segs[1:]
            if rest == ["whoami-v2"] and method == "GET":
                self._require(authed)
                return _json(200, {"type": "user", "name": self.user, "fullname": self.user, "orgs": [],
                                   "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
            if rest == ["validate-yaml"] and method == "POST":
                return self._validate_yaml(json.loads(body or b"{}").get("content", ""))
            if rest == ["repos", "create"] and method == "POST":
                self._require(authed)
                return self._create_repo(json.loads(body or b"{}"))
            if rest == ["repos", "delete"] and method == "DELETE":
                self._require(authed)
                return self._delete_repo(json.loads(body or b"{}"))
            if len(rest) >= 3 and rest[0] in REPO_TYPES:
                repo = self._get_repo(REPO_TYPES[rest[0]], f"{rest[1]}/{rest[2]}", authed)
                return self._repo_api(method, repo, rest[3:], query, body, authed)
        elif segs[:1] == ["__lfs__"] and len(segs) == 2 and method == "PUT":
            return self._lfs_put(segs[1], query, body)
        else:
            repo_type = "model"
            if segs[:1] in (["datasets"], ["spaces"]):
                repo_type, segs = REPO_TYPES[segs[0]], segs[1:]
            if len(segs) == 6 and segs[1].endswith(".git") and segs[2:] == ["info", "lfs", "objects", "batch"]:
                self._get_repo(repo_type, f"{segs[0]}/{segs[1][:-4]}", authed)  # 404 if missing
                self._require(authed)
                return self._lfs_batch(json.loads(body or b"{}"))
            if len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
                repo = self._get_repo(repo_type, f"{segs[0]}/{segs[1]}", authed)
                return self._resolve(method, repo, segs[3], "/".join(segs[4:]), headers.get("Range"))
        raise HubError(404, f"Sorry, we can't find the page you are looking for ({method} {raw_path}).")

    def _repo_api(self, method: str, repo: Repo, rest: list[str], query: dict, body: bytes, authed: bool):
        action, args = (rest[0], rest[1:]) if rest else (None, [])
        def flag(name: str) -> bool:
            return query.get(name, ["false"])[-1].lower() in ("1", "true")

        if action is None and method == "GET":
            return self._info(repo, self._commit(repo, "main"), query)
        if action == "revision" and len(args) == 1 and method == "GET":
            return self._info(repo, self._commit(repo, args[0]), query)
        if action == "tree" and args and method == "GET":
            commit = self._commit(repo, args[0])
            return _json(200, self._tree(repo, commit, "/".join(args[1:]), flag("recursive"), flag("expand")))
        if action == "paths-info" and len(args) == 1 and method == "POST":
            return self._paths_info(repo, self._commit(repo, args[0]), body)
        if action == "commits" and len(args) == 1 and method == "GET":
            return _json(200, self._history(repo, self._commit(repo, args[0])))
        if action == "refs" and not args and method == "GET":
            with self._lock:
                branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid}
                            for b, oid in repo.branches.items()]
            return _json(200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []})
        if action == "branch" and len(args) == 1 and method in ("POST", "DELETE"):
            self._require(authed)
            return self._branch(method, repo, args[0], json.loads(body or b"{}"))
        if action == "preupload" and len(args) == 1 and method == "POST":
            self._require(authed)
            return self._preupload(self._commit(repo, args[0]), json.loads(body or b"{}"))
        if action == "commit" and len(args) == 1 and method == "POST":
            self._require(authed)
            if flag("create_pr"):
                raise HubError(400, "create_pr is not supported by the hub stand-in")
            return self._create_commit(repo, args[0], body)
        raise HubError(404, f"Sorry, we can't find the page you are looking for ({method} {'/'.join(rest)}).")

    # ---- auth and lookups ----------------------------------------------------------------------------
    def _check_auth(self, headers) -> bool:
        value = headers.get("Authorization")
        if value is None:
            return False
        if value != f"Bearer {self.token}":
            raise HubError(401, "Invalid credentials in Authorization header")
        return True

    @staticmethod
    def _require(authed: bool) -> None:
        if not authed:
            raise HubError(401, "You must be authenticated to do this (no Authorization header).")

    def _get_repo(self, repo_type: str, repo_id: str, authed: bool) -> Repo:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authed):
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return repo

    def _commit(self, repo: Repo, rev: str) -> Commit:
        with self._lock:
            if rev in repo.branches:
                return repo.commits[repo.branches[rev]]
            if re.fullmatch(r"[0-9a-f]{7,40}", rev):
                found = [c for oid, c in repo.commits.items() if oid.startswith(rev)]
                if len(found) == 1:
                    return found[0]
        raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def _store(self, data: bytes, lfs: bool) -> Entry:
        sha = hashlib.sha256(data).hexdigest()
        if not self._blob(sha).exists():
            tmp = self._blob(f"{sha}.tmp-{secrets.token_hex(4)}")
            tmp.write_bytes(data)
            tmp.replace(self._blob(sha))
        return self._entry(sha, len(data), lfs, data)

    def _entry(self, sha: str, size: int, lfs: bool, data: bytes | None = None) -> Entry:
        if lfs:
            return Entry(sha, size, True, _git_blob_oid(_lfs_pointer(sha, size)))
        return Entry(sha, size, False, _git_blob_oid(self._blob(sha).read_bytes() if data is None else data))

    # ---- repos and read API --------------------------------------------------------------------------
    def _create_repo(self, payload: dict) -> _Response:
        name, org = payload.get("name"), payload.get("organization")
        repo_type = payload.get("type") or "model"
        if not name or "/" in name or repo_type not in URL_PREFIX:
            raise HubError(400, f"Invalid repo name or type: {name!r} ({repo_type!r})")
        repo_id = f"{org or self.user}/{name}"
        url = f"{self.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                # create_repo(exist_ok=True) reads the url from the 409 answer
                return _json(409, {"error": "You already created this repo", "url": url},
                             {"X-Error-Message": "You already created this repo"})
            repo = Repo(repo_type, repo_id, private, _now())
            tree = {".gitattributes": self._store(GITATTRIBUTES, lfs=False)}
            self._add_commit(repo, "main", None, tree, "initial commit", "")
            self._repos[(repo_type, repo_id)] = repo
        return _json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self, payload: dict) -> _Response:
        repo_id = f"{payload.get('organization') or self.user}/{payload.get('name')}"
        repo_type = payload.get("type") or "model"
        with self._lock:
            if self._repos.pop((repo_type, repo_id), None) is None:
                raise HubError(404, "Repository not found", code="RepoNotFound")
            shutil.rmtree(self.repo_dir(repo_id, repo_type), ignore_errors=True)
        return _Response(200)

    def _card_data(self, commit: Commit) -> dict | None:
        entry = commit.tree.get("README.md")
        if entry is None or yaml is None:
            return None
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", self._blob(entry.sha256).read_text("utf-8"), re.S)
        try:
            data = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    def _info(self, repo: Repo, commit: Commit, query: dict) -> _Response:
        blobs = query.get("blobs", ["false"])[-1].lower() in ("1", "true")
        siblings = []
        for path, e in sorted(commit.tree.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=e.size, blobId=e.git_oid)
                if e.lfs:
                    sibling["lfs"] = {"size": e.size, "sha256": e.sha256,
                                      "pointerSize": len(_lfs_pointer(e.sha256, e.size))}
            siblings.append(sibling)
        info = {"_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0], "sha": commit.oid, "lastModified": commit.date,
                "createdAt": repo.created_at, "private": repo.private, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": [], "siblings": siblings}
        card = self._card_data(commit)
        if card is not None:
            info["cardData"] = card
        expand = query.get("expand") or query.get("expand[]")
        if expand:
            info = {k: v for k, v in info.items() if k in expand or k in ("_id", "id")}
        return _json(200, info)

    def _validate_yaml(self, content: str) -> _Response:
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
        if match and yaml is not None:
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as err:
                return _json(400, {"errors": [{"message": f"Invalid YAML: {err}"}], "warnings": []})
            if data is not None and not isinstance(data, dict):
                return _json(400, {"errors": [{"message": "metadata must be a YAML mapping"}], "warnings": []})
        return _json(200, {"errors": [], "warnings": []})

    def _last_commit(self, repo: Repo, commit: Commit, path: str) -> dict:
        """The latest commit, from ``commit`` back, that changed ``path`` (a file or a folder)."""
        def view(c: Commit | None) -> dict:
            if c is None:
                return {}
            return {p: e for p, e in c.tree.items() if p == path or p.startswith(path + "/")}
        c = commit
        while c.parent is not None and view(c) == view(repo.commits[c.parent]):
            c = repo.commits[c.parent]
        return {"id": c.oid, "title": c.title, "date": c.date}

    def _path_json(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict | None:
        entry = commit.tree.get(path)
        if entry is not None:
            out: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": path}
            if entry.lfs:
                out["lfs"] = {"oid": entry.sha256, "size": entry.size,
                              "pointerSize": len(_lfs_pointer(entry.sha256, entry.size))}
        else:
            below = sorted((p, e.git_oid) for p, e in commit.tree.items() if p.startswith(path + "/"))
            if not below:
                return None
            out = {"type": "directory", "oid": hashlib.sha1(repr(below).encode()).hexdigest(), "size": 0,
                   "path": path}
        if expand:
            out["lastCommit"] = self._last_commit(repo, commit, path)
        return out

    def _tree(self, repo: Repo, commit: Commit, path: str, recursive: bool, expand: bool) -> list[dict]:
        path = path.strip("/")
        prefix = f"{path}/" if path else ""
        if path and path in commit.tree:
            raise HubError(404, f"{path} is a file, not a folder", code="EntryNotFound")
        names: set[str] = set()
        for p in commit.tree:
            if not p.startswith(prefix):
                continue
            parts = p[len(prefix):].split("/")
            if recursive:
                names.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            else:
                names.add(prefix + parts[0])
        if path and not names:
            raise HubError(404, f"{path} does not exist at this revision", code="EntryNotFound",
                           headers={"X-Repo-Commit": commit.oid})
        entries = [self._path_json(repo, commit, name, expand) for name in sorted(names)]
        return sorted(entries, key=lambda e: (e["type"] != "directory", e["path"]))

    def _paths_info(self, repo: Repo, commit: Commit, body: bytes) -> _Response:
        try:
            payload = json.loads(body)
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        except ValueError:  # the client posts a form: paths=a&paths=b&expand=false
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[-1].lower() in ("1", "true")
        paths = [paths] if isinstance(paths, str) else paths
        infos = [self._path_json(repo, commit, p.strip("/"), expand) for p in paths]
        return _json(200, [info for info in infos if info is not None])

    def _history(self, repo: Repo, commit: Commit | None) -> list[dict]:
        out = []
        while commit is not None:
            out.append({"id": commit.oid, "title": commit.title, "message": commit.message, "date": commit.date,
                        "authors": [{"user": self.user}]})
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return out

    def _branch(self, method: str, repo: Repo, branch: str, payload: dict) -> _Response:
        with self._lock:
            if method == "DELETE":
                if branch == "main" or branch not in repo.branches:
                    raise HubError(400 if branch == "main" else 404, f"Cannot delete branch {branch}")
                del repo.branches[branch]
                return _Response(200)
            if branch in repo.branches:
                raise HubError(409, f"Reference refs/heads/{branch} already exists")
            repo.branches[branch] = self._commit(repo, payload.get("startingPoint") or "main").oid
        return _Response(200)

    def _resolve(self, method: str, repo: Repo, rev: str, path: str, range_header: str | None) -> _Response:
        commit = self._commit(repo, rev)
        entry = commit.tree.get(path)
        if entry is None:
            raise HubError(404, "Entry not found", code="EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        etag = f'"{entry.sha256 if entry.lfs else entry.git_oid}"'
        headers = {"X-Repo-Commit": commit.oid, "ETag": etag, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if entry.lfs:  # the Hub answers LFS files with a redirect to its CDN and these two headers
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
        start, end, status = 0, entry.size - 1, 200
        if range_header:
            match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", range_header)
            if match and match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), entry.size - 1) if match.group(2) else entry.size - 1
            elif match and match.group(2):  # suffix range: the last N bytes
                start = max(entry.size - int(match.group(2)), 0)
            if not match or start >= entry.size or start > end:
                return _Response(416, b"", {**headers, "Content-Range": f"bytes */{entry.size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        length = max(end - start + 1, 0)
        headers["Content-Length"] = str(length)
        body = b""
        if method == "GET" and length:
            with open(self._blob(entry.sha256), "rb") as f:
                f.seek(start)
                body = f.read(length)
        return _Response(status, body, headers)

    # ---- write API -----------------------------------------------------------------------------------
    def _preupload(self, commit: Commit, payload: dict) -> _Response:
        files = []
        for item in payload.get("files", []):
            path, size = item["path"], int(item.get("size", 0))
            sample = base64.b64decode(item.get("sample", ""))
            ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
            lfs = size > LFS_SIZE_THRESHOLD or ext in LFS_EXTENSIONS or b"\0" in sample
            remote = commit.tree.get(path)
            oid = None if remote is None else (remote.sha256 if remote.lfs else remote.git_oid)
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        return _json(200, {"files": files, "commitOid": commit.oid})

    def _lfs_batch(self, payload: dict) -> _Response:
        if payload.get("operation") != "upload":
            raise HubError(400, "only the 'upload' operation of the LFS batch API is implemented")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = str(obj.get("oid")), int(obj.get("size", -1))
            if not re.fullmatch(r"[0-9a-f]{64}", oid) or size < 0:
                objects.append({"oid": oid, "size": size, "error": {"code": 422, "message": "bad oid or size"}})
            elif self._blob(oid).exists():
                objects.append({"oid": oid, "size": size})  # already there: no action
            else:
                sig = secrets.token_hex(16)
                with self._lock:
                    self._upload_sigs[sig] = (oid, size)
                href = f"{self.endpoint}/__lfs__/{oid}?sig={sig}"
                objects.append({"oid": oid, "size": size, "authenticated": True,
                                "actions": {"upload": {"href": href, "expires_in": 3600}}})
        return _json(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                     {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_put(self, oid: str, query: dict, body: bytes) -> _Response:
        with self._lock:
            expected = self._upload_sigs.get(query.get("sig", [""])[-1])
        if expected is None or expected[0] != oid:
            raise HubError(403, "Invalid or expired upload signature")
        if len(body) != expected[1] or hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match oid {oid} / size {expected[1]}")
        self._store(body, lfs=True)
        return _Response(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    @staticmethod
    def _check_path(path: Any) -> str:
        parts = path.split("/") if isinstance(path, str) else [""]
        if any(p in ("", ".", "..") for p in parts) or parts[0] == ".git":
            raise HubError(400, f"Invalid path in repo: {path!r}")
        return path

    def _create_commit(self, repo: Repo, branch: str, body: bytes) -> _Response:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The commit payload must start with a 'header' line")
        header = lines[0]["value"]
        with self._lock:  # one commit at a time: check, build the new tree, then move the branch
            if branch not in repo.branches:
                self._commit(repo, branch)  # 404 RevisionNotFound if it is nothing
                raise HubError(400, f"Can only commit to a branch, not to {branch}")
            head = repo.commits[repo.branches[branch]]
            parent = header.get("parentCommit")
            if parent and parent != head.oid:
                raise HubError(412, f"Parent commit {parent} is not the head of {branch} ({head.oid})")
            tree = dict(head.tree)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value") or {}
                path = self._check_path(value.get("path"))
                if key == "file":
                    tree[path] = self._store(base64.b64decode(value.get("content", "")), lfs=False)
                elif key == "lfsFile":
                    oid = str(value.get("oid"))
                    if not self._blob(oid).exists():
                        raise HubError(422, f"LFS object {oid} for {path} was never uploaded")
                    tree[path] = self._entry(oid, self._blob(oid).stat().st_size, lfs=True)
                elif key == "deletedFile":
                    if tree.pop(path, None) is None:
                        raise HubError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
                elif key == "deletedFolder":
                    below = [p for p in tree if p.startswith(path.rstrip("/") + "/")]
                    if not below:
                        raise HubError(404, f"A folder with this name doesn't exist: {path}", code="EntryNotFound")
                    for p in below:
                        del tree[p]
                else:
                    raise HubError(400, f"Unknown commit operation {key!r}")
            for p in tree:  # a path cannot be both a file and a folder
                parents = p.split("/")[:-1]
                if any("/".join(parents[: i + 1]) in tree for i in range(len(parents))):
                    raise HubError(400, f"{p} is below a path that is a file")
            commit = self._add_commit(repo, branch, head.oid, tree, header.get("summary") or "",
                                      header.get("description") or "")
        url = f"{self.endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        return _json(200, {"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": ""})

    def _add_commit(self, repo: Repo, branch: str, parent: str | None, tree: dict, title: str, message: str):
        commit = Commit(secrets.token_hex(20), parent, tree, title, message, _now())
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        if branch == "main":
            self._materialize(repo, tree)
        return commit

    def _materialize(self, repo: Repo, tree: dict[str, Entry]) -> None:
        """Write the tree out under repo_dir: fully in a staging folder, then swap it in."""
        target = self.repo_dir(repo.repo_id, repo.repo_type)
        staging = target.with_name(f".{target.name}.staging-{secrets.token_hex(4)}")
        for path, entry in tree.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._blob(entry.sha256), staging / path)
        staging.mkdir(parents=True, exist_ok=True)
        old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)


def _make_handler(hub: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients' pooled connections expect
        server_version = "HubStandIn/1.0"

        def log_message(self, format, *args) -> None:  # quiet: hub.requests is the log
            pass

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._read_body()
            response = hub._handle(self.command, self.path, self.headers, body)
            if response is None:  # injected fault: hang up without a word
                self.close_connection = True
                return
            self.send_response(response.status)
            headers = {"Content-Length": str(len(response.body)), **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler
