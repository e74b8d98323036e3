"""What a run reads: the input dataset (a ``Dataset`` or a path) and the scorers (one or several, named)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import ColumnError, ConfigError, ConfigTypeError
from ..scoring.schema import scorer_name


def load_input(dataset_or_path, *, split: str = "train"):
    """A ``datasets.Dataset`` from a ``Dataset``, a ``DatasetDict`` (``split``), or a path / Hub id.

    Paths are read as the CLI reads them (:func:`qaq_datasets.inputs.load_input`): a ``.parquet``/``.json``/
    ``.jsonl``/``.csv``/``.arrow`` file, a ``save_to_disk`` folder, a folder of data files, or a Hub dataset id.
    """
    from datasets import Dataset, DatasetDict

    obj = dataset_or_path
    if isinstance(obj, (str, os.PathLike)):
        from ..inputs import load_input as load_source

        obj = load_source(obj, split=split)
    if isinstance(obj, DatasetDict):
        if split not in obj:
            raise ConfigError(f"The dataset has splits {', '.join(obj)}; pass split= to pick one (got {split!r}).")
        obj = obj[split]
    if not isinstance(obj, Dataset):
        raise ConfigTypeError(f"Expected a datasets.Dataset or a path, got {type(obj).__name__}.")
    return obj


def as_scorers(scorers) -> dict:
    """``{name: Scorer}`` from one scorer, a sequence of scorers, or a mapping ``{name: scorer}``.

    Names default to the prefix without its trailing ``_``. Prefixes (hence output columns) must be distinct.
    """
    from ..scoring import Scorer

    if isinstance(scorers, Scorer):
        named = {scorer_name(scorers.prefix): scorers}
    elif isinstance(scorers, Mapping):
        named = dict(scorers)
    elif isinstance(scorers, Sequence) and not isinstance(scorers, str):
        named = {scorer_name(s.prefix) if isinstance(s, Scorer) else str(i): s for i, s in enumerate(scorers)}
        if len(named) != len(scorers):
            raise ConfigError("Several scorers share a prefix; give each its own prefix= (e.g. 'strong_', 'weak_').")
    else:
        raise ConfigTypeError(f"scorers must be a Scorer, a list of Scorers or a {{name: Scorer}} dict, "
                              f"got {type(scorers).__name__}.")
    if not named:
        raise ConfigError("No scorer given.")
    for name, s in named.items():
        if not isinstance(name, str) or not name:
            raise ConfigTypeError(f"Scorer names must be non-empty strings, got {name!r}.")
        if not isinstance(s, Scorer):
            raise ConfigTypeError(f"Scorer {name!r} is a {type(s).__name__}, not a qaq Scorer (use qaq.score_fn(...)).")
    prefixes = [s.prefix for s in named.values()]
    if len(set(prefixes)) != len(prefixes):
        raise ConfigError(f"Scorers must have distinct prefixes, got {prefixes}; e.g. score_fn(..., prefix='strong_').")
    return named


def check_inputs(dataset, scorers: dict) -> None:
    """Every scorer's input columns are present and text; no output column exists already."""
    for s in scorers.values():
        s.check(dataset)
        clash = [c for c in s.output_columns if c in dataset.column_names]
        if clash:
            raise ColumnError(f"The dataset already has score column {clash[0]!r}; drop the old scores or use another "
                              "prefix.", column=clash[0], available=dataset.column_names)
