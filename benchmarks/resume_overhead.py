"""Overhead of a sharded, resumable run (``run_sharded``: row digest, lock, one map cache file per shard,
the scored folder) vs a plain in-memory ``ds.map``.

Usage: python benchmarks/resume_overhead.py [--rows 120] [--shard-rows 40] [--batch-size 40] [--repeats 5]

Both methods score the same Code Alpaca rows with the same scorer (SmolLM2-135M-Instruct), in batches of
the same size (shards are a multiple of the batch size, so both feed the model identical batches). After
a warm-up of each, the runs alternate map, sharded, map, sharded, ... so that drifts in machine speed hit
both; each sharded run writes a fresh output folder, scored folder included. Prints each method's median
and best time, the median of the paired ratios, and the seconds each method spends outside the scorer's
``score_batch`` calls (the bookkeeping itself, which is what sharding adds, and which machine noise from
other processes barely touches).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

from _data import code_alpaca, question_of


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=120)
    ap.add_argument("--shard-rows", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="auto")
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from datasets import disable_progress_bars

    import qaq_datasets as qaq
    from qaq_datasets.runner import run_sharded

    disable_progress_bars()
    rows = code_alpaca(args.rows)
    ds = Dataset.from_dict({"q": [question_of(r) for r in rows], "a": [r["output"] for r in rows]})
    model = qaq.load_model(args.model, dtype=None if args.dtype == "auto" else args.dtype)
    scorer = qaq.score_fn(model, question="q", answer="a")
    enc_rows = [scorer.encode(q, a) for q, a in zip(ds["q"], ds["a"])]
    fed = sum(len(e["forward_ids"]) + len(e["reverse_ids"]) for e in enc_rows)
    work = tempfile.mkdtemp(prefix="qaq-resume-bench-")

    def plain():
        return ds.map(scorer, batched=True, batch_size=args.batch_size, load_from_cache_file=False,
                      keep_in_memory=True)

    n_runs = [0]

    def sharded():
        n_runs[0] += 1
        out = os.path.join(work, f"run{n_runs[0]}")
        run_sharded(ds, scorer, out, shard_rows=args.shard_rows, batch_size=args.batch_size, echo=None)
        shutil.rmtree(out)

    # the time inside Scorer.score_batch: what run_sharded maps, and what ds.map(scorer, batched=True) calls
    in_scorer = [0.0]
    original_score_batch = type(scorer).score_batch

    def timed_score_batch(self, batch, rank=None):
        t = time.perf_counter()
        try:
            return original_score_batch(self, batch, rank)
        finally:
            in_scorer[0] += time.perf_counter() - t

    type(scorer).score_batch = timed_score_batch
    times = {"map": [], "sharded": []}
    outside = {"map": [], "sharded": []}
    try:
        plain(), sharded()  # warm-up: kernels, shapes, file system
        for _ in range(args.repeats):
            for name, fn in (("map", plain), ("sharded", sharded)):
                in_scorer[0] = 0.0
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                outside[name].append(times[name][-1] - in_scorer[0])
    finally:
        type(scorer).score_batch = original_score_batch
        shutil.rmtree(work, ignore_errors=True)

    t_map, t_sh = statistics.median(times["map"]), statistics.median(times["sharded"])
    paired = statistics.median(s / m for m, s in zip(times["map"], times["sharded"]))
    print(f"\nResume-overhead benchmark — {args.rows} Code Alpaca rows, {args.model}, dtype={model.dtype}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}")
    print(f"batch size {args.batch_size}; shards of {args.shard_rows} rows "
          f"({-(-args.rows // args.shard_rows)} shards); tokens fed: {fed} ({fed / args.rows:.1f} per row)\n")
    print("| method | runs (s) | median (s) | best (s) | rows/s (median) | fed tokens/s (median) | "
          "outside the scorer, median (s) |")
    print("|---|---|---|---|---|---|---|")
    for key, name in (("map", "ds.map (unsharded, in memory)"), ("sharded", "run_sharded (shard caches + folder)")):
        t = statistics.median(times[key])
        print(f"| {name} | {', '.join(f'{x:.2f}' for x in times[key])} | {t:.2f} | {min(times[key]):.2f} | "
              f"{args.rows / t:.2f} | {fed / t:.0f} | {statistics.median(outside[key]):.3f} |")
    extra = statistics.median(outside["sharded"]) - statistics.median(outside["map"])
    print(f"\nsharded / map: median of paired ratios {paired:.3f}, ratio of medians {t_sh / t_map:.3f}, "
          f"ratio of best runs {min(times['sharded']) / min(times['map']):.3f}")
    print(f"bookkeeping added by sharding (outside-the-scorer time, sharded - map): {extra:+.3f} s per run = "
          f"{100 * extra / t_map:+.2f}% of the map run (target <= 5%)")


if __name__ == "__main__":
    main()
