"""Resolving a model spec (alias, ``.gguf`` file, local folder or Hub id) without loading anything."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import ConfigTypeError, ModelNotFoundError
from ..inputs import looks_like_hub_id
from .aliases import ALIASES
from .cache import cache_root, file_sha256

@dataclass(frozen=True)
class ResolvedSpec:
    """Where a model's weights come from, and a stable identity for fingerprints."""

    spec: str  # what the user wrote
    kind: str  # "alias" | "gguf" | "folder" | "hub"
    location: str  # the file, folder or Hub id to load from
    name: str  # a human-readable model name
    identity: str | None  # sha256 of the GGUF, a digest of the folder, the Hub commit (None until pinned)
    revision: str | None = None

    def pinned(self) -> ResolvedSpec:
        """The same spec with a Hub revision resolved to its commit (from the local cache, else the Hub)."""
        if self.identity is not None:
            return self
        rev = self.revision or "main"
        if re.fullmatch(r"[0-9a-f]{40}", rev):  # a commit already
            return replace(self, identity=rev, revision=rev)
        from huggingface_hub import HfApi, try_to_load_from_cache

        cached = try_to_load_from_cache(self.location, "config.json", revision=rev)
        try:
            commit = Path(cached).parent.name if isinstance(cached, str) else HfApi().model_info(self.location,
                                                                                                   revision=rev).sha
        except Exception as exc:  # noqa: BLE001 - offline, unknown repo or revision: one clear line
            raise ModelNotFoundError(f"Cannot resolve the Hub model {self.location}@{rev} to a commit: {exc}") from None
        return replace(self, identity=commit, revision=commit)

    def as_dict(self) -> dict:
        """What identifies the weights (not where they lie on this machine, so a fingerprint holds elsewhere)."""
        return {k: v for k, v in asdict(self).items() if k != "location"}


def _folder_digest(folder: Path) -> str:
    """A digest of a transformers folder: the contents of every file (config, tokenizer files, chat template)
    except the weight files, which count by name, size and mtime."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        st = f.stat()
        weights = f.suffix in (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode() if weights else
                 f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def resolve_spec(spec: str, *, revision: str | None = None) -> ResolvedSpec:
    """Resolve ``spec`` to a :class:`ResolvedSpec`; raises ``ModelNotFoundError`` if it names nothing.

    Order: a built-in alias (``smollm2-135m``, ``gemma3-270m``), an existing ``.gguf`` file, an existing
    folder, then a Hugging Face Hub id (nothing is fetched here: see :meth:`ResolvedSpec.pinned`).
    """
    if isinstance(spec, ResolvedSpec):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise ConfigTypeError(f"A model must be a spec string or path such as 'smollm2-135m', a qaq.load_model() "
                              f"result or a transformers model (with tokenizer=), got {type(spec).__name__}.")
    if not (spec := os.fspath(spec)).strip():
        raise ModelNotFoundError(f"The model spec is empty: name an alias ({', '.join(sorted(ALIASES))}), a .gguf "
                                 "file, a model folder or a Hub id.")
    if spec in ALIASES:
        path = (alias := ALIASES[spec]).gguf_path(cache_root())
        return ResolvedSpec(spec, "alias", str(path), alias.name, file_sha256(path), revision)
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {spec}")
        with path.open("rb") as f:  # refused here, not by the converter's traceback when the model loads
            if f.read(4) != b"GGUF":
                raise ModelNotFoundError(f"{spec} is not a GGUF file: it does not start with the GGUF magic bytes.")
        return ResolvedSpec(spec, "gguf", str(path.resolve()), path.stem, file_sha256(path), revision)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotFoundError(f"Folder {spec} has no config.json: not a transformers model folder.")
        return ResolvedSpec(spec, "folder", str(path.resolve()), path.name, _folder_digest(path), revision)
    if "/" in spec and looks_like_hub_id(spec):  # pinned to a commit when its identity is first needed
        return ResolvedSpec(spec, "hub", spec, spec, None, revision)
    if "/" in spec and Path(spec.split("/")[0]).is_dir():
        raise ModelNotFoundError(f"Model folder {spec!r} does not exist (a spec that starts in the local folder "
                                 f"{spec.split('/')[0]!r} is a path, never a Hub id).")
    raise ModelNotFoundError(f"Cannot resolve model spec {spec!r}: it is not a built-in alias "
                             f"({', '.join(sorted(ALIASES))}), an existing .gguf file, a model folder, nor a Hub id "
                             "of the form 'org/name'.")
