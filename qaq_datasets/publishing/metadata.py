"""The ``qaq:`` block of a dataset card: validate it, find the scorer prefixes it names, build it for a publish.

The block (see ``docs/architecture.md``) records everything needed to reproduce a scored or curated
data set: library version, one recipe per scorer prefix, the selection plan, the rows it was fitted on
(``fitted_on``: count and sha256 of the score columns) and the seed.

Examples
    >>> scorer_prefixes({"scorers": {"strong": {"prefix": "strong_"}, "weak": {}}})
    ['strong_', 'weak_']
    >>> to_builtin({"a": np.int64(3), "b": (np.float32(0.5),)})
    {'a': 3, 'b': [0.5]}
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError
from ..scoring.schema import infer_prefixes, scorer_name


def to_builtin(value: Any) -> Any:
    """Numpy scalars/arrays, tuples and mappings → plain Python (YAML/JSON-safe) values."""
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if isinstance(o, (np.ndarray, np.generic)) else
                                 list(o) if isinstance(o, (set, frozenset)) else str(o)))


def validate_metadata(meta: Any) -> dict:
    """Check the shape of a ``qaq:`` block and return a plain copy of it.

    Raises :class:`ConfigError` when the block is not a mapping, or ``scorers`` is not a mapping of
    name → recipe with a non-empty string ``prefix``.
    """
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise ConfigError(f"The qaq: metadata block must be a mapping, got {type(meta).__name__}.")
    meta = to_builtin(dict(meta))
    scorers = meta.get("scorers")
    if scorers is not None and not isinstance(scorers, dict):
        raise ConfigError(f"qaq.scorers must be a mapping of name -> recipe, got {type(scorers).__name__}.")
    for name, recipe in (scorers or {}).items():
        if not isinstance(recipe, dict):
            raise ConfigError(f"qaq.scorers.{name} must be a mapping (the scorer's recipe).")
        prefix = recipe.get("prefix", f"{name}_")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"qaq.scorers.{name}.prefix must be a non-empty string, got {prefix!r}.")
    return meta


def scorer_prefixes(meta: Mapping | None) -> list[str]:
    """The column prefixes of the scorers listed in a ``qaq:`` block, in order."""
    return [str(r.get("prefix", f"{n}_")) for n, r in ((meta or {}).get("scorers") or {}).items()]


def inferred_scorers(prefixes: Iterable[str]) -> dict:
    """A minimal ``scorers`` mapping for prefixes whose recipes are unknown."""
    return {scorer_name(p): {"prefix": p} for p in prefixes}


def prefixes_for(meta: Mapping | None, columns: Iterable[str]) -> list[str]:
    """Prefixes from the block's scorers, or inferred from the columns (with a warning) when it has none."""
    prefixes = scorer_prefixes(meta)
    if not prefixes and (prefixes := infer_prefixes(columns)):
        warnings.warn(f"No scorers in the qaq: metadata; inferred score-column prefixes {prefixes} from the column "
                      "names. Scorer recipes (model, template) are unknown.", stacklevel=3)
    return prefixes


def qaq_block(meta: dict, prefixes: list[str], *, plan: dict | None = None, fitted_on: dict | None = None,
              source: dict | None = None) -> dict:
    """The card's ``qaq:`` block: library version, scorers, selection plan and its rows, seed, source, the rest."""
    meta = dict(meta)
    meta.pop("library_version", None)
    out = {"library_version": __version__, "scorers": meta.pop("scorers", None) or inferred_scorers(prefixes)}
    if meta.get("seed") is None:
        meta["seed"] = (plan or {}).get("seed")
    for key, value in (("selection", plan), ("fitted_on", fitted_on), ("seed", None)):
        value = meta.pop(key, None) if value is None else to_builtin(value)
        meta.pop(key, None)
        if value is not None:
            out[key] = value
    src = meta.pop("source", None)
    if src := {**(src if isinstance(src, dict) else {}), **(source or {})} or src:
        out["source"] = src
    return {**out, **meta}
