"""The ``qaq:`` block of a dataset card: read it, validate it, find the scorer prefixes it names.

The block (see ``docs/architecture.md``) records everything needed to reproduce a scored or curated
data set: library version, one recipe per scorer prefix, the selection plan and the seed.

Examples
    >>> meta = {"scorers": {"strong": {"prefix": "strong_"}}}
    >>> scorer_prefixes(meta)
    ['strong_']
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..scoring.schema import infer_prefixes, scorer_name

#: The key of the block in the card's YAML front matter.
QAQ_KEY = "qaq"


def validate_metadata(meta: Any) -> dict:
    """Check the shape of a ``qaq:`` block and return a deep copy of it.

    Raises :class:`ConfigError` when the block is not a mapping, or ``scorers`` is not a mapping of
    name → recipe with a string ``prefix``.
    """
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise ConfigError(f"The qaq: metadata block must be a mapping, got {type(meta).__name__}.")
    meta = copy.deepcopy(dict(meta))
    scorers = meta.get("scorers")
    if scorers is None:
        return meta
    if not isinstance(scorers, Mapping):
        raise ConfigError(f"qaq.scorers must be a mapping of name -> recipe, got {type(scorers).__name__}.")
    for name, recipe in scorers.items():
        if not isinstance(recipe, Mapping):
            raise ConfigError(f"qaq.scorers.{name} must be a mapping (the scorer's recipe).")
        prefix = recipe.get("prefix", f"{name}_")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"qaq.scorers.{name}.prefix must be a non-empty string, got {prefix!r}.")
    return meta


def scorer_prefixes(meta: Mapping | None) -> list[str]:
    """The column prefixes of the scorers listed in a ``qaq:`` block, in order."""
    scorers = (meta or {}).get("scorers") or {}
    return [str(recipe.get("prefix", f"{name}_")) for name, recipe in scorers.items()]


def prefixes_for(meta: Mapping | None, columns: Iterable[str]) -> list[str]:
    """Prefixes from the block's scorers, or inferred from the columns (with a warning) when it has none."""
    prefixes = scorer_prefixes(meta)
    if prefixes:
        return prefixes
    prefixes = infer_prefixes(columns)
    if prefixes:
        warnings.warn(
            "No scorers in the qaq: metadata; inferred score-column prefixes "
            f"{prefixes} from the column names. Scorer recipes (model, template) are unknown.",
            stacklevel=3,
        )
    return prefixes


def inferred_scorers(prefixes: Iterable[str]) -> dict:
    """A minimal ``scorers`` mapping for prefixes whose recipes are unknown."""
    return {scorer_name(p): {"prefix": p} for p in prefixes}


def metadata_from_card_data(data: Mapping) -> dict:
    """The validated ``qaq:`` block of a card's YAML data (``{}`` when it has none)."""
    return validate_metadata(data.get(QAQ_KEY))
