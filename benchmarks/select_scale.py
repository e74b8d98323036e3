"""`qaq select` on a million pre-scored rows that already carry the text checks' columns, and the text checks'
throughput with `num_proc` 1 and 2.

Usage: python benchmarks/select_scale.py [--rows 1000000] [--check-rows 8000] [--data PATH]

1. Writes a `qaq score`-layout folder of `--rows` rows (random but plausible scores of two models, status ok,
   the four `check_*` columns with a few percent flagged, short instruction/output texts), then times the
   command `qaq select FOLDER --out OUT` end to end in a fresh process (interpreter start, imports, reading the
   parquet, the default plan's fit, writing the curated rows, plan, report and card), best of `--repeats`.
2. Maps `check_fn()` over `--check-rows` Code Alpaca rows (its rows repeated; `QAQ_BENCH_DATA` or `--data`)
   with `num_proc` 1 and 2, no cache, and prints rows/s of each.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _data import DATA, code_alpaca


def scored_rows(n: int, seed: int = 0):
    from datasets import Dataset

    from qaq_datasets.checks import CHECKS
    from qaq_datasets.scoring.schema import ScoreColumns

    rng = np.random.default_rng(seed)
    data = {"instruction": [f"Write a function that returns {i}." for i in range(n)],
            "output": [f"def f():\n    return {i}" for i in range(n)]}
    for prefix in ("strong_", "weak_"):
        c = ScoreColumns(prefix)
        nll_q = rng.gamma(4.0, 0.6, n)
        nll_q_given_a = nll_q * rng.uniform(0.5, 1.0, n)
        nll_a = rng.gamma(3.0, 0.5, n)
        nll_a_given_q = nll_a * rng.uniform(0.3, 1.05, n)
        data |= {c.nll_q: nll_q, c.nll_q_given_a: nll_q_given_a, c.nll_a: nll_a, c.nll_a_given_q: nll_a_given_q,
                 c.rmi: nll_q - nll_q_given_a, c.ifd: np.exp(nll_a_given_q - nll_a), c.nll_end: rng.gamma(2.0, 2.0, n),
                 c.q_tokens: rng.integers(5, 200, n), c.a_tokens: rng.integers(5, 500, n), c.status: ["ok"] * n}
    for name in CHECKS:
        data[f"check_{name}"] = rng.random(n) < 0.01
    return Dataset.from_dict(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--check-rows", type=int, default=8000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", default=str(DATA), help="Code Alpaca JSON (default: _data.DATA)")
    args = ap.parse_args()
    from datasets import Dataset, disable_caching

    from qaq_datasets.checks import check_fn
    from qaq_datasets.publishing import save_folder

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scored"
        t = time.perf_counter()
        save_folder(folder, {"scored": scored_rows(args.rows)})
        print(f"wrote {args.rows} pre-scored rows with check columns in {time.perf_counter() - t:.1f} s")
        times = []
        for i in range(args.repeats):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "qaq_datasets.cli", "select", str(folder), "--out",
                                   str(Path(tmp) / f"sel{i}")], capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            if done.returncode:
                raise SystemExit(done.stderr)
        computed = "computing the text checks" in done.stdout
        print(f"qaq select, {args.rows} rows, default plan: best {min(times):.1f} s of {args.repeats} "
              f"({', '.join(f'{x:.1f}' for x in times)}); checks recomputed: {computed}; {done.stdout.splitlines()[0]}")
    disable_caching()
    rows = code_alpaca(path=args.data)
    rows = [{k: r.get(k) or "" for k in ("instruction", "input", "output")} for r in rows]
    ds = Dataset.from_list([rows[i % len(rows)] for i in range(args.check_rows)])
    for num_proc in (1, 2):
        t = time.perf_counter()
        check_fn().map(ds, num_proc=num_proc if num_proc > 1 else None, load_from_cache_file=False)
        s = time.perf_counter() - t
        print(f"check_fn, num_proc={num_proc}: {args.check_rows} rows in {s:.1f} s = {args.check_rows / s:.0f} rows/s")


if __name__ == "__main__":
    main()
