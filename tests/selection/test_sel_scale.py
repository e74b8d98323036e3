"""A 1,000,000-row fit works (vectorised; no timing assertion)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset

from qaq_datasets.checks import CHECKS
from qaq_datasets.selection import preset
from qaq_datasets.selection.presets import default_plan


def test_fit_one_million_rows():
    n = 1_000_000
    rng = np.random.default_rng(0)
    data = {}
    for p in ("strong_", "weak_"):
        nll_q = rng.uniform(0.5, 5.0, n)
        data[f"{p}nll_q"] = nll_q
        data[f"{p}rmi"] = rng.normal(0.3, 0.15, n) * nll_q
        data[f"{p}nll_end"] = rng.exponential(1.0, n)
        data[f"{p}nll_q_given_a"], data[f"{p}nll_a"] = nll_q - data[f"{p}rmi"], rng.gamma(3.0, 0.5, n)
        data[f"{p}ifd"] = rng.uniform(0.2, 1.1, n)
        data[f"{p}status"] = np.where(rng.random(n) < 0.999, "ok", "oom")
    data |= {f"check_{c}": rng.random(n) < 0.01 for c in CHECKS}
    ds = Dataset.from_dict(data)
    sel = preset("default").fit(ds)
    assert sel.report["rows_in"] == n
    assert sel.report["rows_kept"] == n // 4
    assert len(default_plan(final="center").fit(ds).report["bins"]) == 10  # the stratified ranking at this size
