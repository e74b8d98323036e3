""":func:`check_fn`: the text checks as a batched ``Dataset.map`` function that adds one column per check."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import _version
from ..errors import ColumnError, ConfigError, ConfigTypeError, check_params
from ..scoring.data_shapes import check_shape_columns, column_args, parse_batch, resolve_columns, row_or_batch
from .rules import CHECKS, COLUMN_PREFIX, Check, Texts

#: a digest of this package's code: in the checks' fingerprint, so an edited rule never reads a stale cache
CODE_DIGEST = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()


def build_checks(spec: Iterable[Check | str] | Mapping[str, Mapping] | None = None) -> tuple[Check, ...]:
    """Checks from ``spec``: None (every registered check, default thresholds), a list of checks or check names,
    or ``{name: {threshold: value}}`` (a plan file's ``checks:``; ``{}`` keeps the defaults)."""
    spec = list(CHECKS) if spec is None else spec
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable):
        raise ConfigTypeError(f"checks must be a list of checks or names, or a mapping name -> thresholds, got "
                              f"{type(spec).__name__}.")
    out = []
    for check, args in spec.items() if isinstance(spec, Mapping) else [(c, {}) for c in spec]:
        if not isinstance(check, Check):  # a name
            if check not in CHECKS:
                raise ConfigError(f"unknown check {str(check)[:40]!r}; checks: {', '.join(CHECKS)}.")
            if not isinstance(args, Mapping):
                raise ConfigTypeError(f"check {check}'s thresholds must be a mapping, got {type(args).__name__}.")
            check_params(CHECKS[check], args, f"check {check}")
            check = CHECKS[check](**args)
        out.append(check)
    if len({c.name for c in out}) != len(out):
        raise ConfigError("each check may be given once.")
    return tuple(out)


@dataclass(frozen=True)
class CheckFn:
    """The checks as a ``Dataset.map`` function (built by :func:`check_fn`). ``datasets`` fingerprints it from its
    checks, their thresholds, the columns, the library version and the checks' code (:data:`CODE_DIGEST`), so a
    changed check never reads a stale cache."""

    checks: tuple[Check, ...]
    question: tuple[str, ...] | None = None
    answer: str | None = None
    messages: str | None = None
    version: str = _version.__version__
    code: str = CODE_DIGEST
    clash = "check column {!r}; drop the old checks or score without them"  # MultiScorer's error on a column there

    @property
    def columns(self) -> list[str]:
        """The columns it writes."""
        return [c.column for c in self.checks]

    @property
    def fingerprint(self) -> str:
        """What ``datasets`` hashes this function to (a sharded run's manifest records it)."""
        from datasets.fingerprint import Hasher

        return Hasher.hash(self)

    def features(self) -> dict:
        from datasets import Value

        return {c: Value("bool") for c in self.columns}

    @functools.lru_cache(maxsize=64)  # noqa: B019 - every batch of a map has the same names; a CheckFn is hashable
    def resolve(self, names: tuple[str, ...]) -> dict:
        """The text columns it reads from a batch or dataset with column ``names`` (ColumnError when there are none),
        found once per set of column names."""
        return check_shape_columns(resolve_columns(names, self.question, self.answer, self.messages), names)

    def check(self, dataset) -> dict:
        """Check ``dataset``'s columns (and that they hold text) before anything runs; return the text columns read."""
        return check_shape_columns(self.resolve(tuple(dataset.column_names)), dataset.column_names, dataset.features)

    def recipe(self) -> dict:
        """The checks and thresholds (the ``checks:`` of a scored dataset's ``qaq:`` block)."""
        return {c.name: c.params() for c in self.checks}

    def __call__(self, batch: dict) -> dict:
        """A ``Dataset.map`` batch (or one row, with ``batched=False``) → the check columns."""
        return row_or_batch(self.score_batch, batch, self.resolve(tuple(batch)))

    def score_batch(self, batch: dict, rank: int | None = None) -> dict:
        """A batch → the check columns (``MultiScorer`` calls it, as a Scorer's: a batch is never guessed to be a
        row; ``rank`` is not used)."""
        out = {c: [] for c in self.columns}
        for parsed in parse_batch(batch, self.resolve(tuple(batch))):
            texts = None if isinstance(parsed, str) else Texts("\n\n".join(parsed[1]), parsed[3])
            for check in self.checks:  # a row with no question or answer text is not checked: None
                out[check.column].append(None if texts is None else check.found(texts))
        return out

    def map(self, dataset, **map_kwargs):
        """``dataset.map`` of :meth:`score_batch` (batched; ``map_kwargs`` such as ``batch_size``, ``num_proc`` go
        to it) with the check columns declared, after :meth:`check`."""
        from datasets import Features

        self.check(dataset)
        return dataset.map(self.score_batch, batched=True, features=Features({**dataset.features, **self.features()}),
                           **{"desc": "QAQ text checks", **map_kwargs})


