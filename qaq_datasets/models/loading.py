"""Loading a model for scoring: resolve the spec, convert GGUF once, dispatch with accelerate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .cache import gguf_folder
from .spec import ResolvedSpec, resolve_spec

_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float16": "float16", "fp16": "float16"}


def resolve_dtype(dtype: Any = None, device_map: Any = "auto") -> str:
    """The compute dtype: the one asked for (a name or ``torch.dtype``), else bf16 where the hardware does it well
    (CUDA with bf16, CPUs with AVX512-BF16/AMX) and fp32 otherwise."""
    if dtype is not None and dtype != "auto":
        if (name := _DTYPES.get(str(dtype).replace("torch.", ""))) is None:
            raise ConfigError(f"Unsupported dtype {dtype!r}; use one of float32, bfloat16, float16 or 'auto'.")
        return name
    import torch

    if torch.cuda.is_available() and device_map not in ("cpu", {"": "cpu"}):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    flags = cpuinfo.read_text() if (cpuinfo := Path("/proc/cpuinfo")).is_file() else ""
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


@dataclass
class QAQModel:
    """A loaded causal LM, its tokenizer, and where it came from (for fingerprints and cards).

    Attributes:
        model: the ``transformers`` causal LM, in eval mode.
        tokenizer: its tokenizer.
        source: the resolved spec (``None`` for a model passed in directly).
        dtype: the compute dtype name.
        loaded_digest: :meth:`weights_digest` when ``load_model`` loaded it (None for a model passed in).
    """

    model: Any
    tokenizer: Any
    source: ResolvedSpec | None
    dtype: str
    loaded_digest: str | None = None

    def weights_digest(self) -> str:
        """A digest of the weights (every byte for small models, a sample of each tensor for large ones) and
        tokenizer: it changes when the weights are changed in place (fine-tuning)."""
        import hashlib

        import torch

        model, tok = self.model, self.tokenizer
        tok_id = f"{type(tok).__name__}|{len(tok)}|{getattr(tok, 'chat_template', None)}|{tok.all_special_tokens}"
        h = hashlib.sha256((type(model).__name__ + tok_id).encode())
        total = sum(p.numel() for p in model.parameters())
        for name, p in model.state_dict().items():
            h.update(f"{name}|{tuple(p.shape)}|{p.dtype}".encode())
            if not p.is_meta:  # a weight offloaded to disk by accelerate has no data here
                t = p.detach().reshape(-1)[:4096 if total > 20_000_000 else None].to("cpu").contiguous()  # only these
                h.update(t.view(torch.uint8).numpy().tobytes())  # its raw bytes (numpy has no bfloat16)
        return h.hexdigest()

    def identity(self) -> dict:
        """What identifies these weights, tokenizer and numeric set-up, for fingerprints and cards: the files it was
        loaded from while its weights are as loaded, else (a model passed in, or changed since) their digest."""
        digest = self.weights_digest()
        if self.source is not None and digest == self.loaded_digest:
            return {**self.source.pinned().as_dict(), "dtype": self.dtype}
        name = (f"{self.source.name} (changed after loading)" if self.source is not None
                else getattr(self.model.config, "_name_or_path", "") or type(self.model).__name__)
        return {"spec": None, "name": name, "kind": "object", "identity": digest, "revision": None, "dtype": self.dtype}


def _location(src: ResolvedSpec) -> tuple[str, dict]:
    """Where ``from_pretrained`` loads from, and its keyword arguments (a Hub model at its pinned commit)."""
    if src.kind in ("alias", "gguf"):  # converted once into a transformers folder
        return str(gguf_folder(src)), {}
    return src.location, ({"revision": src.pinned().revision} if src.kind == "hub" else {})


def load_part(src: ResolvedSpec, auto: str = "AutoTokenizer"):
    """The tokenizer (``auto="AutoTokenizer"``) or config (``"AutoConfig"``) of a resolved spec alone (cheap: no
    weights are loaded, a GGUF file is converted once)."""
    import transformers

    location, kwargs = _location(src)
    return getattr(transformers, auto).from_pretrained(location, **kwargs)


def load_model(spec: str | ResolvedSpec, *, device_map: Any = "auto", dtype: Any = None,
               revision: str | None = None) -> QAQModel:
    """Load a causal LM for scoring.

    Args:
        spec: a built-in alias (``smollm2-135m``, ``gemma3-270m``), a ``.gguf`` file, a model folder, or a
            Hugging Face Hub id (loaded at the commit its revision resolves to).
        device_map: passed to ``from_pretrained`` and dispatched by accelerate (``"auto"``: GPU(s), CPU,
            disk offload; ``"cpu"``; ``"cuda:1"``; or an explicit map).
        dtype: ``None``/``"auto"`` picks bf16 where the hardware does it well, fp32 otherwise.
        revision: the Hub revision for Hub ids.

    Returns:
        A :class:`QAQModel` (model in eval mode, gradients off, tokenizer, identity).

    Examples:
        >>> import qaq_datasets as qaq
        >>> weak = qaq.load_model("smollm2-135m", dtype="float32")  # doctest: +SKIP
    """
    name = resolve_dtype(dtype, device_map)
    src = resolve_spec(spec, revision=revision).pinned()
    import torch
    from transformers import AutoModelForCausalLM

    location, kwargs = _location(src)
    if device_map == "auto" and not torch.cuda.is_available():
        device_map = "cpu"  # accelerate's auto map adds nothing on a CPU-only machine
    model = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, name), device_map=device_map, **kwargs)
    model.eval().requires_grad_(False)
    loaded = QAQModel(model=model, tokenizer=load_part(src), source=src, dtype=name)
    loaded.loaded_digest = loaded.weights_digest()
    return loaded
