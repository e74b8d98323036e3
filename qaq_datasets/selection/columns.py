"""Reading score columns out of a ``datasets.Dataset`` (Arrow → numpy) and checking their types.

Only the columns a plan names are read, as Arrow (no text reaches Python, no dataset copy); a
dataset with an indices mapping (after ``select``/``shuffle``/``filter``) is read through that
mapping. Numeric columns come back as float64 with NaN for nulls; string columns stay Arrow arrays
and are compared with ``pyarrow.compute``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ColumnError
from ..scoring.schema import kind_of

NUMERIC = "numeric"
STRING = "string"
ANY = "any"  # numeric or string

def _kind(feature) -> str | None:
    kind = kind_of(feature)
    return STRING if kind == "string" else NUMERIC if kind or getattr(feature, "dtype", None) == "bool" else None


def check_column(ds, column: str, kind: str, where: str) -> str:
    """Raise :class:`ColumnError` unless ``ds`` has ``column`` of ``kind``; return its actual kind."""
    features = ds.features
    if column not in features:
        raise ColumnError(f"{where} needs column {column!r}, which the dataset does not have.",
                          column=column, available=ds.column_names)
    actual = _kind(features[column])
    if actual is None or (kind != ANY and actual != kind):
        want = "a numeric" if kind == NUMERIC else "a string" if kind == STRING else "a numeric or string"
        raise ColumnError(f"{where} needs {want} column, but {column!r} has type {features[column]}.",
                          column=column, available=ds.column_names)
    return actual


class ColumnReader:
    """Reads (and caches) single columns of one dataset; nothing else of the dataset is touched."""

    def __init__(self, ds):
        self._ds = ds.with_format("arrow")  # a column comes back through any indices mapping, as Arrow
        self._numeric: dict[str, np.ndarray] = {}
        self._string: dict[str, pa.ChunkedArray] = {}

    def _arrow(self, column: str) -> pa.ChunkedArray:
        return self._ds[column]

    def numeric(self, column: str) -> np.ndarray:
        """The column as float64 numpy (NaN for nulls)."""
        if column not in self._numeric:
            col = pc.cast(self._arrow(column), pa.float64())
            arr = col.to_numpy() if col.num_chunks else np.zeros(0)
            self._numeric[column] = np.ascontiguousarray(arr, dtype=np.float64)
        return self._numeric[column]

    def string(self, column: str) -> pa.ChunkedArray:
        """The column as an Arrow string array."""
        if column not in self._string:
            self._string[column] = self._arrow(column)
        return self._string[column]

    def missing(self, column: str, kind: str) -> np.ndarray:
        """True where the value is missing: NaN/±inf for numbers, null for strings."""
        if kind == STRING:
            col = self.string(column)
            return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        return ~np.isfinite(self.numeric(column))

    def string_isin(self, column: str, values) -> np.ndarray:
        """True where the (non-null) string value is one of ``values``."""
        col = self.string(column)
        hit = pc.is_in(col, value_set=pa.array(list(values), type=col.type))
        return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
