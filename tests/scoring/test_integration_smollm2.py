"""Integration: the real SmolLM2-135M-Instruct on real Code Alpaca rows (offline, ~30 s)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

import qaq_datasets as qaq

# ../shared/data beside the checkout (as in CI); QAQ_TEST_DATA points elsewhere
DATA = Path(os.environ.get("QAQ_TEST_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
DATA = DATA / "code_alpaca_2k.json"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rows():
    if not DATA.exists():
        pytest.fail(f"test data missing: {DATA}")
    data = json.loads(DATA.read_text())
    # rows with a real code answer of moderate length
    return [r for r in data if 40 < len(r["output"]) < 400 and not r["input"]][:24]


def test_echo_raises_rmi_and_swap_lowers_it(smollm2, rows):
    n = len(rows)
    true = [r["output"] for r in rows]
    echo = [f"{r['instruction']}\n{r['instruction']}" for r in rows]
    swapped = true[n // 2:] + true[: n // 2]
    ds = Dataset.from_dict({
        "instruction": [r["instruction"] for r in rows] * 3,
        "output": true + echo + swapped,
        "kind": ["true"] * n + ["echo"] * n + ["swap"] * n,
    })
    out = ds.map(qaq.score_fn(smollm2), batched=True, batch_size=32)
    assert set(out["qaq_status"]) == {"ok"}
    rmi = np.array(out["qaq_rmi"]).reshape(3, n)
    # row by row, with a few exceptions allowed on real data; and on the median
    assert (rmi[1] > rmi[0]).mean() >= 0.9, rmi
    assert (rmi[2] < rmi[0]).mean() >= 0.8, rmi
    assert np.median(rmi[1]) > np.median(rmi[0]) > np.median(rmi[2])
    # the same question ids in both passes make RMI ~0 for an unrelated answer, never wildly negative
    assert np.median(rmi[2]) > -0.5


def test_cut_off_answer_has_an_unlikely_end(smollm2, rows):
    full = [r["output"] for r in rows]
    cut = [a[: len(a) // 3] for a in full]
    ds = Dataset.from_dict({"instruction": [r["instruction"] for r in rows] * 2, "output": full + cut})
    out = ds.map(qaq.score_fn(smollm2), batched=True)
    end = np.array(out["qaq_nll_end"]).reshape(2, -1)
    assert (end[1] > end[0]).mean() >= 0.8 and np.median(end[1]) > np.median(end[0]) + 3


def test_encode_matches_chat_template(smollm2):
    sc = qaq.score_fn(smollm2)
    enc = sc.encode("Reverse a string in Python.", "s[::-1]")
    tok = smollm2.tokenizer
    text = tok.decode(enc["forward_ids"])
    assert text.startswith("<|im_start|>system\n") and "<|im_start|>user\nReverse a string in Python." in text
    assert text.endswith("<|im_start|>assistant\ns[::-1]<|im_end|>")  # the end of turn is scored as nll_end
    rev = tok.decode(enc["reverse_ids"])
    assert rev.endswith("<|im_start|>assistant\ns[::-1]<|im_end|>\n<|im_start|>user\nReverse a string in Python.")
