"""Make a model folder with random weights from another folder's config and tokenizer.

Usage: python benchmarks/random_weights.py SRC DST [--seed 0]

For timing and agreement checks on a machine where the trained weights cannot travel (a lent GPU with no
network): same architecture, shapes, dtype and tokenizer, so forward passes cost exactly what the trained
model's cost, and two ways of computing the same NLLs must still agree. The scores themselves mean nothing.
SRC holds ``config.json`` and the tokenizer files (``tokenizer.json`` may be gzipped as ``tokenizer.json.gz``).
The weights are written in fp32, so ``qaq.load_model(DST, dtype=...)`` can load them in any dtype.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path


def materialise(src: Path, dst: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name.endswith(".gz"):
            with gzip.open(f, "rb") as fin, open(dst / f.name[:-3], "wb") as fout:
                shutil.copyfileobj(fin, fout)
        elif f.is_file():
            shutil.copy(f, dst / f.name)
    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(src)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(dst)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"random-weight model written to {materialise(args.src, args.dst, args.seed)}")


if __name__ == "__main__":
    main()
