"""The ``qaq:`` block of a dataset card: read it, validate it, check score columns against it.

The block (see ``docs/architecture.md``) records everything needed to reproduce a scored or curated
data set: library version, one recipe per scorer prefix, the selection plan and the seed.

Input columns
    For every scorer prefix ``p`` in the block: ``{p}nll_q``, ``{p}nll_q_given_a``, ``{p}nll_a``,
    ``{p}nll_a_given_q``, ``{p}rmi``, ``{p}ifd`` (float), ``{p}q_tokens``, ``{p}a_tokens`` (int),
    ``{p}status`` (string).

Output columns
    None: this module only reads.

Examples
    >>> meta = {"scorers": {"strong": {"prefix": "strong_"}}}
    >>> scorer_prefixes(meta)
    ['strong_']
    >>> infer_prefixes(["x", "qaq_rmi", "qaq_nll_q", "qaq_status"])
    ['qaq_']
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ColumnError, ConfigError
from ..scoring.columns import FLOAT_FIELDS, INT_FIELDS, STATUS_FIELD

#: The key of the block in the card's YAML front matter.
QAQ_KEY = "qaq"

#: Score columns one scorer adds (suffix after the prefix) and the kind of type each must have.
#: (``scoring.columns`` is the single source of the names; it imports no torch.)
SCORE_COLUMNS: dict[str, str] = {
    **{f: "float" for f in FLOAT_FIELDS},
    **{f: "int" for f in INT_FIELDS},
    STATUS_FIELD: "string",
}

_KIND_DTYPES = {
    "float": {"float16", "float32", "float64", "double", "float"},
    "int": {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"},
    "string": {"string", "large_string"},
}


def scorer_name(prefix: str) -> str:
    """The scorer's name in the block: the prefix without its trailing ``_`` (``qaq_`` → ``qaq``)."""
    return prefix[:-1] if prefix.endswith("_") else prefix


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


def infer_prefixes(columns: Iterable[str]) -> list[str]:
    """Prefixes ``p`` for which ``{p}rmi`` and ``{p}nll_q`` and ``{p}status`` are all columns."""
    cols = list(columns)
    colset = set(cols)
    found = []
    for col in cols:
        if col.endswith("rmi"):
            p = col[: -len("rmi")]
            if f"{p}nll_q" in colset and f"{p}status" in colset and p not in found:
                found.append(p)
    return found


def _kind_of(feature: Any) -> str | None:
    dtype = getattr(feature, "dtype", None)
    for kind, names in _KIND_DTYPES.items():
        if dtype in names:
            return kind
    return None


def check_score_columns(features: Mapping, prefixes: Iterable[str], *, where: str = "the dataset") -> None:
    """Raise :class:`ColumnError` unless every contract column of every prefix exists with the right type.

    ``features`` is a ``datasets.Features`` (or any mapping of column → feature with ``.dtype``).
    """
    available = list(features)
    for p in prefixes:
        for suffix, kind in SCORE_COLUMNS.items():
            col = f"{p}{suffix}"
            if col not in features:
                raise ColumnError(
                    f"Score column {col!r} (scorer prefix {p!r}) is missing from {where}.",
                    column=col,
                    available=available,
                )
            got = _kind_of(features[col])
            if got != kind:
                dtype = getattr(features[col], "dtype", type(features[col]).__name__)
                raise ColumnError(
                    f"Score column {col!r} in {where} has type {dtype}, expected a {kind} column.",
                    column=col,
                    available=available,
                )


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
