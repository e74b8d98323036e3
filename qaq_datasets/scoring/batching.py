"""Micro-batching: which sequences of a map batch run together, padded to the longest of them.

Padding is wasted compute (and attention wastes its square), so groups are not filled greedily: sequences
are sorted by length and cut where an optimal partition says, minimising the padded tokens fed plus a fixed
cost per forward call, under the token budget (greedy filling feeds far more padding: see docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAD_MULTIPLE = 8  # widths are rounded up to this (tensor-core friendly shapes on GPU)
# The fixed cost of one forward call, in padded tokens (measured by benchmarks/speed.py --call-cost-ab): small on
# a CPU; on a GPU a call's kernel launches and host work cost far more than padding.
CALL_COST_TOKENS = 64
ACCELERATOR_CALL_COST_TOKENS = 4096


def call_cost_for(device_type: str) -> int:
    """The per-call cost to partition with on a device of this type (``"cpu"``, ``"cuda"``, ...)."""
    return CALL_COST_TOKENS if device_type == "cpu" else ACCELERATOR_CALL_COST_TOKENS


def padded_width(length: int) -> int:
    """``length`` rounded up to a multiple of ``PAD_MULTIPLE`` (the width a micro-batch is padded to)."""
    return -(-length // PAD_MULTIPLE) * PAD_MULTIPLE


def micro_batches(lengths: Sequence[int], token_budget: int, call_cost: int = CALL_COST_TOKENS) -> list[list[int]]:
    """Partition indices into groups, longest first, each with ``len(group) * padded_longest <= token_budget``.

    Among all partitions of the length-sorted sequences into contiguous runs (a sequence longer than the
    budget runs alone), returns the one with the fewest padded tokens plus ``call_cost`` per group.
    Deterministic: ties in length keep index order.
    """
    n = len(lengths)
    order = sorted(range(n), key=lambda i: (-lengths[i], i))
    widths = np.array([padded_width(lengths[i]) for i in order], dtype=np.int64)
    best = np.zeros(n + 1, dtype=np.int64)  # best[j]: cheapest cost of order[j:]
    cut = np.full(n + 1, n, dtype=np.int64)  # the group starting at j ends before cut[j]
    for j in range(n - 1, -1, -1):
        size = max(1, token_budget // int(widths[j]))  # widths[j] is the group's longest
        ks = np.arange(j + 1, min(n, j + size) + 1)
        cost = (ks - j) * widths[j] + call_cost + best[ks]
        b = int(np.argmin(cost))  # first minimum: the shortest group among equals
        best[j], cut[j] = cost[b], ks[b]
    groups, j = [], 0
    while j < n:
        groups.append(order[j : int(cut[j])])
        j = int(cut[j])
    return groups
