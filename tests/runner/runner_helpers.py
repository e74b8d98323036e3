"""Shared bits of the runner tests: a small instruction dataset, subprocess launching, reading and comparing output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset

REPO = Path(__file__).resolve().parents[2]

_Q = ["Write a Python function that returns the sum of a list.", "How do I reverse a string in JavaScript?",
      "Create a SQL query that selects all rows from the users table.", "Add two numbers.",
      "Print the numbers from 0 to n.", "Sort a list of integers in place."]
_A = ["def total(xs):\n    return sum(xs)", "s.split('').reverse().join('')", "SELECT * FROM users;",
      "def add(a, b):\n    return a + b", "for (let i = 0; i < n; i++) { console.log(i); }", "xs.sort()"]


def make_rows(n: int = 30) -> dict:
    """``n`` rows with an ``id`` column, varied lengths, an empty ``input`` most of the time, one empty answer."""
    rows = {"id": list(range(n)), "instruction": [], "input": [], "output": []}
    for i in range(n):
        rows["instruction"].append(f"{_Q[i % len(_Q)]} Case {i}." + " Explain." * (i % 4))
        rows["input"].append("" if i % 3 else f"x = {i}")
        rows["output"].append(_A[(i * 5) % len(_A)] + f"  # {i}" * (1 + i % 3))
    if n > 7:
        rows["output"][7] = ""  # an unscorable row: status empty_answer, NaN scores
    return rows


def make_dataset(n: int = 30) -> Dataset:
    return Dataset.from_dict(make_rows(n))


def scorers_for(model, names=("strong", "weak"), **kw) -> dict:
    """``{name: Scorer}`` with prefixes ``{name}_`` over the columns of :func:`make_rows`, on CPU in float32."""
    import qaq_datasets as qaq

    return {name: qaq.score_fn(model, dtype="float32", question=["instruction", "input"], prefix=f"{name}_",
                               device_map="cpu", **kw) for name in names}


def scored_of(out) -> Dataset:
    """The rows of the scored folder ``out`` (config ``scored``), through the public loader."""
    import qaq_datasets as qaq

    return qaq.load_scored(str(out), split="train")[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), "GLOO_SOCKET_IFNAME": "lo",
                "TP_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1"})
    env.pop("RANK", None), env.pop("WORLD_SIZE", None), env.pop("LOCAL_RANK", None)
    env.update(extra)
    return env


def python_cmd(*args) -> list[str]:
    return [sys.executable, *map(str, args)]


def torchrun_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *map(str, args)]


def run_ok(cmd, *, timeout=120, env=None, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env or subprocess_env(),
                          cwd=cwd or REPO)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def read_table(path) -> pa.Table:
    return pq.read_table(str(path))


def assert_same_rows(a, b, *, exact: bool = True, atol: float = 1e-6) -> None:
    """Two scored outputs (``pyarrow.Table`` or ``Dataset``) hold the same rows, in the same order."""
    a = a if isinstance(a, pa.Table) else a.with_format("arrow")[:]
    b = b if isinstance(b, pa.Table) else b.with_format("arrow")[:]
    assert a.column_names == b.column_names
    assert a.num_rows == b.num_rows
    for c in a.column_names:
        x, y = a.column(c).to_pylist(), b.column(c).to_pylist()
        if pa.types.is_floating(a.schema.field(c).type):
            x, y = np.array(x, dtype=float), np.array(y, dtype=float)
            assert np.array_equal(np.isnan(x), np.isnan(y)), c
            if exact:
                assert np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)]), c
            else:
                np.testing.assert_allclose(x, y, atol=atol, rtol=0, err_msg=c)
        else:
            assert x == y, c
