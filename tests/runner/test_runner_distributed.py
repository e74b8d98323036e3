"""torchrun (gloo, CPU): two processes, and two single-process "machines" on loopback, equal one process."""

from __future__ import annotations

import json
import subprocess

import pytest
from runner_helpers import assert_same_rows, free_port, make_dataset, read_table, run_ok, subprocess_env, torchrun_cmd

import qaq_datasets as qaq
from qaq_datasets.runner import run_sharded

pytestmark = pytest.mark.slow
ROWS, SHARD_ROWS = 26, 3  # nine shards


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist") / "data"
    make_dataset(ROWS).save_to_disk(str(folder))
    return folder


@pytest.fixture(scope="module")
def single(data_dir, tiny_model_dir, tmp_path_factory):
    """The single-process output of the same scoring, through the Python API."""
    sc = {name: qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"], prefix=f"{name}_",
                             device_map="cpu") for name in ("strong", "weak")}
    run = run_sharded(str(data_dir), sc, tmp_path_factory.mktemp("single") / "run", shard_rows=SHARD_ROWS,
                      progress=False)
    return read_table(run.merged.parquet)


def entry_args(data_dir, out, model):
    return ["-m", "qaq_datasets.runner.distributed", data_dir, out, "--model", f"strong={model}",
            "--model", f"weak={model}", "--question", "instruction,input", "--dtype", "float32",
            "--device-map", "cpu", "--shard-rows", SHARD_ROWS, "--no-progress"]


def marker(out, i):
    return json.loads((out / "shards" / f"shard-{i:05d}.done").read_text())


def test_torchrun_two_processes_equals_single_process(data_dir, tiny_model_dir, single, tmp_path):
    out = tmp_path / "run"
    proc = run_ok(torchrun_cmd("--nnodes=1", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                               f"--master_port={free_port()}", *entry_args(data_dir, out, tiny_model_dir)))
    assert f"{ROWS} rows scored into" in proc.stdout  # rank 0 merged after the barrier
    assert_same_rows(read_table(out / "scored.parquet"), single)
    assert [marker(out, i)["rank"] for i in range(9)] == [i % 2 for i in range(9)]  # shard i on rank i % 2


def test_two_machines_on_loopback_equal_single_process(data_dir, tiny_model_dir, single, tmp_path):
    out = tmp_path / "run"
    port = free_port()
    procs = [subprocess.Popen(torchrun_cmd("--nnodes=2", f"--node_rank={node}", "--nproc_per_node=1",
                                           "--master_addr=127.0.0.1", f"--master_port={port}",
                                           *entry_args(data_dir, out, tiny_model_dir)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
             for node in (0, 1)]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (o, e) in zip(procs, results):
        assert p.returncode == 0, f"{o[-2000:]}\n{e[-5000:]}"
    assert f"{ROWS} rows scored into" in results[0][0]  # node 0 runs rank 0, which merges
    assert_same_rows(read_table(out / "scored.parquet"), single)
    assert [marker(out, i)["rank"] for i in range(9)] == [i % 2 for i in range(9)]
    assert len({marker(out, i)["pid"] for i in range(9)}) == 2


def test_accelerate_launch_uses_the_same_entry_point(data_dir, tiny_model_dir, single, tmp_path):
    import shutil
    import sys
    from pathlib import Path

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate's launcher is not installed")
    out = tmp_path / "run"
    # --multi_gpu is accelerate's torch.distributed launcher; with no GPU the ranks score on CPU (gloo barriers)
    proc = run_ok([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()), "--mixed_precision", "no",
                   "--dynamo_backend", "no", *map(str, entry_args(data_dir, out, tiny_model_dir))])
    assert f"{ROWS} rows scored into" in proc.stdout
    assert_same_rows(read_table(out / "scored.parquet"), single)
    assert [marker(out, i)["rank"] for i in range(9)] == [i % 2 for i in range(9)]
