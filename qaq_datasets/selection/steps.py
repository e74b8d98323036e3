"""The step base class, the build-time plan context, the step registry and argument checks.

A step is a frozen dataclass: its fields are its parameters (what ``Selector.to_dict`` writes), it
names the dataset columns it reads (``inputs``) and the columns it computes (``outputs``), checks
that the steps before it provide what it needs (``check``), and ``run`` applies it to the rows
still alive in a :class:`~qaq_datasets.selection.state.FitState`, returning its fitted values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, ConfigTypeError
from .state import FitState


@dataclass
class Context:
    """What the steps so far provide, tracked while a plan is built (no data involved)."""

    bins: int | None = None  # bins of the latest stratify
    min_rows: int | None = None
    rank_column: str | None = None  # column of the latest rank
    score: str | None = None  # name of the current keep_top score
    outputs: set[str] = field(default_factory=set)


class Step:
    """Base class of the selection steps (see the ``Selector`` methods for each one's meaning)."""

    kind: ClassVar[str]

    def params(self) -> dict[str, Any]:
        """The step's parameters, YAML/JSON-ready (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.kind, **self.params()}

    def inputs(self) -> list[tuple[str, str]]:
        """(dataset column, kind) pairs this step reads; kind is numeric, string or any."""
        return []

    def outputs(self) -> list[str]:
        """Names of the columns this step computes (added by ``Selection.apply``/``annotate``)."""
        return []

    def check(self, ctx: Context) -> None:
        """Raise ConfigError when the steps before this one do not provide what it needs."""

    def advance(self, ctx: Context) -> None:
        """Record in ``ctx`` what this step provides to the steps after it (its first output becomes the score)."""
        ctx.outputs.update(self.outputs())
        ctx.score = next(iter(self.outputs()), ctx.score)

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        """Apply the step; ``valid`` = alive rows with no missing value in ``inputs()``."""
        raise NotImplementedError


#: step kind → class, filled by :func:`register`
REGISTRY: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    REGISTRY[cls.kind] = cls
    return cls


# --------------------------------------------------------------------------- argument checks


def check_column_name(value: Any, what: str = "column") -> str:
    if not isinstance(value, str):
        raise ConfigTypeError(f"{what} must be a column name (str), got {type(value).__name__}: {value!r}.")
    if not value:
        raise ConfigError(f"{what} must be a non-empty column name.")
    return value


def check_int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigTypeError(f"{what} must be an integer, got {type(value).__name__}: {value!r}.")
    if value < minimum:
        raise ConfigError(f"{what} must be >= {minimum}, got {value}.")
    return int(value)


def check_unit(value: Any, what: str, *, open_low: bool, open_high: bool) -> float:
    """A float in the unit interval; ``open_low``/``open_high`` exclude 0/1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigTypeError(f"{what} must be a number, got {type(value).__name__}: {value!r}.")
    value = float(value)
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if math.isnan(value) or not (low_ok and high_ok):
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ConfigError(f"{what} must be in {interval}, got {value}.")
    return value


def check_budget(n: Any) -> int | float:
    """``keep_top``'s budget: a fraction in (0, 1] (a float) or a row count >= 1 (an int)."""
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)):
        raise ConfigTypeError(f"keep_top needs a fraction in (0, 1] (float) or a row count >= 1 (int), got "
                              f"{type(n).__name__}: {n!r}.")
    if isinstance(n, (int, np.integer)):
        if n < 1:
            raise ConfigError(f"keep_top row count must be >= 1, got {n}.")
        return int(n)
    return check_unit(n, "keep_top fraction", open_low=True, open_high=False)
