"""qaq-datasets: QAQ bidirectional-coherence scoring and selection of synthetic code instructions.

The public face only; heavy libraries (torch, transformers, matplotlib) load where they are used.

Examples:
    >>> import qaq_datasets as qaq
    >>> scored = ds.map(qaq.score_fn("smollm2-135m"), batched=True)           # doctest: +SKIP
    >>> selection = qaq.preset("default").fit(scored)                          # doctest: +SKIP
    >>> qaq.publish("me/curated-code", scored, selection)                      # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module

from ._version import __version__

_EXPORTS = {
    "load_model": "qaq_datasets.models",
    "QAQModel": "qaq_datasets.models",
    "score_fn": "qaq_datasets.scoring",
    "check_fn": "qaq_datasets.checks",
    "Scorer": "qaq_datasets.scoring",
    "Template": "qaq_datasets.scoring",
    "score": "qaq_datasets.scoring",
    "Selector": "qaq_datasets.selection",
    "Selection": "qaq_datasets.selection",
    "preset": "qaq_datasets.selection",
    "list_presets": "qaq_datasets.selection",
    "publish": "qaq_datasets.publishing",
    "load_scored": "qaq_datasets.publishing",
    "errors": "qaq_datasets.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = import_module(_EXPORTS[name])
        value = module if name == "errors" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qaq_datasets' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
