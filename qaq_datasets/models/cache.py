"""The on-disk cache of converted (dequantised) weights.

Dequantising a GGUF file is slow; the result is saved once as a plain transformers folder
(safetensors + config + tokenizer) keyed by the GGUF file's sha256, so later loads take seconds.
Entries are written to a temporary folder and renamed into place, so a crash never leaves a half entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from ..files import write_atomic

logger = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$QAQ_CACHE``, else ``$XDG_CACHE_HOME/qaq_datasets``, else ``~/.cache/qaq_datasets``."""
    if env := os.environ.get("QAQ_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qaq_datasets"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered next to the cache keyed by (path, size, mtime)."""
    path, memo_file = Path(path).resolve(), cache_root() / "sha256.json"
    key = f"{path}|{(st := path.stat()).st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        memo[key] = digest.hexdigest()
        write_atomic(memo_file, json.dumps(memo, indent=0))
    return memo[key]


def gguf_folder(src) -> Path:
    """The plain transformers folder of the GGUF file of ``src`` (a resolved alias or ``.gguf`` spec), dequantised
    once into the cache under the file's sha256 and written atomically.

    A GGUF-loaded model carries a ``quantization_config`` and a gguf quantizer that make
    ``save_pretrained`` refuse. The weights are already dequantised in memory, so the model is
    detached from the quantizer (config entry and ``hf_quantizer`` removed) before saving; what is
    written is an ordinary float checkpoint that loads without ``gguf``.
    """
    target = cache_root() / "converted" / src.identity[:32]
    if (target / "COMPLETE").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(src.location)
    logger.info("Converting %s once (dequantising the GGUF); later loads use %s", path.name, target)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype="float32")
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    # a crash leaves no half entry: the temporary folder is removed, or renamed into place once complete
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=target.parent, ignore_cleanup_errors=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / "qaq_source.json").write_text(json.dumps({"gguf_sha256": src.identity, "source": str(path)}))
        (Path(tmp) / "COMPLETE").write_text("ok\n")
        if not target.exists():  # else another process won the race: keep theirs
            os.replace(tmp, target)
    return target
