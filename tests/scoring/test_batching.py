"""Micro-batching: every sequence once, under the budget, with the least padding plus per-call cost."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qaq_datasets.scoring import batching
from qaq_datasets.scoring.batching import call_cost_for, micro_batches, padded_width


def cost(lengths, groups, call_cost):
    return sum(len(g) * padded_width(max(lengths[i] for i in g)) + call_cost for g in groups)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("budget,call_cost", [(64, 0), (200, 16), (10_000, 64), (8, 5)])
def test_partition_is_valid_and_optimal(seed, budget, call_cost):
    lengths = list(np.random.default_rng(seed).integers(1, 60, 9))
    groups = micro_batches(lengths, budget, call_cost)
    assert sorted(i for g in groups for i in g) == list(range(9))
    for g in groups:
        assert len(g) == 1 or len(g) * padded_width(max(lengths[i] for i in g)) <= budget
    # brute force over every way to cut the length-sorted order into contiguous runs
    order = sorted(range(9), key=lambda i: (-lengths[i], i))
    best = min(
        cost(lengths, parts, call_cost)
        for cuts in itertools.product([0, 1], repeat=8)
        for parts in [np.split(order, [k + 1 for k, c in enumerate(cuts) if c])]
        if all(len(p) == 1 or len(p) * padded_width(lengths[p[0]]) <= budget for p in parts)
    )
    assert cost(lengths, groups, call_cost) == best


def test_long_sequences_run_alone_and_order_is_deterministic():
    assert micro_batches([500, 3, 3, 700], 100, 0) == [[3], [0], [1], [2]]
    assert micro_batches([5, 5, 5, 5], 100, 1000) == [[0, 1, 2, 3]]  # calls cost more than padding
    assert micro_batches([], 100) == []


@pytest.mark.parametrize("device_type", ["cuda", "mps", "xpu", "meta"])
def test_accelerators_charge_more_per_call_and_get_fewer_wider_micro_batches(device_type):
    assert call_cost_for("cpu") == batching.CALL_COST_TOKENS
    assert call_cost_for(device_type) == batching.ACCELERATOR_CALL_COST_TOKENS > batching.CALL_COST_TOKENS
    lengths = list(np.random.default_rng(0).integers(20, 900, 512))  # a spread like Code Alpaca's
    on_cpu = micro_batches(lengths, 65536, call_cost_for("cpu"))
    on_gpu = micro_batches(lengths, 65536, call_cost_for(device_type))
    assert len(on_gpu) < len(on_cpu)
    for groups in (on_cpu, on_gpu):
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
