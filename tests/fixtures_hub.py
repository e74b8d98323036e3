"""Pytest plugin: the local Hub stand-in (``tests/hubstandin``) as fixtures.

``hub_server`` (session) serves on ``conftest.HUB_PORT``, the port ``HF_ENDPOINT`` already names, so the real
``huggingface_hub``/``datasets`` clients talk to it. ``hub`` (function) is the same server emptied for the test,
with ``HF_TOKEN`` set to its token. The server object has ``endpoint``, ``token``, ``repo_dir(repo_id)``,
``head(repo_id)``, ``fail_next(method, path_substring, kind="500"|"drop"|"drop_after", times=1)``,
``requests`` (list of ``(method, path)``), ``crashes`` and ``reset()``; see ``hubstandin.server``. A test
using ``hub`` fails if the stand-in itself crashed while serving it.
"""

from __future__ import annotations

import os
import sys

import pytest
from conftest import HUB_PORT
from hubstandin import HubStandIn


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory):
    endpoint = f"http://127.0.0.1:{HUB_PORT}"
    if os.environ.get("HF_ENDPOINT") != endpoint:
        raise RuntimeError(f"HF_ENDPOINT is {os.environ.get('HF_ENDPOINT')!r}, the hub stand-in serves {endpoint}")
    server = HubStandIn(HUB_PORT, root=tmp_path_factory.mktemp("hub-standin")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub(hub_server, monkeypatch):
    hub_server.reset()
    # fsspec keeps HfFileSystem instances (and their listings cache) alive between calls: a repo id reused by
    # another test must not be seen through a listing of the previous test's repo
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].HfFileSystem.clear_instance_cache()
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    yield hub_server
    assert not hub_server.crashes, "the hub stand-in itself crashed:\n" + "\n".join(hub_server.crashes)
