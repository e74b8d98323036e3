"""The one contract of the score columns, used by scoring, selection, publishing and the runner.

A scorer with prefix ``p`` adds the float, int and string columns of :data:`FIELDS`, the last one ``{p}status``.
A status in :data:`OK_STATUSES` means the row has real scores; any other status says why the scores are NaN.
Nothing here imports torch.

Every score-column name is built or split by :class:`ScoreColumns`, and a scorer's name and prefix go back and
forth there (``strong`` ↔ ``strong_``).

Examples:
    >>> weak = ScoreColumns.named("weak")
    >>> weak.rmi, weak.status, weak.columns[:2], weak.name
    ('weak_rmi', 'weak_status', ['weak_nll_q', 'weak_nll_q_given_a'], 'weak')
    >>> ScoreColumns.parse("weak_nll_q_given_a")
    ('weak_', 'nll_q_given_a')
    >>> infer_prefixes(["x", "qaq_rmi", "qaq_nll_q", "qaq_status"])
    ['qaq_']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ColumnError, ConfigError, ConfigTypeError

#: suffix -> kind of type ("float", "int", "string"), in column order
FIELDS: dict[str, str] = {"nll_q": "float", "nll_q_given_a": "float", "nll_a": "float", "nll_a_given_q": "float",
                          "rmi": "float", "ifd": "float", "nll_end": "float", "q_tokens": "int", "a_tokens": "int",
                          "status": "string"}

# -- statuses -------------------------------------------------------------------------------------
OK = "ok"
TRUNCATED = "truncated"  # scored, but Q and/or A were cut to fit max_length
EMPTY_QUESTION = "empty_question"
EMPTY_ANSWER = "empty_answer"
NOT_A_STRING = "not_a_string"
NO_TOKENS = "no_tokens"
NO_ASSISTANT_TURN = "no_assistant_turn"  # a conversation whose last turn is not the assistant's
NO_USER_TURN = "no_user_turn"  # a conversation with no user turn before the answer
BAD_MESSAGES = "bad_messages"  # a conversation cell that is not a list of {role, content} turns
CONTEXT_TOO_LONG = "context_too_long"  # the row's own system context leaves no room for Q and A under max_length
OOM = "oom"  # a single row did not fit in accelerator memory
ERROR = "error"  # the tokenizer or model raised on this row

OK_STATUSES = [OK, TRUNCATED]
ALL = (OK, TRUNCATED, EMPTY_QUESTION, EMPTY_ANSWER, NOT_A_STRING, NO_TOKENS, NO_ASSISTANT_TURN, NO_USER_TURN,
       BAD_MESSAGES, CONTEXT_TOO_LONG, OOM, ERROR)

#: a feature's dtype -> its kind of type (see :func:`kind_of`)
_DTYPE_KINDS = {**dict.fromkeys(("float16", "float32", "float64", "double", "float"), "float"),
                **dict.fromkeys(("string", "large_string"), "string"),
                **dict.fromkeys((f"{u}int{bits}" for u in ("", "u") for bits in (8, 16, 32, 64)), "int")}


def count_statuses(statuses) -> dict:
    """``{status: count}`` in the order of :data:`ALL`, unknown statuses last."""
    order = {status: k for k, status in enumerate(ALL)}
    return dict(sorted(Counter(statuses).items(), key=lambda kv: (order.get(kv[0], len(ALL)), str(kv[0]))))


# -- names ----------------------------------------------------------------------------------------
#: a scorer prefix: a letter, then letters, digits or ``_``, ending in ``_`` (it names columns and files)
PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}_")


def check_prefix(prefix, what: str = "prefix") -> str:
    """``prefix`` if it is a safe scorer prefix (:data:`PREFIX_RE`, e.g. ``strong_``), else :class:`ConfigError`
    (:class:`ConfigTypeError` for a non-string). Every prefix read from a caller or a file passes here, since
    prefixes name columns and the files built from them."""
    if not isinstance(prefix, str):
        raise ConfigTypeError(f"{what} must be a string like 'strong_', got {type(prefix).__name__}.")
    if not PREFIX_RE.fullmatch(prefix):
        raise ConfigError(f"{what} {prefix[:80]!r} is not a scorer prefix: use a letter, then letters, digits or "
                          "'_', ending in '_' (e.g. 'strong_').")
    return prefix


@dataclass(frozen=True)
class ScoreColumns:
    """The columns of the scorer with column prefix ``prefix``: ``.rmi``, ``.nll_q``, ``.status``, ... (one attribute
    per field of :data:`FIELDS`), all of them in order (``columns``) and their ``features()``. The prefix is not
    checked here (see :func:`check_prefix`)."""

    prefix: str

    @classmethod
    def named(cls, name: str) -> ScoreColumns:
        """The columns of the scorer called ``name``: its prefix is ``{name}_``."""
        return cls(f"{name}_")

    @property
    def name(self) -> str:
        """The scorer's name: the prefix without its trailing ``_`` (``qaq_`` → ``qaq``)."""
        return self.prefix[:-1] if self.prefix.endswith("_") else self.prefix

    def __getattr__(self, field: str) -> str:
        if field in FIELDS:
            return self.prefix + field
        raise AttributeError(f"{type(self).__name__} has no attribute {field!r}")

    @property
    def columns(self) -> list[str]:
        """Every column the scorer writes, in order."""
        return [self.prefix + f for f in FIELDS]

    def features(self):
        """The ``datasets.Features`` of the columns."""
        from datasets import Features, Value

        kinds = {"float": "float64", "int": "int64", "string": "string"}
        return Features({c: Value(kinds[k]) for c, k in zip(self.columns, FIELDS.values())})

    @staticmethod
    def parse(column: str) -> tuple[str, str] | None:
        """``"weak_rmi"`` → ``("weak_", "rmi")``; None when the column is no score column."""
        for suffix in sorted(FIELDS, key=len, reverse=True):
            if column.endswith(suffix):
                return column[: -len(suffix)], suffix
        return None


def infer_prefixes(columns: Iterable[str]) -> list[str]:
    """Prefixes ``p`` for which ``{p}rmi``, ``{p}nll_q`` and ``{p}status`` are all columns."""
    cols = list(columns)
    found = [ScoreColumns(c[: -len("rmi")]) for c in cols if c.endswith("rmi")]
    return list(dict.fromkeys(sc.prefix for sc in found if {sc.nll_q, sc.status} <= set(cols)))


# -- checks ---------------------------------------------------------------------------------------
def kind_of(feature) -> str | None:
    """``"float"``, ``"int"``, ``"string"`` or None (anything else) for a ``datasets`` feature."""
    return _DTYPE_KINDS.get(getattr(feature, "dtype", None))


def check_score_columns(features: Mapping, prefixes: Iterable[str], *, where: str = "the dataset") -> None:
    """Raise :class:`ColumnError` unless every score column of every prefix exists with the right type."""
    available = list(features)
    for p in prefixes:
        for col, kind in zip(ScoreColumns(p).columns, FIELDS.values()):
            if col not in features:
                raise ColumnError(f"Score column {col!r} (scorer prefix {p!r}) is missing from {where}.",
                                  column=col, available=available)
            if kind_of(features[col]) != kind:
                dtype = getattr(features[col], "dtype", type(features[col]).__name__)
                raise ColumnError(f"Score column {col!r} in {where} has type {dtype}, expected a {kind} column.",
                                  column=col, available=available)
