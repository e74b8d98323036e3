"""Names and types of the score columns, and the column contract checks done before a model loads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ColumnError, ConfigError, ConfigTypeError

FLOAT_FIELDS = ("nll_q", "nll_q_given_a", "nll_a", "nll_a_given_q", "rmi", "ifd", "nll_end")
INT_FIELDS = ("q_tokens", "a_tokens")
STATUS_FIELD = "status"


def score_columns(prefix: str) -> list[str]:
    """All columns a scorer with this prefix writes, in order."""
    return [prefix + f for f in (*FLOAT_FIELDS, *INT_FIELDS, STATUS_FIELD)]


def score_features(prefix: str):
    """The ``datasets.Features`` of the score columns."""
    from datasets import Features, Value

    feats = {prefix + f: Value("float64") for f in FLOAT_FIELDS}
    feats.update({prefix + f: Value("int64") for f in INT_FIELDS})
    feats[prefix + STATUS_FIELD] = Value("string")
    return Features(feats)


def as_column_list(question: str | Sequence[str], what: str = "question") -> list[str]:
    if isinstance(question, str):
        cols = [question]
    elif isinstance(question, Sequence) and all(isinstance(c, str) for c in question):
        cols = list(question)
    else:
        raise ConfigTypeError(f"{what} must be a column name or a list of column names, got {question!r}.")
    if not cols:
        raise ConfigError(f"{what} names no column.")
    return cols


def check_columns(available: Iterable[str], needed: Iterable[str], features=None) -> None:
    """Raise :class:`ColumnError` naming the first missing (or non-text) column, listing the available ones."""
    from datasets import Value

    available = list(available)
    for col in needed:
        if col not in available:
            raise ColumnError(f"Column {col!r} is not in the dataset.", column=col, available=available)
        if features is not None:
            feat = features[col]
            if not (isinstance(feat, Value) and feat.dtype in ("string", "large_string", "null")):
                raise ColumnError(
                    f"Column {col!r} must hold text, but its feature is {feat}.", column=col, available=available
                )
