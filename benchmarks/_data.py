"""Benchmark data: real Code Alpaca rows from ../shared/data (test/benchmark use only, CC BY-NC 4.0)."""

from __future__ import annotations

import json
import os
from pathlib import Path

# ../shared/data beside the checkout; QAQ_BENCH_DATA points elsewhere (a machine where it was copied)
DATA = Path(os.environ.get("QAQ_BENCH_DATA")
            or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "code_alpaca_2k.json")


def code_alpaca(n: int | None = None, path: Path = DATA) -> list[dict]:
    rows = json.loads(Path(path).read_text())
    return rows[:n] if n else rows


def question_of(row: dict) -> str:
    return row["instruction"] + ("\n\n" + row["input"] if row.get("input") else "")
