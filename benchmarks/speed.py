"""Speed of QAQ scoring vs a one-row-at-a-time four-pass reference and the bare forward pass.

Usage: python benchmarks/speed.py [--rows 200] [--model smollm2-135m] [--dtype auto|float32|bfloat16]

Every method runs twice and the second, warm run is timed. Prints, from one run on one machine: rows/s and scored tokens/s of `score_fn` (two passes per row,
micro-batched, log-probs only at scored positions); of the four-pass reference (one row at a time, full
logits, `model(ids, labels=...).loss` per NLL, as Reflection-Tuning / Cherry-LLM scripts compute them); and
of the bare model forward over exactly the sequences `score_fn` feeds, in the same micro-batches (the limit),
and of the decoder alone without any LM head (a floor no scorer can reach).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from _data import code_alpaca, question_of


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--token-budget", type=int, default=8192)
    args = ap.parse_args()

    import torch
    from datasets import Dataset

    import qaq_datasets as qaq
    from qaq_datasets.scoring.forward import micro_batches, padded_width

    rows = code_alpaca(args.rows)
    ds = Dataset.from_dict({"q": [question_of(r) for r in rows], "a": [r["output"] for r in rows]})
    model = qaq.load_model(args.model, dtype=None if args.dtype == "auto" else args.dtype)
    scorer = qaq.score_fn(model, question="q", answer="a", token_budget=args.token_budget)
    torch.set_num_threads(torch.get_num_threads())

    scorer({"q": ds["q"][:2], "a": ds["a"][:2]})  # builds the encoder
    enc = scorer._encoder
    pairs = [enc.pair(enc.ids(q), enc.ids(a)) for q, a in zip(ds["q"], ds["a"])]
    seqs = [s for p in pairs for s in (p.forward_ids, p.reverse_ids)]  # exactly what score_fn feeds
    fed_tokens = sum(len(s) for s in seqs)

    def run_ours():
        return ds.map(scorer, batched=True, batch_size=64, load_from_cache_file=False, keep_in_memory=True)

    def run_bare(module):
        def go():
            with torch.inference_mode():
                for group in micro_batches([len(s) for s in seqs], args.token_budget):
                    width = padded_width(max(len(seqs[i]) for i in group))
                    ids = torch.zeros((len(group), width), dtype=torch.long)
                    for b, i in enumerate(group):
                        ids[b, : len(seqs[i])] = torch.tensor(seqs[i])
                    module(input_ids=ids)  # right-padded, as score_fn feeds them
        return go

    def loss(ids, span):
        labels = torch.full((1, len(ids)), -100)
        labels[0, span[0]: span[1]] = torch.tensor(ids[span[0]: span[1]])
        return model.model(torch.tensor([ids]), labels=labels).loss.item()

    def run_ref():
        out = []
        with torch.inference_mode():
            for p in pairs:
                f, r, sp = p.forward_ids, p.reverse_ids, p.spans
                out.append((loss(f[: sp["q"][1]], sp["q"]),  # NLL(Q):   [ctx][Q]
                            loss(r, sp["q_given_a"]),  # NLL(Q|A): [ctx][A][Q]
                            loss(r[: sp["a"][1]], sp["a"]),  # NLL(A):   [ctx][A]
                            loss(f, sp["a_given_q"])))  # NLL(A|Q): [ctx][Q][A]
        return np.array(out)

    def timed(fn):
        """Run twice, time the second: every method measured with its kernels and shapes warm."""
        fn()
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    t_ours, scored = timed(run_ours)
    t_full, _ = timed(run_bare(model.model))
    t_bare, _ = timed(run_bare(model.model.model))
    t_ref, ref = timed(run_ref)
    q_tok = np.array(scored["qaq_q_tokens"]).sum()
    a_tok = np.array(scored["qaq_a_tokens"]).sum()
    scored_tokens = 2 * (q_tok + a_tok)  # each of Q and A is scored twice (with and without the other)
    ours = np.stack([scored[c] for c in ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q")], 1)
    agree = np.nanmax(np.abs(ref - ours))

    n = len(ds)
    print(f"\nQAQ speed benchmark — {args.rows} Code Alpaca rows, {args.model}, dtype={model.dtype}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"tokens fed (score_fn, 2 passes): {fed_tokens}; scored target tokens: {scored_tokens}\n")
    print(f"| method | seconds | rows/s | scored tokens/s | vs reference | vs bare model forward |")
    print(f"|---|---|---|---|---|---|")
    for name, t in (("score_fn (2 passes, micro-batched)", t_ours), ("reference (4 passes, one row at a time)", t_ref),
                    ("bare model forward (full logits), same sequences", t_full),
                    ("bare decoder forward (no LM head), same sequences", t_bare)):
        print(f"| {name} | {t:.1f} | {n / t:.2f} | {scored_tokens / t:.0f} | {t_ref / t:.2f}x faster | "
              f"{t / t_full:.2f}x the time |")
    print(f"\nmax |score_fn - reference| over all four NLLs: {agree:.2e} nats")
    print(f"targets: >= 4x the reference -> {t_ref / t_ours:.2f}x; within 1.2x of the bare forward -> {t_ours / t_full:.2f}x "
          f"(vs the decoder alone, without any LM head: {t_ours / t_bare:.2f}x)")


if __name__ == "__main__":
    main()
