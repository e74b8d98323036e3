"""`torchrun ... -m qaq_datasets.cli score ... --distributed` (gloo, CPU): two processes, two single-process
"machines" on loopback, and accelerate launch each write the folder of one process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runner_helpers import (
    assert_same_rows, free_port, make_dataset, run_ok, scored_of, scorers_for, subprocess_env, torchrun_cmd,
)

from qaq_datasets.checks import check_fn
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
    """The same scoring in one process, through the Python API."""
    from datasets import load_from_disk

    out = tmp_path_factory.mktemp("single") / "out"
    checks = check_fn(question=["instruction", "input"])  # the CLI writes the text checks' columns too
    run_sharded(load_from_disk(str(data_dir)), {**scorers_for(tiny_model_dir), "text_checks": checks}, out,
                shard_rows=SHARD_ROWS)
    return scored_of(out)


def cli_args(data_dir, out, model):
    return ["-m", "qaq_datasets.cli", "score", data_dir, "--out", out, "--model", f"strong={model}",
            "--model", f"weak={model}", "--question", "instruction", "--question", "input", "--dtype", "float32",
            "--shard-rows", SHARD_ROWS, "--distributed"]


def check(out, stdouts, single):
    text = "\n".join(stdouts)
    assert f"{ROWS} rows scored (strong: " in text  # rank 0 wrote the folder after the barrier
    assert "rank 1/2: scored shards 1, 3, 5, 7" in text  # shard i on rank i % 2
    assert_same_rows(scored_of(out), single)
    assert not (out / "run" / "shards").exists()


def test_torchrun_two_processes_equals_one(data_dir, tiny_model_dir, single, tmp_path):
    out = tmp_path / "out"
    proc = run_ok(torchrun_cmd("--nnodes=1", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                               f"--master_port={free_port()}", *cli_args(data_dir, out, tiny_model_dir)))
    check(out, [proc.stdout], single)


def test_two_machines_on_loopback_equal_one_process(data_dir, tiny_model_dir, single, tmp_path):
    out, port = tmp_path / "out", free_port()
    procs = [subprocess.Popen(torchrun_cmd("--nnodes=2", f"--node_rank={node}", "--nproc_per_node=1",
                                           "--master_addr=127.0.0.1", f"--master_port={port}",
                                           *cli_args(data_dir, out, tiny_model_dir)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
             for node in (0, 1)]
    try:
        results = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (o, e) in zip(procs, results):
        assert p.returncode == 0, f"{o[-2000:]}\n{e[-5000:]}"
    check(out, [o for o, _ in results], single)


def test_accelerate_launch_goes_through_the_same_cli(data_dir, tiny_model_dir, single, tmp_path):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate's launcher is not installed")
    out = tmp_path / "out"
    # --multi_gpu is accelerate's torch.distributed launcher; with no GPU the ranks score on CPU (gloo barrier)
    proc = run_ok([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()), "--mixed_precision", "no",
                   "--dynamo_backend", "no", *map(str, cli_args(data_dir, out, tiny_model_dir))])
    check(out, [proc.stdout], single)
