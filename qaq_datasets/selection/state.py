"""The mutable state threaded through the steps while a plan is fitted (internal)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import ColumnReader
from .ranking import Bins

#: the drop reason of a row with a missing (NaN, ±inf or null) value in a column a step reads
NAN_SCORE = "nan_score"


@dataclass
class Ranked:
    """The most recent ``rank`` step: which column and the rank of each row."""

    column: str
    rank: np.ndarray


@dataclass
class Score:
    """The ranking score ``keep_top`` uses: higher is better unless ``ascending``."""

    name: str
    values: np.ndarray
    ascending: bool


class FitState:
    """Which rows are alive, why the others were dropped, and what the steps computed so far."""

    def __init__(self, n: int, reader: ColumnReader, keep_nan: bool):
        self.n = n
        self.reader = reader
        self.keep_nan = keep_nan
        self.alive = np.ones(n, dtype=bool)
        self.code = np.zeros(n, dtype=np.int16)  # 0 = not dropped, k = reasons[k - 1]
        self.reasons: list[str] = []
        self.bins: Bins | None = None  # current stratification
        self.ranked: Ranked | None = None
        self.score: Score | None = None
        self.outputs: dict[str, np.ndarray] = {}  # computed columns, NaN where not computed
        self.stratifications: list[tuple[int, str | None, Bins]] = []  # (step index, label, bins)
        self.notes: list[str] = []

    @property
    def alive_count(self) -> int:
        return int(self.alive.sum())

    def drop(self, mask: np.ndarray, reason: str) -> int:
        """Drop the alive rows of ``mask`` with ``reason``; return how many were dropped."""
        hit = mask & self.alive
        count = int(hit.sum())
        if count:
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.code[hit] = self.reasons.index(reason) + 1
            self.alive[hit] = False
        return count

    def dropped_by(self, before_alive: np.ndarray) -> dict[str, int]:
        """{reason: count} of the rows that were alive in ``before_alive`` and are not now."""
        gone = before_alive & ~self.alive
        counts = np.bincount(self.code[gone], minlength=len(self.reasons) + 1)
        return {self.reasons[k - 1]: int(c) for k, c in enumerate(counts) if k and c}
