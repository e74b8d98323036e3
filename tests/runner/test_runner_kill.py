"""Processes: a run killed with SIGKILL, then restarted, gives exactly the rows of an uninterrupted run; a second
command on the same folder is refused while the first runs."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time

import pyarrow.compute as pc
import pytest
from runner_helpers import assert_same_rows, make_dataset, python_cmd, scored_of, scorers_for, subprocess_env

from qaq_datasets.runner import run_sharded

pytestmark = pytest.mark.slow
ROWS, SHARD_ROWS = 40, 3  # 14 shards

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from datasets import load_from_disk
    import qaq_datasets as qaq
    from qaq_datasets.runner import run_sharded

    data, out, spec, delay, gate = sys.argv[1:6]
    sc = {name: qaq.score_fn(spec, dtype="float32", question=["instruction", "input"], prefix=name + "_",
                             device_map="cpu") for name in ("strong", "weak")}

    def hook(seqs):  # slow the forward pass, or hold it until the gate file exists, so that the test can act
        time.sleep(float(delay))
        while gate and not os.path.exists(gate):
            time.sleep(0.02)

    sc["strong"].span_scorer.forward_hook = hook
    run_sharded(load_from_disk(data), sc, out, shard_rows=%d, batch_size=2)
""" % SHARD_ROWS)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    """The uninterrupted run, in this process."""
    out = tmp_path_factory.mktemp("reference") / "out"
    run_sharded(make_dataset(ROWS), scorers_for(tiny_model_dir), out, shard_rows=SHARD_ROWS, batch_size=2)
    return scored_of(out)


@pytest.fixture()
def setup(tiny_model_dir, tmp_path):
    data, script = tmp_path / "data", tmp_path / "score.py"
    make_dataset(ROWS).save_to_disk(str(data))
    script.write_text(SCRIPT)

    def start(out, delay, gate=""):
        return subprocess.Popen(python_cmd(script, data, out, tiny_model_dir, delay, gate), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=subprocess_env())

    return start


def finished_shards(out) -> list[str]:
    folder = out / "run" / "shards"
    return sorted(p.name for p in folder.glob("*-of-*.arrow")) if folder.exists() else []


def wait_for(proc, out, n_shards, timeout=90):
    t0 = time.monotonic()
    while len(finished_shards(out)) < n_shards:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() - t0 < timeout, "the run did not get going"
        time.sleep(0.01)


def finish(proc, timeout=180):
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr[-3000:]
    return stdout


def test_sigkill_then_the_same_command_gives_the_uninterrupted_rows(setup, reference, tmp_path):
    out = tmp_path / "out"
    proc = setup(out, 0.08)
    wait_for(proc, out, 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = finished_shards(out)
    assert 3 <= len(first) < 14 and not (out / "README.md").exists()

    proc = setup(out, 0.08)  # killed again, later on
    wait_for(proc, out, len(first) + 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    second = finished_shards(out)
    assert set(first) < set(second) and len(second) < 14

    stdout = finish(setup(out, 0))  # the same command, run to the end
    assert f"{ROWS} rows scored (strong: {{'ok': {ROWS - 1}, 'empty_answer': 1}}" in stdout
    got = scored_of(out)
    assert got["id"] == list(range(ROWS))  # the same ids, in order, no duplicates
    assert pc.count_distinct(got.with_format("arrow")["id"]).as_py() == ROWS
    assert_same_rows(got, reference)  # the same scores, bitwise
    assert not (out / "run" / "shards").exists()  # the killed runs' shards and temp files are gone


def test_a_second_command_on_the_same_out_is_refused_while_the_first_runs(setup, reference, tmp_path):
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = setup(out, 0, gate)  # holds its first forward pass until the gate opens
    t0 = time.monotonic()
    while not (out / "run" / "manifest.json").exists():  # written once the first command holds the lock
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.monotonic() - t0 < 90, "the first command did not get going"
        time.sleep(0.01)
    second = setup(out, 0)
    _, err = second.communicate(timeout=120)
    assert second.returncode != 0
    assert err.strip().splitlines()[-1].endswith(
        f"ConfigError: {out} is in use by another qaq score command; wait for it to finish or use another --out.")
    gate.touch()
    finish(first)
    assert_same_rows(scored_of(out), reference)  # the first command went on undisturbed