def check_fn(checks=None, *, question: str | list[str] | None = None, answer: str | None = None,
             messages: str | None = None) -> CheckFn:
    """The text checks as a ``Dataset.map`` function (batched or not): one bool column per check, True where
    the problem is found, None where the row has no question or answer text.

    Args:
        checks: None (every registered check: looping, missing_code, wrong_language, unparseable_code, default
            thresholds), a list of :class:`~qaq_datasets.checks.rules.Check` objects or names, or
            ``{name: {threshold: value}}``.
        question, answer, messages: the text columns, as for :func:`~qaq_datasets.score_fn` (found from the column
            names when not given).

    Input columns:
        the question and answer (or messages) columns.

    Output columns:
        ``check_{name}`` for each check (bool).

    Examples:
        >>> checked = ds.map(qaq.check_fn(), batched=True)                      # doctest: +SKIP
        >>> checked = ds.map(qaq.check_fn({"looping": {"min_count": 6}}), batched=True, num_proc=2)  # doctest: +SKIP
    """
    return CheckFn(build_checks(checks), *column_args(question, answer, messages))


def check_columns(names: Iterable[str], features: Mapping | None = None) -> list[str]:
    """The check columns among ``names``; with ``features``, those of them that it holds, each of which must be
    bool (ColumnError otherwise: a float or string column would be read as flagging nothing, or fail later)."""
    found = [n for n in names if n.startswith(COLUMN_PREFIX) and n.removeprefix(COLUMN_PREFIX) in CHECKS]
    if features is None:
        return found
    found = [n for n in found if n in features]
    if wrong := next((n for n in found if getattr(features[n], "dtype", None) != "bool"), None):
        raise ColumnError(f"Column {wrong!r} has type {features[wrong]}, but a text check's column is bool (True where "
                          f"the problem is found); drop it, and `qaq select` computes it again.", column=wrong)
    return found


def add_checks(dataset, columns: Iterable[str], *, thresholds: Mapping | None = None, text: Mapping | None = None,
               echo=None) -> tuple:
    """``(dataset, recipe)``: ``dataset`` with the check ``columns`` a plan reads, those it lacks computed (default
    thresholds), or, with ``thresholds`` (a plan's ``checks:``), the ones named there computed again with them;
    ``recipe`` holds the thresholds of the checks computed here (``{}``: none), for the rows' ``qaq:`` block.

    ``text``: the text columns (``{"question": [...], "answer": ...}`` or ``{"messages": ...}``, e.g. from a
    scorer's recipe); found from the column names when None. ``echo`` is told which columns are computed and why.
    """
    thresholds = dict(thresholds or {})
    todo = {c.removeprefix(COLUMN_PREFIX): c for c in check_columns(columns)}  # check name -> column
    check_columns(todo.values(), dataset.features)  # those the data holds are bool
    todo = {n: c for n, c in todo.items() if n in thresholds or c not in dataset.column_names}
    if not todo:
        return dataset, {}
    fn = check_fn({n: thresholds.get(n, {}) for n in todo}, **{k: v for k, v in (text or {}).items() if v})
    try:
        fn.check(dataset)
    except ColumnError as exc:
        raise ColumnError(f"The plan reads the text checks' columns {', '.join(todo.values())}, which the data "
                          f"lacks, and they cannot be computed (or use a plan without them): {exc}",
                          column=exc.column) from None
    if echo:
        why = "with the plan's thresholds" if thresholds.keys() & todo else "the data has none; `qaq score` writes them"
        echo(f"computing the text checks {', '.join(todo)} ({why})")
    return fn.map(dataset.remove_columns([c for c in todo.values() if c in dataset.column_names])), fn.recipe()
