"""Checks of the accelerator path: device placement, automatic dtype, and scores that agree with the CPU.

Usage: python benchmarks/cuda_check.py [--model smollm2-135m] [--rows 64]

On a machine with a GPU it prints, for one model:
- where ``qaq.load_model(spec)`` put the model with its defaults (``device_map="auto"``, dtype auto);
- fp32 scores on the GPU against fp32 scores on the CPU (the same weights, ``--rows`` Code Alpaca rows);
- fp32 scores on the GPU, one row per map batch against the whole batch (the batch-invariance contract);
- a model split by accelerate between the GPU and the CPU (its later layers on the CPU, the LM head where
  tied weights put it) against the CPU alone, which exercises the hand-over of hidden states between devices;
- bf16 on the GPU against fp32 on the GPU (information: bf16 rounds logits).
Without a GPU it runs the CPU parts only. Exit status 1 if any check with a limit fails.
"""

from __future__ import annotations

import argparse
import sys
import traceback

import numpy as np

from _data import code_alpaca, question_of

COLUMNS = ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q")


def scores(model, ds, batch_size: int) -> tuple[np.ndarray, list[str]]:
    import qaq_datasets as qaq

    out = ds.map(qaq.score_fn(model, question="q", answer="a"), batched=True, batch_size=batch_size,
                 load_from_cache_file=False, keep_in_memory=True)
    return np.stack([np.asarray(out[c], dtype=np.float64) for c in COLUMNS], 1), list(out["qaq_status"])


def difference(a, b) -> float:
    (x, sx), (y, sy) = a, b
    if sx != sy or not np.array_equal(np.isnan(x), np.isnan(y)):
        return float("inf")  # different statuses or NaN patterns: no agreement at all
    return float(np.nanmax(np.abs(x - y)))


def split_map(spec_folder: str):
    """An accelerate device map that leaves the later decoder layers on the CPU, as ``"auto"`` does on a small GPU."""
    import torch
    from accelerate import infer_auto_device_map, init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(spec_folder)
    with init_empty_weights():
        empty = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    empty.tie_weights()  # as from_pretrained does before it infers a map
    size = sum(p.numel() for p in empty.parameters()) * 4
    return infer_auto_device_map(empty, max_memory={0: int(size * 0.6), "cpu": 10 * size},
                                 no_split_module_classes=empty._no_split_modules, dtype=torch.float32)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rows", type=int, default=64)
    args = ap.parse_args()

    import torch
    from datasets import Dataset

    import qaq_datasets as qaq
    from qaq_datasets.models.spec import resolve_spec

    rows = code_alpaca(args.rows)
    ds = Dataset.from_dict({"q": [question_of(r) for r in rows], "a": [r["output"] for r in rows]})
    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device: "
          f"{torch.cuda.get_device_name(0) if gpu else 'none (CPU checks only)'}; model {args.model}, "
          f"{len(ds)} rows")
    results = []  # (check, value, limit)

    def check(name, fn, limit=None):
        try:
            value = fn()
        except Exception:  # a failing check is reported and the others still run
            traceback.print_exc()
            value = "error"
        results.append((name, value, limit))
        print(f"  {name}: {value}", flush=True)

    default = qaq.load_model(args.model)
    check("load_model defaults: device / dtype / device map",
          lambda: f"{default.device} / {default.dtype} / {getattr(default.model, 'hf_device_map', None)}")
    del default

    cpu32 = qaq.load_model(args.model, device_map="cpu", dtype="float32")
    ref = scores(cpu32, ds, batch_size=64)
    del cpu32
    if gpu:
        gpu32 = qaq.load_model(args.model, device_map="cuda:0", dtype="float32")
        batched = scores(gpu32, ds, batch_size=64)
        check("fp32 GPU vs fp32 CPU, max |diff| nats", lambda: difference(batched, ref), 1e-3)
        check("fp32 GPU, one row per batch vs batched, max |diff| nats",
              lambda: difference(scores(gpu32, ds, batch_size=1), batched), 1e-4)
        del gpu32
        src = resolve_spec(args.model)
        if not src.is_gguf:
            def split():
                device_map = split_map(src.location)
                model = qaq.load_model(args.model, device_map=device_map, dtype="float32")
                where = sorted({str(p.device) for p in model.model.parameters()})
                print(f"  split model over {where}; LM head on {model.model.get_output_embeddings().weight.device}")
                return difference(scores(model, ds, batch_size=64), ref)
            check("fp32 split GPU+CPU (accelerate) vs fp32 CPU, max |diff| nats", split, 1e-3)
        gpu16 = qaq.load_model(args.model, device_map="cuda:0", dtype="bfloat16")
        check("bf16 GPU vs fp32 GPU, max |diff| nats (information)",
              lambda: difference(scores(gpu16, ds, batch_size=64), batched))
    else:
        check("fp32 CPU, one row per batch vs batched, max |diff| nats",
              lambda: difference(scores(qaq.load_model(args.model, device_map="cpu", dtype="float32"), ds, 1), ref),
              1e-4)

    failed = [name for name, value, limit in results
              if value == "error" or (limit is not None and not value <= limit)]
    print("\n| check | value | limit | result |\n|---|---|---|---|")
    for name, value, limit in results:
        verdict = "FAIL" if name in failed else ("pass" if limit is not None else "info")
        shown = f"{value:.2e}" if isinstance(value, float) else value
        print(f"| {name} | {shown} | {limit if limit is not None else ''} | {verdict} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
