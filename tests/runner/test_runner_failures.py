"""Rows that do not fit or break the tokenizer/model never stop a run: OOM back-off, statuses, summary."""

from __future__ import annotations

import math

import numpy as np
import torch
from runner_helpers import make_dataset, make_rows, scored_of

import qaq_datasets as qaq
from qaq_datasets.runner import run_sharded

SCORE_COLS = ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q", "qaq_rmi", "qaq_ifd")


def make_scorer(model, tokenizer, **kw):
    kw.setdefault("token_budget", 100_000)  # the whole batch in one micro-batch unless OOM splits it
    return qaq.score_fn(model, tokenizer=tokenizer, question=["instruction", "input"], **kw)


def batch_of(n=12):
    rows = make_rows(n)
    return {k: rows[k] for k in ("instruction", "input", "output")}


def oom():
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected by the test)")


def test_oom_halves_the_micro_batch_and_scores_match(tiny_model, tiny_tokenizer, monkeypatch):
    monkeypatch.setattr("qaq_datasets.scoring.batching.CALL_COST_TOKENS", 10**9)  # one micro-batch while it fits
    batch = batch_of(12)
    ref = make_scorer(tiny_model, tiny_tokenizer)(batch)
    sc = make_scorer(tiny_model, tiny_tokenizer)
    sizes = []
    limit = 3 * max(len(s) for s in _sequences(sc, batch))  # about three sequences fit

    def hook(seqs):
        sizes.append(len(seqs))
        if len(seqs) * max(map(len, seqs)) > limit:
            raise oom()

    sc.span_scorer.forward_hook = hook
    out = sc(batch)
    assert sizes[0] == 22  # 11 scorable rows, two sequences each, tried at once first
    assert sizes[1] == 11 and min(sizes) >= 1  # then halves
    assert out["qaq_status"] == ref["qaq_status"]
    assert out["qaq_status"].count("ok") == 11
    for c in SCORE_COLS:
        np.testing.assert_allclose(out[c], ref[c], atol=1e-5, rtol=0, err_msg=c)


def test_a_row_that_never_fits_is_oom_and_the_run_goes_on(tiny_model, tiny_tokenizer, tmp_path):
    ds = make_dataset(20)
    ref = ds.map(make_scorer(tiny_model, tiny_tokenizer), batched=True, load_from_cache_file=False)
    sc = make_scorer(tiny_model, tiny_tokenizer)
    bad = sc.encode(question(ds[4]), ds[4]["output"])["reverse_ids"]
    tried = []

    def hook(seqs):
        if any(s == bad for s in seqs):
            tried.append(len(seqs))
            raise oom()

    sc.span_scorer.forward_hook = hook
    lines = []
    run_sharded(ds, sc, tmp_path / "run", shard_rows=8, echo=lines.append)
    assert tried[-1] == 1  # halved down to the single sequence, which still did not fit
    assert lines[-1].startswith("20 rows scored (qaq: {'ok': 18, 'empty_answer': 1, 'oom': 1})")
    out = scored_of(tmp_path / "run")
    assert out["qaq_status"][4] == "oom"
    assert all(math.isnan(out[c][4]) for c in SCORE_COLS) and out["qaq_q_tokens"][4] == 0
    keep = [i for i in range(20) if i != 4]
    for c in SCORE_COLS:
        np.testing.assert_allclose(np.array(out[c])[keep], np.array(ref[c])[keep], atol=1e-5, rtol=0)


def test_rows_that_break_the_tokenizer_or_the_model_are_errors(tiny_model, tiny_tokenizer, tmp_path):
    class Fragile:
        """The tiny tokenizer, raising on any text containing BOOM (as tokenizers can on odd input)."""

        def __init__(self, tok):
            self.tok = tok

        def __getattr__(self, name):
            return getattr(self.tok, name)

        def __len__(self):
            return len(self.tok)

        def __call__(self, text, **kwargs):
            texts = text if isinstance(text, list) else [text]
            if any("BOOM" in t for t in texts):
                raise ValueError("tokenizer exploded")
            return self.tok(text, **kwargs)

    rows = make_rows(12)
    rows["instruction"][2] = "BOOM " + rows["instruction"][2]
    from datasets import Dataset

    sc = make_scorer(tiny_model, Fragile(tiny_tokenizer))
    crash_on = sc.encode(question({k: v[9] for k, v in rows.items()}), rows["output"][9])["forward_ids"]

    def hook(seqs):
        if crash_on in seqs:
            raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED (injected)")

    sc.span_scorer.forward_hook = hook
    lines = []
    run_sharded(Dataset.from_dict(rows), sc, tmp_path / "run", shard_rows=5, echo=lines.append)
    out = scored_of(tmp_path / "run")
    st = out["qaq_status"]
    assert st[2] == "error" and st[9] == "error" and st[7] == "empty_answer"
    assert lines[-1].startswith("12 rows scored (qaq: {'ok': 9, 'empty_answer': 1, 'error': 2})")
    assert math.isnan(out["qaq_rmi"][9]) and not math.isnan(out["qaq_rmi"][8])


def question(row) -> str:
    return row["instruction"] + ("\n\n" + row["input"] if row["input"] else "")


def _sequences(sc, batch):
    seqs = []
    for q, i, a in zip(batch["instruction"], batch["input"], batch["output"]):
        if a:
            e = sc.encode(question({"instruction": q, "input": i}), a)
            seqs += [e["forward_ids"], e["reverse_ids"]]
    return seqs


def test_a_device_error_that_surfaces_when_results_are_collected_fails_only_its_micro_batch(
        tiny_model, tiny_tokenizer, monkeypatch):
    # results stay on the device until the whole map batch has run; an asynchronous CUDA error shows up when
    # they are copied back: that micro-batch's rows become errors, the others keep their scores
    import qaq_datasets.scoring.forward as forward

    batch = batch_of(12)
    ref = make_scorer(tiny_model, tiny_tokenizer, token_budget=64)(batch)
    real, calls = forward.span_means, []

    def flaky(nll, seg, spans):
        calls.append(len(spans))
        if len(calls) == 2:
            raise RuntimeError("CUDA error: an illegal memory access was encountered (injected by the test)")
        return real(nll, seg, spans)

    monkeypatch.setattr(forward, "span_means", flaky)
    out = make_scorer(tiny_model, tiny_tokenizer, token_budget=64)(batch)
    assert len(calls) > 2  # several micro-batches, one failed
    errors = [i for i, s in enumerate(out["qaq_status"]) if s == "error"]
    assert 1 <= len(errors) <= calls[1]
    for i, s in enumerate(out["qaq_status"]):
        if i in errors:
            assert all(math.isnan(out[c][i]) for c in SCORE_COLS)
        else:
            assert s == ref["qaq_status"][i]
            for c in SCORE_COLS:
                np.testing.assert_allclose(out[c][i], ref[c][i], atol=1e-5, rtol=0, err_msg=c)
