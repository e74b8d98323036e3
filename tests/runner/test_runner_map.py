"""Plain Dataset.map paths: num_proc workers (one model per worker, rank placement), the pickled recipe,
fingerprints across processes, and map-cache resume with one cache file per shard."""

from __future__ import annotations

import json
import pickle
import textwrap

import multiprocess
import pytest
from datasets import concatenate_datasets, load_from_disk
from runner_helpers import REPO, assert_same_rows, make_dataset, python_cmd, run_ok, subprocess_env

import qaq_datasets as qaq


@pytest.fixture()
def spawn():
    """The start method the datasets docs require with CUDA; set it as users do, restore it afterwards."""
    before = multiprocess.get_start_method(allow_none=True)
    multiprocess.set_start_method("spawn", force=True)
    yield
    multiprocess.set_start_method(before, force=True)


def spec_scorer(tiny_model_dir, **kw):
    return qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"], device_map="cpu", **kw)


@pytest.mark.slow
def test_num_proc_2_equals_num_proc_1(tiny_model_dir, spawn):
    ds = make_dataset(24)
    sc = spec_scorer(tiny_model_dir)
    one = ds.map(sc, batched=True, batch_size=4, load_from_cache_file=False)
    two = ds.map(sc, batched=True, batch_size=4, num_proc=2, with_rank=True, load_from_cache_file=False)
    assert_same_rows(two, one)  # bitwise: the same rows in the same batches, whichever worker ran them
    assert two.features == one.features


@pytest.mark.slow
def test_loaded_model_with_num_proc_warns_and_reloads_in_each_worker(tiny_model_dir, spawn, capfd):
    from qaq_datasets.models import load_model

    ds = make_dataset(8)
    loaded = qaq.score_fn(load_model(tiny_model_dir, dtype="float32", device_map="cpu"),
                          question=["instruction", "input"])
    assert loaded.from_loaded
    out = ds.map(loaded, batched=True, batch_size=4, num_proc=2, with_rank=True, load_from_cache_file=False)
    err = capfd.readouterr().err
    assert err.count("A scorer holding a loaded model was sent to another process") == 2  # once per worker
    ref = ds.map(spec_scorer(tiny_model_dir), batched=True, batch_size=4, load_from_cache_file=False)
    assert_same_rows(out, ref)


def test_scorer_pickles_to_a_small_recipe(tiny_model_dir):
    sc = spec_scorer(tiny_model_dir)
    sc({"instruction": ["Add two numbers."], "input": [""], "output": ["a + b"]})  # model loaded in this process
    blob = pickle.dumps(sc)
    assert len(blob) < 4096  # the recipe, never the weights
    back = pickle.loads(blob)
    assert back.fingerprint == sc.fingerprint and back._qaq_model is None  # the copy loads lazily


@pytest.mark.slow
def test_fingerprints_equal_across_processes_and_hash_seeds(tiny_model_dir):
    code = textwrap.dedent(f"""
        import json, pickle
        import qaq_datasets as qaq
        from datasets.fingerprint import Hasher
        sc = qaq.score_fn({tiny_model_dir!r}, dtype="float32", question=["instruction", "input"], device_map="cpu")
        w = qaq.score_fn({tiny_model_dir!r}, dtype="float32", prefix="weak_", template="raw", device_map="cpu")
        print(json.dumps([sc.fingerprint, Hasher.hash(sc), w.fingerprint, Hasher.hash(w), len(pickle.dumps(sc))]))
    """)
    seen = []
    for seed in ("0", "12345"):
        proc = run_ok(python_cmd("-c", code), env=subprocess_env(PYTHONHASHSEED=seed))
        seen.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert seen[0] == seen[1]
    from datasets.fingerprint import Hasher

    sc = spec_scorer(tiny_model_dir)
    assert seen[0][:2] == [sc.fingerprint, Hasher.hash(sc)]  # and equal to this process's
    assert seen[0][4] < 4096


def test_map_cache_resumes_per_shard(tiny_model_dir, tmp_path):
    """What run_sharded builds on: one map cache file per contiguous shard; a re-run loads the finished ones."""
    make_dataset(24).save_to_disk(str(tmp_path / "ds"))
    ds = load_from_disk(str(tmp_path / "ds"))
    n = 4

    def part(scorer, i):
        return ds.shard(n, i, contiguous=True).map(
            scorer, batched=True, cache_file_name=str(tmp_path / "cache" / f"{scorer.fingerprint}-{i:05d}.arrow"))

    first = spec_scorer(tiny_model_dir)
    for i in (0, 1):  # an interrupted run: two shards of four finished
        part(first, i)
    again = spec_scorer(tiny_model_dir)
    calls = []
    again.span_scorer.forward_hook = lambda seqs: calls.append(len(seqs))
    parts = [part(again, i) for i in range(n)]
    rows_scored = sum(2 for i in (2, 3) for a in ds.shard(n, i, contiguous=True)["output"] if a)
    assert sum(calls) == rows_scored  # shards 0 and 1 came from the cache
    whole = concatenate_datasets(parts)
    assert_same_rows(whole, ds.map(spec_scorer(tiny_model_dir), batched=True, load_from_cache_file=False),
                     exact=False)
    # and a plain second map with the same scorer hits datasets' own cache
    a = ds.map(first, batched=True)
    calls.clear()
    b = ds.map(again, batched=True)
    assert a.cache_files == b.cache_files and calls == []


def test_num_proc_after_an_unbatched_map_in_the_same_process_completes(tiny_model_dir, tmp_path):
    """A forked worker of a process whose torch threads ran would hang in its first forward pass: workers run torch
    on one thread, and each loads its own model (the parent's is not inherited)."""
    code = textwrap.dedent(f"""
        import json, os
        import multiprocess
        import qaq_datasets as qaq
        import qaq_datasets.models as models
        from runner_helpers import make_dataset

        multiprocess.set_start_method("fork", force=True)
        load = models.load_model
        def logged(*args, **kwargs):
            with open({str(tmp_path / "loads")!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            return load(*args, **kwargs)
        models.load_model = logged
        ds = make_dataset(8)
        kw = dict(dtype="float32", question=["instruction", "input"], device_map="cpu")
        one = ds.map(qaq.score_fn({tiny_model_dir!r}, **kw), load_from_cache_file=False)
        two = ds.map(qaq.score_fn({tiny_model_dir!r}, **kw), batched=True, batch_size=2, num_proc=2,
                     load_from_cache_file=False)
        print(json.dumps([os.getpid(), list(one["qaq_rmi"]), list(two["qaq_rmi"]), list(two["qaq_status"])]))
    """)
    env = subprocess_env(PYTHONPATH=f"{REPO}:{REPO / 'tests' / 'runner'}")
    parent, one, two, status = json.loads(run_ok(python_cmd("-c", code), timeout=90, env=env).stdout.splitlines()[-1])
    loads = (tmp_path / "loads").read_text().split()
    assert loads[0] == str(parent) and len(set(loads[1:])) == 2 and str(parent) not in loads[1:]
    assert status.count("ok") == 7 and one == pytest.approx(two, nan_ok=True, abs=1e-5)
