"""Synthetic scored datasets and a stand-in Selection for the publishing tests (no model, no network)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from datasets import Dataset

from qaq_datasets.checks import CHECKS
from qaq_datasets.publishing.card import BEGIN, END
from qaq_datasets.selection.result import rows_identity

SCORERS = {
    "qaq": {
        "prefix": "qaq_",
        "model": {"spec": "smollm2-135m", "name": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": "r1",
                  "sha256": "ab" * 32, "dtype": "float32"},
        "template": {"name": "standard"},
        "question": ["instruction", "input"],
        "answer": "output",
        "max_length": 2048,
        "fingerprint": "1a2b3c",
    }
}
METADATA = {"scorers": SCORERS, "seed": 0}


def scored_ds(n: int = 40, prefixes=("qaq_",), seed: int = 0, long_text: bool = True) -> Dataset:
    """Rows with instruction/input/output text and the contract's score columns for each prefix."""
    rng = np.random.default_rng(seed)
    d = {
        "instruction": [f"Write function number {i}" for i in range(n)],
        "input": ["" if i % 3 else f"n = {i}" for i in range(n)],
        "output": [("def f%d():\n    return %d\n" % (i, i)) * (1 + (i % 7) * (40 if long_text else 1))
                   for i in range(n)],
        **{f"check_{c}": [False] * n for c in CHECKS},  # the text checks' columns, none flagged
    }
    for p in prefixes:
        nq = rng.normal(3, 1, n)
        nqa = nq - rng.normal(0.5, 0.5, n)
        na = rng.normal(2, 0.5, n)
        naq = na - rng.normal(0.3, 0.2, n)
        nend = rng.exponential(2.0, n)
        status = ["ok"] * n
        status[0] = "empty_answer"
        status[1] = "truncated"
        for arr in (nq, nqa, na, naq, nend):
            arr[0] = np.nan
        nend[1] = np.nan  # a truncated row has no real end
        d.update({
            f"{p}nll_q": nq, f"{p}nll_q_given_a": nqa, f"{p}nll_a": na, f"{p}nll_a_given_q": naq,
            f"{p}rmi": nq - nqa, f"{p}ifd": np.exp(naq - na), f"{p}nll_end": nend,
            f"{p}q_tokens": [10 + i for i in range(n)], f"{p}a_tokens": [20 + i for i in range(n)],
            f"{p}status": status,
        })
    return Dataset.from_dict(d)


class StandInSelection:
    """Duck-typed Selection (docs/architecture.md): keep the top ``frac`` of ``{prefix}rmi``."""

    def __init__(self, ds: Dataset, prefix: str = "qaq_", frac: float = 0.5):
        rmi = np.asarray(ds[f"{prefix}rmi"], dtype=float)
        ok = np.isfinite(rmi)
        thr = np.nanquantile(rmi, 1 - frac)
        self.keep = ok & (rmi >= thr)
        self.fitted_on = rows_identity(ds)
        self.reasons = [None if k else ("not_scored" if not o else "low_rmi") for k, o in zip(self.keep, ok)]
        counts = Counter(r for r in self.reasons if r)
        self.plan = {"steps": [{"step": "top_fraction", "column": f"{prefix}rmi", "fraction": frac}], "seed": 0}
        med = float(np.nanmedian(rmi))
        lo_half = ok & (rmi < med)
        self.report = {
            "rows_in": len(ds), "rows_kept": int(self.keep.sum()), "rows_dropped": int((~self.keep).sum()),
            "drop_reasons": dict(counts),
            "bins": [
                {"bin": 0, "low": float(np.nanmin(rmi)), "high": med, "rows": int(lo_half.sum()),
                 "kept": int((self.keep & lo_half).sum()), "dropped": int((~self.keep & lo_half).sum())},
                {"bin": 1, "low": med, "high": float(np.nanmax(rmi)), "rows": int((ok & ~lo_half).sum()),
                 "kept": int((self.keep & ~lo_half).sum()), "dropped": int((~self.keep & ok & ~lo_half).sum())},
            ],
            "steps": [{"step": "top_fraction", "threshold": float(thr)}],
            "plan": self.plan,
        }

    def apply(self, ds: Dataset) -> Dataset:
        return ds.select(np.flatnonzero(self.keep))

    def annotate(self, ds: Dataset) -> Dataset:
        return ds.add_column("qaq_keep", self.keep.tolist()).add_column("qaq_drop_reason", self.reasons)


def front_matter(text: str) -> str:
    """The YAML between the first two ``---`` lines of a card."""
    assert text.startswith("---\n"), text[:40]
    return text.split("---\n", 2)[1]


def generated_section(body: str) -> str | None:
    """The text between the qaq markers of a card body, or None when the body has no generated section."""
    m = re.search(f"{re.escape(BEGIN)}(.*?){re.escape(END)}", body, re.S)
    return m[1].strip("\n") if m else None
