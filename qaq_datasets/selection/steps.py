"""What the selection steps share: reading score columns, the fit state, the ``Step`` base class, argument checks.

Only the columns a plan names are read, as Arrow (no text reaches Python, no dataset copy), through any
indices mapping (after ``select``/``shuffle``/``filter``). Numeric columns come back as float64 numpy with
NaN for nulls; string columns stay Arrow arrays and are compared with ``pyarrow.compute``.

A step is one class, registered with :func:`register_step`, which makes it a frozen dataclass and the ``Selector``
method of its ``kind``: the method's parameters are the dataclass's fields (keyword-only after ``KW_ONLY``), its
docstring is the class's, and ``Selector.from_dict`` reads that kind in plans. The fields are the step's parameters
(what ``Selector.to_dict`` writes; the base class checks the column-name, integer and bool ones). A step names
the dataset columns it reads (``inputs``) and the columns it computes (``outputs``), fills in the defaults that
depend on the steps before it (``resolve``), names the kinds of step one of which must come before it (``needs``),
and ``run`` applies it to the rows still alive in a :class:`FitState`, returning its fitted values. Adding a step
is writing such a class in a module that ``selector.py`` imports (and, for a step that sets a score, naming its
kind in ``keep_top``'s ``needs``).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import INT_MAX, ColumnError, ConfigError, ConfigTypeError, check_int, check_number, shown
from ..scoring.schema import kind_of

NUMERIC, STRING = "numeric", "string"

#: the drop reason of a row with a missing (NaN, ±inf or null) value in a column a step reads
NAN_SCORE = "nan_score"

# --------------------------------------------------------------------------- columns


def check_column(ds, column: str, kind: str, where: str) -> None:
    """Raise :class:`ColumnError` unless ``ds`` has ``column`` of ``kind`` (numeric or string)."""
    feature = ds.features.get(column)
    if feature is None:
        hint = " (a text check's column: ds.map(qaq.check_fn(), batched=True) writes them; `qaq score` does)" \
            if column.startswith("check_") else ""
        raise ColumnError(f"{where} needs column {shown(column)}, which the dataset does not have{hint}.",
                          column=column, available=ds.column_names)
    actual = kind_of(feature)
    actual = STRING if actual == "string" else NUMERIC if actual or getattr(feature, "dtype", None) == "bool" else None
    if actual != kind:
        raise ColumnError(f"{where} needs a {kind} column, but {shown(column)} has type {feature}.",
                          column=column, available=ds.column_names)


# --------------------------------------------------------------------------- fit state


class Score(NamedTuple):
    """The ranking score ``keep_top`` uses: higher is better unless ``ascending``."""

    name: str
    values: np.ndarray
    ascending: bool


class FitState:
    """One fit on one dataset ``ds``: its columns, read one at a time as Arrow (numeric ones cached as numpy; nothing
    else is touched), which rows are alive, why the others were dropped, and what the steps computed so far."""

    def __init__(self, ds):
        self.dataset, self.n, self.reasons, self.notes, self.warnings = ds, len(ds), [], [], []
        self.table, self._numeric = ds.with_format("arrow"), {}  # table[column]: Arrow, through any indices mapping
        self.alive, self.code = np.ones(self.n, dtype=bool), np.zeros(self.n, dtype=np.int16)  # k>0: reasons[k - 1]
        # the current stratification (ranking.Bins), (column, rank) of the latest rank step, the keep_top Score
        self.bins = self.ranked = self.score = None
        self.outputs: dict[str, np.ndarray] = {}  # computed columns, NaN where not computed
        self.stratifications: list[tuple] = []  # (step index, label or None, Bins)

    def numeric(self, column: str) -> np.ndarray:
        """The column as float64 numpy (NaN for nulls)."""
        if column not in self._numeric:
            self._numeric[column] = np.asarray(pc.cast(self.table[column], pa.float64()).to_numpy(), dtype=np.float64)
        return self._numeric[column]

    def ratio(self, column: str, divide_by: str | None = None) -> np.ndarray:
        """``column``, or ``column / divide_by`` (x / 0 is ±inf; 0 / 0 is NaN), as float64 numpy."""
        if divide_by is None:
            return self.numeric(column)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.numeric(column) / self.numeric(divide_by)

    def missing(self, column: str, kind: str) -> np.ndarray:
        """True where the value is missing: NaN/±inf for numbers, null for strings."""
        if kind == STRING:
            return np.asarray(self.table[column].is_null().to_numpy(), dtype=bool)
        return ~np.isfinite(self.numeric(column))

    def warn(self, note: str) -> None:
        """A note the user must see (``qaq select`` prints it): it goes to the report's notes and warnings."""
        self.notes.append(note)
        self.warnings.append(note)

    def drop(self, mask: np.ndarray, reason: str) -> int:
        """Drop the alive rows of ``mask`` with ``reason``; return how many were dropped."""
        hit = mask & self.alive
        if reason not in self.reasons:  # a reason that drops no row is in no count (dropped_by)
            self.reasons.append(reason)
        self.code[hit] = self.reasons.index(reason) + 1
        self.alive[hit] = False
        return int(hit.sum())

    def dropped_by(self, before_alive: np.ndarray) -> dict[str, int]:
        """{reason: count} of the rows that were alive in ``before_alive`` and are not now."""
        counts = np.bincount(self.code[before_alive & ~self.alive], minlength=len(self.reasons) + 1)
        return {self.reasons[k - 1]: int(c) for k, c in enumerate(counts) if k and c}


