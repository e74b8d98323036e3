"""Test-wide set-up: no network, HF caches in a temp dir, a local Hub stand-in.

The Hugging Face clients read their endpoint and cache locations when they are imported, so this
module sets them before anything imports ``datasets`` or ``huggingface_hub``.
"""

from __future__ import annotations

import os
import socket
import tempfile

_HF_TMP = tempfile.mkdtemp(prefix="qaq-tests-hf-")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HUB_PORT = _free_port()
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{HUB_PORT}"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HOME"] = os.path.join(_HF_TMP, "hf_home")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_HF_TMP, "datasets_cache")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# the converted-weights cache of the real models is kept between test runs (it is a cache, not state)
os.environ.setdefault("QAQ_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qaq_datasets"))
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
    os.environ.pop(_var, None)

import pytest  # noqa: E402

pytest_plugins = ["fixtures_models", "fixtures_hub"]


@pytest.fixture(scope="session")
def hf_tmp() -> str:
    return _HF_TMP
