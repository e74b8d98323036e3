"""Speed of QAQ scoring vs a one-row-at-a-time four-pass reference and the bare forward pass.

Usage: python benchmarks/speed.py [--rows 200] [--model smollm2-135m] [--dtype auto|float32|bfloat16]
                                  [--batch-size 64] [--token-budget 8192] [--prefix-ab] [--call-cost-ab 64,4096]

Every method runs once to warm up, then `--repeats` times, interleaved round-robin so that a noisy
neighbour slows all methods alike; the fastest run of each is reported (as `timeit` does), with the spread.
Prints, from one run on one machine, rows/s and scored tokens/s of:
- `score_fn` through `Dataset.map` (two passes per row, micro-batched, log-probs only at scored positions);
- the four-pass reference: one row at a time, full logits, `model(ids, labels=...).loss` per NLL, as the
  Reflection-Tuning / Cherry-LLM scripts compute them;
- the bare model forward (full logits, no log-softmax) over exactly the sequences `score_fn` feeds, in the
  same micro-batches (the limit the issue names), and the decoder alone without any LM head.
It also prints the arithmetic each method does in its linear layers (2 FLOPs per weight per token; the LM
head at every position for the reference, at the scored positions for score_fn): on a compute-bound device
(a CPU) the reference cannot be much slower than that ratio, whatever the batching. And it prints a floor:
score_fn's arithmetic at this machine's measured bf16/fp32 matmul rate (a large LM-head-shaped matmul), as if
everything else (attention, norms, activations, Python) took no time.

`--prefix-ab` adds an A/B of the shared-prefix cache (the system context both passes share, run once):
`score_fn` without it on the default template, and with and without it on a ~110-token system context.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from unittest import mock

import numpy as np

from _data import code_alpaca, question_of

LONG_SYSTEM = ("You are a meticulous senior software engineer who reviews programming questions and answers. "
               "Answers must be correct, idiomatic, complete, tested and explained briefly. Prefer standard "
               "libraries, clear names and small functions. Point out edge cases, complexity and security "
               "issues where relevant. ") * 2


def race(methods: dict, repeats: int) -> tuple[dict, dict]:
    """Warm each method up, then time ``repeats`` interleaved rounds; return (fastest seconds, last outputs)."""
    outs = {name: fn() for name, fn in methods.items()}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - t0)
            print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
    return times, outs


def matmul_rate(weight, rows: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of a large matmul against ``weight`` (the LM head's): about the best this device does."""
    import torch
    import torch.nn.functional as F

    cuda = weight.device.type == "cuda"
    rows, repeats = (rows * 4, repeats * 10) if cuda else (rows, repeats)
    x = torch.randn(rows, weight.shape[1], dtype=weight.dtype, device=weight.device)
    with torch.inference_mode():
        F.linear(x, weight)
        if cuda:
            torch.cuda.synchronize(weight.device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            F.linear(x, weight)
        if cuda:
            torch.cuda.synchronize(weight.device)
        dt = (time.perf_counter() - t0) / repeats
    return 2 * rows * weight.numel() / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--batch-size", type=int, default=64, help="Dataset.map batch size (rows)")
    ap.add_argument("--token-budget", type=int, default=8192)
    ap.add_argument("--prefix-ab", action="store_true", help="also A/B the shared-prefix cache")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--call-cost-ab", default="", help="also time score_fn with these per-call costs, e.g. 64,4096")
    args = ap.parse_args()

    import torch
    from datasets import Dataset

    import qaq_datasets as qaq
    import qaq_datasets.scoring.forward as forward
    import qaq_datasets.scoring.batching as batching
    from qaq_datasets.scoring.batching import call_cost_for, micro_batches, padded_width

    rows = code_alpaca(args.rows)
    ds = Dataset.from_dict({"q": [question_of(r) for r in rows], "a": [r["output"] for r in rows]})
    model = qaq.load_model(args.model, dtype=None if args.dtype == "auto" else args.dtype)
    scorer = qaq.score_fn(model, question="q", answer="a", token_budget=args.token_budget)

    device = model.model.get_input_embeddings().weight.device

    def sync():  # CUDA runs asynchronously: a timed method ends when its kernels have
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    pairs = [scorer.encode(q, a) for q, a in zip(ds["q"], ds["a"])]
    seqs = [s for p in pairs for s in (p["forward_ids"], p["reverse_ids"])]  # exactly what score_fn feeds, in order
    ref_tokens = sum(p["spans"]["q"][1] + len(p["reverse_ids"]) + p["spans"]["a"][1] + len(p["forward_ids"])
                     for p in pairs)

    def run_ours(sc=scorer):
        return ds.map(sc, batched=True, batch_size=args.batch_size, load_from_cache_file=False, keep_in_memory=True)

    def run_bare(module):
        """The same micro-batches as score_fn: grouped within each map batch, right-padded."""
        def go():
            with torch.inference_mode():
                for start in range(0, len(seqs), 2 * args.batch_size):
                    chunk = seqs[start: start + 2 * args.batch_size]
                    for group in micro_batches([len(s) for s in chunk], args.token_budget,
                                               call_cost_for(device.type)):
                        ids = torch.zeros((len(group), padded_width(max(len(chunk[i]) for i in group))),
                                          dtype=torch.long)
                        for b, i in enumerate(group):
                            ids[b, : len(chunk[i])] = torch.tensor(chunk[i])
                        module(input_ids=ids.to(device))
                sync()
        return go

    def loss(ids, span):
        labels = torch.full((1, len(ids)), -100)
        labels[0, span[0]: span[1]] = torch.tensor(ids[span[0]: span[1]])
        return model.model(torch.tensor([ids], device=device), labels=labels.to(device)).loss.item()

    def run_ref():
        out = []
        with torch.inference_mode():
            for p in pairs:
                f, r, sp = p["forward_ids"], p["reverse_ids"], p["spans"]
                out.append((loss(f[: sp["q"][1]], sp["q"]),  # NLL(Q):   [ctx][Q]
                            loss(r, sp["q_given_a"]),  # NLL(Q|A): [ctx][A][Q]
                            loss(r[: sp["a"][1]], sp["a"]),  # NLL(A):   [ctx][A]
                            loss(f, sp["a_given_q"])))  # NLL(A|Q): [ctx][Q][A]
        return np.array(out)

    methods = {"score_fn (2 passes, micro-batched)": run_ours, "reference (4 passes, one row at a time)": run_ref,
               "bare model forward (full logits), same sequences": run_bare(model.model),
               "bare decoder forward (no LM head), same sequences": run_bare(model.model.model)}
    if args.prefix_ab:
        from qaq_datasets.scoring.templates import chat_template

        def without_prefix_cache(fn):
            def go():
                with mock.patch.object(forward, "PREFIX_CACHE_MIN_SHARE", 2.0):  # never
                    return fn()
            return go

        long = qaq.score_fn(model, question="q", answer="a", token_budget=args.token_budget,
                            template=dataclasses.replace(chat_template(model.tokenizer), system=LONG_SYSTEM))
        n_sys = long.encode(ds["q"][0], ds["a"][0])["spans"]["q"][0]
        methods.update({
            "score_fn, shared-prefix cache off": without_prefix_cache(run_ours),
            f"score_fn, {n_sys}-token system context, shared-prefix cache on": lambda: run_ours(long),
            f"score_fn, {n_sys}-token system context, shared-prefix cache off": without_prefix_cache(
                lambda: run_ours(long))})
    for cost in [int(c) for c in args.call_cost_ab.split(",") if c]:
        def with_call_cost(cost=cost):
            with mock.patch.object(batching, "CALL_COST_TOKENS", cost), \
                    mock.patch.object(batching, "ACCELERATOR_CALL_COST_TOKENS", cost):
                return run_ours()
        methods[f"score_fn, call cost {cost} tokens (default {call_cost_for(device.type)})"] = with_call_cost
    times, outs = race(methods, args.repeats)
    best = {name: min(ts) for name, ts in times.items()}
    names = list(methods)
    t_ours, t_ref, t_full, t_bare = (best[k] for k in names[:4])
    scored, ref = outs[names[0]], outs[names[1]]

    scored_tokens = 2 * int(np.sum(scored["qaq_q_tokens"]) + np.sum(scored["qaq_a_tokens"]))  # Q, A scored twice
    ours = np.stack([scored[c] for c in ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q")], 1)
    fed = sum(len(s) for s in seqs)
    dec = model.model.model
    per_token = 2 * (sum(p.numel() for p in dec.parameters()) - dec.get_input_embeddings().weight.numel())
    head = 2 * model.model.get_output_embeddings().weight.numel()
    flops_ref = ref_tokens * (per_token + head)
    skipped = 0  # the shared prefix score_fn runs once per map batch instead of once per sequence
    first_spans = [[sp] for p in pairs for sp in (p["spans"]["q"], p["spans"]["a"])]  # earliest scored span per sequence
    for start in range(0, len(seqs), 2 * args.batch_size):
        chunk = seqs[start: start + 2 * args.batch_size]
        prefix = forward.cached_prefix(chunk, first_spans[start: start + 2 * args.batch_size])
        skipped += len(prefix) * (len(chunk) - 1)
    flops_ours = (fed - skipped) * per_token + scored_tokens * head
    n = len(ds)
    hardware = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"\nQAQ speed benchmark — {args.rows} Code Alpaca rows, {args.model}, dtype={model.dtype}, "
          f"torch {torch.__version__}, {hardware}, "
          f"map batch {args.batch_size} rows, token budget {args.token_budget}")
    print(f"tokens fed: score_fn {fed} ({fed - skipped} after its shared-prefix cache), reference {ref_tokens} "
          f"({ref_tokens / fed:.2f}x); scored target tokens: "
          f"{scored_tokens}; linear-layer arithmetic: reference {flops_ref / 1e12:.1f} TFLOP, score_fn "
          f"{flops_ours / 1e12:.1f} TFLOP ({flops_ref / flops_ours:.2f}x)")
    rate = matmul_rate(model.model.get_output_embeddings().weight)
    floor = flops_ours / rate
    print(f"matmul rate here: {rate / 1e12:.2f} TFLOP/s -> score_fn's floor if only its matmuls took time: "
          f"{floor:.1f} s ({t_ref / floor:.2f}x the reference)")
    print(f"fastest of {args.repeats} interleaved runs after a warm-up; spread = slowest / fastest\n")
    print("| method | seconds | spread | rows/s | scored tokens/s | vs reference | vs bare model forward |")
    print("|---|---|---|---|---|---|---|")
    for name, t in best.items():
        print(f"| {name} | {t:.1f} | {max(times[name]) / t:.2f} | {n / t:.2f} | {scored_tokens / t:.0f} | "
              f"{t_ref / t:.2f}x faster | {t / t_full:.2f}x the time |")
    print(f"\nmax |score_fn - reference| over all four NLLs: {np.nanmax(np.abs(ref - ours)):.2e} nats "
          f"({model.dtype}: different batch shapes round differently)")
    print(f"targets: >= 4x the reference -> {t_ref / t_ours:.2f}x; within 1.2x of the bare forward -> "
          f"{t_ours / t_full:.2f}x (vs the decoder alone, without any LM head: {t_ours / t_bare:.2f}x)")


if __name__ == "__main__":
    main()