# --------------------------------------------------------------------------- steps


#: parameters holding a column name (checked by ``Step.__post_init__``; None allowed where it is the default)
_NAMES = ("column", "strong", "weak", "strong_by", "weak_by", "divide_by", "name", "reason")
#: parameters naming a numeric column the step reads (``Step.inputs``)
_INPUTS = ("column", "strong", "weak", "strong_by", "weak_by", "divide_by")
#: the most bins ``stratify`` and ``gap`` take: each bin must hold rows to rank (the paper uses 10; 10,000 bins is
#: still 100 rows a bin at a million rows), and a fit's memory grows with the bins asked for, whatever the rows
#: (quantile edges)
MAX_BINS = 10_000
#: integer parameters and their (minimum, maximum)
_INTS = {"bins": (1, MAX_BINS), "min_rows": (1, INT_MAX), "seed": (0, INT_MAX)}


class Step:
    """Base class of the selection steps (each one's docstring says what it does)."""

    kind: ClassVar[str]
    #: what the step needs before it: (the kinds of which an earlier step must be one, the error when none is, in
    #: which ``{self.<field>}`` is filled in)
    needs: ClassVar[tuple[tuple[str, ...], str] | None] = None
    #: real-number parameters and the interval each must lie in (``errors.check_number``); stored as floats
    intervals: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value, what = getattr(self, f.name), f"{self.kind} {f.name}"
            if value is None and (f.default is None or "None" in str(f.type)):  # none, or resolved later
                continue
            if f.name in _INTS:
                object.__setattr__(self, f.name, check_int(value, what, *_INTS[f.name]))
            elif f.name in self.intervals:
                object.__setattr__(self, f.name, float(check_number(value, what, self.intervals[f.name])))
            elif f.name in _NAMES and not (isinstance(value, str) and value):
                raise (ConfigError if isinstance(value, str) else ConfigTypeError)(
                    f"{what} must be a non-empty column name (str), got {type(value).__name__}: {shown(value)}.")
            elif f.type in ("bool", bool) and not isinstance(value, bool):
                raise ConfigError(f"{what} must be True or False, got {value!r}.")
        self.validate()

    def validate(self) -> None:
        """Check (and normalise) the parameters beyond column names, integers, bools and ``intervals``."""

    def params(self) -> dict[str, Any]:
        """The step's parameters, YAML/JSON-ready (tuples become lists)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def inputs(self) -> list[tuple[str, str]]:
        """(dataset column, kind) pairs this step reads (kind: numeric or string); by default its numeric column
        parameters."""
        return [(c, NUMERIC) for c in dict.fromkeys(getattr(self, f, None) for f in _INPUTS) if c is not None]

    def outputs(self) -> list[str]:
        """Names of the columns this step computes (added by ``Selection.apply``/``annotate``): by default its
        ``name`` parameter, where it has one."""
        return [self.name] if getattr(self, "name", None) else []

    def resolve(self, earlier: tuple[Step, ...]) -> Step:
        """This step with the defaults that depend on the ``earlier`` steps filled in; by default itself."""
        return self

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        """Apply the step; ``valid`` = alive rows with no missing value in ``inputs()``."""
        raise NotImplementedError


class StepMethods:
    """One method per registered step (added by :func:`register_step`); ``Selector`` inherits them."""


#: the registered step classes by kind, in the order they were registered
STEPS: dict[str, type[Step]] = {}


# not typing.dataclass_transform: Python 3.11+, and this package supports 3.10
def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step class a frozen dataclass (unless it is a dataclass already) and register it as
    ``Selector.<cls.kind>``, a method with the class's signature and docstring that builds the step, resolves and
    checks it against the steps before it, and appends it."""
    if any(hasattr(c, cls.kind) for c in (StepMethods, *StepMethods.__subclasses__())):
        raise TypeError(f"step kind {cls.kind!r} is taken: a registered step or a Selector attribute has that name.")
    cls = cls if "__dataclass_params__" in vars(cls) else dataclass(frozen=True)(cls)

    def method(self, *args, **kwargs):
        return self._append(cls(*args, **kwargs))

    method.__signature__ = inspect.signature(cls.__init__).replace(return_annotation="Selector")
    method.__name__, method.__qualname__, method.__doc__ = cls.kind, f"Selector.{cls.kind}", cls.__doc__
    STEPS[cls.kind] = cls
    setattr(StepMethods, cls.kind, method)
    return cls


# --------------------------------------------------------------------------- argument checks


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
