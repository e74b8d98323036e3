"""The library's exception types.

Every error the library raises on bad input or configuration is one of these. They subclass the
built-in ``ValueError``/``TypeError``/``ImportError`` so callers that already catch those keep working.
"""

from __future__ import annotations

import dataclasses
import numbers
import reprlib
from collections.abc import Iterable

#: the largest integer parameter: beyond int64 a plan could not be written (Python prints at most 4300 digits)
INT_MAX = 2**63 - 1


class QAQError(Exception):
    """Base class of every qaq-datasets error. A message is one line of at most about 600 characters: a value it
    repeats may come from anyone's file or arguments (a 100 KB column name), so a longer one is cut in the middle."""

    def __init__(self, message: str = "", *args, **kwargs):
        if isinstance(message, str) and len(message) > 600:
            message = f"{message[:480]} [...] {message[-100:]}"
        super().__init__(message, *args, **kwargs)


class ConfigError(QAQError, ValueError):
    """A bad argument or configuration value (raised before any model loads)."""


class ConfigTypeError(QAQError, TypeError):
    """An argument of the wrong type."""


class ColumnError(QAQError, ValueError):
    """A column the step needs is missing from the dataset, or has the wrong type."""

    def __init__(self, message: str, *, column: str | None = None, available: Iterable[str] = ()):
        self.column, self.available = column, list(available)
        if self.available:
            message = f"{message} Available columns: {', '.join(self.available)}."
        super().__init__(message)


class ModelNotFoundError(QAQError, ValueError):
    """A model spec that resolves to nothing: unknown alias, missing package or file."""


class MissingDependencyError(QAQError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class DiskFullError(QAQError, OSError):
    """The disk filled up; nothing half-written was left under a final name (a sharded run keeps its finished shards)."""


class PublishError(QAQError, RuntimeError):
    """Publishing to the Hub failed; nothing half-written was left behind."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (else its type's name), white space folded, cut to ``limit``
    characters: what a one-line error repeats of an error from another library."""
    return " ".join((str(exc).strip().splitlines() or [type(exc).__name__])[0].split())[:limit]


def require(module: str, *, extra: str, package: str | None = None):
    """Import ``module`` lazily, or raise :class:`MissingDependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised via monkeypatching in tests
        raise MissingDependencyError(f"{package or module.split('.')[0]!r} is needed for this feature but is not "
                                     f"installed. Install it with: pip install 'qaq-datasets[{extra}]'") from exc


class _Short(reprlib.Repr):
    """``reprlib`` cut to about 80 characters; an integer too long to print is described, not printed."""

    def __init__(self):
        super().__init__()
        self.maxstring = self.maxother = self.maxlong = 80
        self.maxlevel, self.maxlist, self.maxtuple, self.maxset, self.maxfrozenset, self.maxdict = 2, 3, 3, 3, 3, 3

    def repr_int(self, x, level):
        if x.bit_length() > 4 * self.maxlong:  # ~100 digits; Python refuses to print over 4300
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


def shown(value) -> str:
    """``repr(value)`` cut to about 80 characters, for error messages: the value may come from a plan file,
    where a column name can be 100 KB long and an integer thousands of digits."""
    import numpy as np

    text = _Short().repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 100 else f"{text[:80]}...{text[-15:]}"


def check_params(cls, params: Iterable, what: str) -> None:
    """A one-line error naming the keys of ``params`` that the dataclass ``cls`` does not take, and those it does
    (before ``cls(**params)`` would say only the first, in Python's words)."""
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    if unknown := [str(k)[:40] for k in params if k not in known]:
        raise ConfigError(f"{what} takes {', '.join(known)}; got {', '.join(unknown[:5])}{' …' * (len(unknown) > 5)}.")


def check_int(value, what: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``, else a one-line error naming ``what``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ConfigTypeError(f"{what} must be an integer, got {type(value).__name__}: {shown(value)}.")
    if value < minimum:
        raise ConfigError(f"{what} must be >= {minimum}, got {shown(value)}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{what} must be <= {'2**63 - 1' if maximum == INT_MAX else maximum}, got {shown(value)}.")
    return int(value)


def check_number(value, what: str, interval: str = "(0, inf)"):
    """``value`` as given if it is a real number in ``interval`` (``"(0, inf)"``, ``"[0, 1]"``, ``"(0, 1]"``, ...;
    NaN is in none), else a one-line error naming ``what``. Compared as given: float() of a huge integer overflows."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ConfigTypeError(f"{what} must be a number, got {type(value).__name__}: {shown(value)}.")
    lo, hi = map(float, interval[1:-1].split(","))
    above = value > lo if interval[0] == "(" else value >= lo
    if not (above and (value < hi if interval[-1] == ")" else value <= hi)):
        raise ConfigError(f"{what} must be in {interval}, got {shown(value)}.")
    return value
