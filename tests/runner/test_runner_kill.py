"""A run killed with SIGKILL at any moment, then restarted, gives exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time

import pyarrow.compute as pc
import pytest
from runner_helpers import assert_same_rows, make_dataset, python_cmd, read_table, subprocess_env

pytestmark = pytest.mark.slow
ROWS, SHARD_ROWS = 40, 3  # 14 shards

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import qaq_datasets as qaq
    from qaq_datasets.runner import run_sharded

    data, out, spec, delay = sys.argv[1:5]
    sc = {name: qaq.score_fn(spec, dtype="float32", question=["instruction", "input"], prefix=name + "_",
                             device_map="cpu") for name in ("strong", "weak")}
    if float(delay):  # slow the forward pass so that the test can kill the run half-way
        sc["strong"].span_scorer.forward_hook = lambda seqs: time.sleep(float(delay))
    run = run_sharded(data, sc, out, shard_rows=%d, batch_size=2, progress=False)
    print(json.dumps({"scored": run.shards_scored, "skipped": run.shards_skipped, "statuses": run.statuses}))
""" % SHARD_ROWS)


def done_markers(out):
    return sorted(int(p.name[6:11]) for p in (out / "shards").glob("shard-*.done")) if (out / "shards").exists() else []


def start(script, data, out, model, delay):
    return subprocess.Popen(python_cmd(script, data, out, model, delay), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env())


def kill_after(proc, out, n_markers, timeout=60):
    """SIGKILL ``proc`` as soon as ``out`` holds at least ``n_markers`` completion markers."""
    t0 = time.monotonic()
    while len(done_markers(out)) < n_markers:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() - t0 < timeout, "the run did not get going"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_then_restart_gives_the_uninterrupted_rows(tiny_model_dir, tmp_path):
    data = tmp_path / "data"
    make_dataset(ROWS).save_to_disk(str(data))
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"

    proc = start(script, data, out, tiny_model_dir, 0.08)
    kill_after(proc, out, 3)
    first_kill = done_markers(out)
    assert 3 <= len(first_kill) < 14 and not (out / "scored.parquet").exists()

    proc = start(script, data, out, tiny_model_dir, 0.08)  # killed again, later on
    kill_after(proc, out, len(first_kill) + 3)
    second_kill = done_markers(out)
    assert set(first_kill) < set(second_kill) and len(second_kill) < 14

    proc = start(script, data, out, tiny_model_dir, 0)  # the same command, run to the end
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-3000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["skipped"] == second_kill  # nothing finished was redone ...
    assert sorted(report["skipped"] + report["scored"]) == list(range(14))  # ... and nothing was left out
    assert report["statuses"]["strong"] == {"ok": ROWS - 1, "empty_answer": 1}

    ref_out = tmp_path / "reference"
    ref = start(script, data, ref_out, tiny_model_dir, 0)
    _, err = ref.communicate(timeout=120)
    assert ref.returncode == 0, err[-3000:]

    got = read_table(out / "scored.parquet")
    assert got.column("id").to_pylist() == list(range(ROWS))  # same ids, in order, no duplicates
    assert pc.count_distinct(got.column("id")).as_py() == ROWS
    assert_same_rows(got, read_table(ref_out / "scored.parquet"))  # same scores, bitwise
    assert not list((out / "shards").glob(".*"))  # the killed runs' temp files were cleaned up
