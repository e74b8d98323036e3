"""The on-disk cache of converted (dequantised) weights.

Dequantising a GGUF file is slow; the result is saved once as a plain transformers folder
(safetensors + config + tokenizer) keyed by the GGUF file's sha256, so later loads take seconds.
Entries are written to a temporary folder and renamed into place, so a crash never leaves a half entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..files import write_atomic


def cache_root() -> Path:
    """``$QAQ_CACHE``, else ``$XDG_CACHE_HOME/qaq_datasets``, else ``~/.cache/qaq_datasets``."""
    if env := os.environ.get("QAQ_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qaq_datasets"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered next to the cache keyed by (path, size, mtime)."""
    path = Path(path).resolve()
    st = path.stat()
    memo_file = cache_root() / "sha256.json"
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    write_atomic(memo_file, json.dumps(memo, indent=0))
    return memo[key]


def converted_dir(sha256: str) -> Path:
    return cache_root() / "converted" / sha256[:32]


def is_complete(folder: Path) -> bool:
    return (folder / "COMPLETE").exists()


def save_converted(model, tokenizer, sha256: str, source: str) -> Path:
    """Save a GGUF-loaded model as a plain transformers folder, atomically.

    A GGUF-loaded model carries a ``quantization_config`` and a gguf quantizer that make
    ``save_pretrained`` refuse. The weights are already dequantised in memory, so the model is
    detached from the quantizer (config entry and ``hf_quantizer`` removed) before saving; what is
    written is an ordinary float checkpoint that loads without ``gguf``.
    """
    target = converted_dir(sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        if hasattr(model, "is_quantized"):
            model.is_quantized = False
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "qaq_source.json").write_text(json.dumps({"gguf_sha256": sha256, "source": source}))
        (tmp / "COMPLETE").write_text("ok\n")
        if target.exists():  # another process won the race: keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
