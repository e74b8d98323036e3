"""Resolving a model spec (alias, ``.gguf`` file, local folder or Hub id) without loading anything."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigTypeError, ModelNotFoundError
from .aliases import ALIASES
from .cache import cache_root, file_sha256

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@dataclass(frozen=True)
class ResolvedSpec:
    """Where a model's weights come from, and a stable identity for fingerprints."""

    spec: str  # what the user wrote
    kind: str  # "alias" | "gguf" | "folder" | "hub"
    location: str  # the file, folder or Hub id to load from
    name: str  # a human-readable model name
    identity: str  # sha256 of the GGUF, a digest of the folder's files, or "hub-id@revision"
    revision: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.kind in ("alias", "gguf")


def _folder_digest(folder: Path) -> str:
    """A cheap digest of a transformers folder: config bytes plus weight file names, sizes and mtimes."""
    h = hashlib.sha256()
    cfg = folder / "config.json"
    if cfg.exists():
        h.update(cfg.read_bytes())
    for f in sorted(folder.iterdir()):
        if f.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            st = f.stat()
            h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def resolve_spec(spec: str, *, revision: str | None = None) -> ResolvedSpec:
    """Resolve ``spec`` to a :class:`ResolvedSpec`; raises ``ModelNotFoundError`` if it names nothing.

    Order: a built-in alias (``smollm2-135m``, ``gemma3-270m``), an existing ``.gguf`` file, an existing
    folder, then a Hugging Face Hub id (only fetched when the model is loaded).
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise ConfigTypeError(f"A model spec must be a string or path, got {type(spec).__name__}.")
    spec = os.fspath(spec)
    if spec in ALIASES:
        alias = ALIASES[spec]
        path = alias.gguf_path(cache_root())
        return ResolvedSpec(spec, "alias", str(path), alias.name, file_sha256(path), revision)
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {spec}")
        return ResolvedSpec(spec, "gguf", str(path.resolve()), path.stem, file_sha256(path), revision)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotFoundError(f"Folder {spec} has no config.json: not a transformers model folder.")
        return ResolvedSpec(spec, "folder", str(path.resolve()), path.name, _folder_digest(path), revision)
    if _HUB_ID.match(spec) and "/" in spec:
        rev = revision or "main"
        return ResolvedSpec(spec, "hub", spec, spec, f"{spec}@{rev}", rev)
    known = ", ".join(sorted(ALIASES))
    raise ModelNotFoundError(
        f"Cannot resolve model spec {spec!r}: it is not a built-in alias ({known}), an existing .gguf file, "
        "a model folder, nor a Hub id of the form 'org/name'."
    )
