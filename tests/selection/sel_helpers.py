"""Synthetic score columns for the selection tests (numpy + Dataset.from_dict; no model)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset

from qaq_datasets.checks import CHECKS


def score_columns(prefix: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The contract's score columns for one model, with RMI heteroscedastic in nll_q (RMI / NLL(Q) and nll_end
    in the range of real clean rows, between the default plan's anchored thresholds)."""
    nll_q = rng.uniform(1.0, 4.0, n)
    nll_q_given_a = nll_q * (1 - np.clip(rng.normal(0.3, 0.1, n), 0.12, 0.55))
    nll_a = rng.uniform(0.5, 3.0, n)
    nll_a_given_q = nll_a + rng.normal(-0.2, 0.3, n)
    return {
        f"{prefix}nll_q": nll_q,
        f"{prefix}nll_q_given_a": nll_q_given_a,
        f"{prefix}nll_a": nll_a,
        f"{prefix}nll_a_given_q": nll_a_given_q,
        f"{prefix}rmi": nll_q - nll_q_given_a,
        f"{prefix}ifd": np.exp(nll_a_given_q - nll_a),
        f"{prefix}nll_end": rng.exponential(0.5, n),
        f"{prefix}status": np.array(["ok"] * n, dtype=object),
    }


def scored(n: int = 400, prefixes=("strong_", "weak_"), seed: int = 0, text: bool = True, failed=()) -> Dataset:
    """A scored dataset; rows in ``failed`` get NaN scores and status 'oom' for every model."""
    rng = np.random.default_rng(seed)
    data: dict = {}
    if text:
        data["instruction"] = [f"Write function {i}" for i in range(n)]
        data["output"] = [f"def f{i}(): return {i}" for i in range(n)]
        data |= {f"check_{c}": [False] * n for c in CHECKS}  # as check_fn finds them
    for p in prefixes:
        cols = score_columns(p, n, rng)
        for i in failed:
            for k, v in cols.items():
                if k.endswith("status"):
                    v[i] = "oom"
                else:
                    v[i] = np.nan
        data.update({k: (v.tolist() if v.dtype == object else v) for k, v in cols.items()})
    return Dataset.from_dict(data)


def from_columns(**columns) -> Dataset:
    """A dataset from plain numpy/list columns."""
    return Dataset.from_dict({k: (np.asarray(v) if not isinstance(v, list) else v) for k, v in columns.items()})


def check_accounting(selection, rows_in: int) -> None:
    """Every row is either kept or has exactly one reason, and all the counts add up."""
    report = selection.report
    keep = selection.keep
    reasons = selection.reasons
    assert len(keep) == len(reasons) == rows_in
    assert all((r is None) == bool(k) for r, k in zip(reasons, keep))
    assert report["rows_in"] == rows_in
    assert report["rows_kept"] == int(keep.sum()) == len(selection.indices)
    assert report["rows_dropped"] == rows_in - report["rows_kept"] == sum(report["drop_reasons"].values())
    counted = {}
    for r in reasons:
        if r is not None:
            counted[r] = counted.get(r, 0) + 1
    assert counted == report["drop_reasons"]
    alive = rows_in
    for step in report["steps"]:
        assert step["rows_in"] == alive
        assert step["rows_in"] - step["rows_out"] == sum(step["dropped"].values())
        alive = step["rows_out"]
    assert alive == report["rows_kept"]
    for b in report["bins"]:
        assert b["rows"] == b["kept"] + b["dropped"]
