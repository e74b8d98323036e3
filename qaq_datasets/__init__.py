"""qaq-datasets: QAQ bidirectional-coherence scoring and selection of synthetic code instructions.

The public face only; heavy libraries (torch, transformers) load where they are used.

Examples:
    >>> import qaq_datasets as qaq
    >>> scored = ds.map(qaq.score_fn("smollm2-135m"), batched=True)           # doctest: +SKIP
    >>> selection = qaq.preset("default").fit(scored)                          # doctest: +SKIP
    >>> qaq.publish("me/curated-code", scored, selection)                      # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module

from ._version import __version__

_EXPORTS = {name: f"qaq_datasets.{module}" for module, names in {
    "models": ["load_model", "QAQModel"], "scoring": ["score_fn", "Scorer", "Template", "score"],
    "checks": ["check_fn"], "selection": ["Selector", "Selection", "preset", "list_presets"],
    "publishing": ["publish", "load_scored"], "errors": ["errors"]}.items() for name in names}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qaq_datasets' has no attribute {name!r}")
    module = import_module(_EXPORTS[name])
    globals()[name] = value = module if name == "errors" else getattr(module, name)
    return value


def __dir__():
    return sorted(__all__)
