"""run_sharded: same rows as Dataset.map, resume skips verified shards, refuses to mix two runs, merges in order."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest
from datasets import Dataset, load_from_disk
from runner_helpers import assert_same_rows, make_dataset, make_rows

import qaq_datasets as qaq
from qaq_datasets.errors import ColumnError, ConfigError
from qaq_datasets.runner import (
    IncompleteRunError, ResumeMismatchError, ShardPlan, merge, run_sharded, status,
)
from qaq_datasets.runner.manifest import shard_path


@pytest.fixture(scope="module")
def scorers(tiny_model_dir):
    return {"strong": qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"],
                                   prefix="strong_", device_map="cpu"),
            "weak": qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"],
                                 prefix="weak_", template="raw", device_map="cpu")}


@pytest.fixture(scope="module")
def reference(scorers):
    ds = make_dataset(30)
    return ds.map(scorers["strong"], batched=True, load_from_cache_file=False).map(
        scorers["weak"], batched=True, load_from_cache_file=False)


def test_plan_is_contiguous_and_deterministic():
    p = ShardPlan.make(10, shard_rows=4)
    assert [p.bounds(i) for i in range(p.num_shards)] == [(0, 4), (4, 8), (8, 10)]
    q = ShardPlan.make(10, num_shards=3)  # the split of Dataset.shard(3, i, contiguous=True)
    ds = Dataset.from_dict({"x": list(range(10))})
    assert [q.bounds(i) for i in range(3)] == [(s["x"][0], s["x"][-1] + 1)
                                                for s in (ds.shard(3, i, contiguous=True) for i in range(3))]
    assert p.owned(1, 2) == [1] and ShardPlan.make(0).num_shards == 0
    assert ShardPlan.from_dict(q.to_dict()) == q
    with pytest.raises(ConfigError):
        ShardPlan.make(10, shard_rows=4, num_shards=2)
    with pytest.raises(ConfigError):
        ShardPlan.make(10, shard_rows=0)


def test_equals_map_and_writes_the_layout(scorers, reference, tmp_path):
    run = run_sharded(make_dataset(30), scorers, tmp_path / "run", shard_rows=7, batch_size=4, progress=False)
    assert run.num_shards == 5 and run.shards_scored == [0, 1, 2, 3, 4] and run.shards_skipped == []
    assert_same_rows(run.dataset, reference, exact=False)
    assert run.dataset.features == reference.features
    assert run.statuses == {"strong": {"ok": 29, "empty_answer": 1}, "weak": {"ok": 29, "empty_answer": 1}}
    out = tmp_path / "run"
    assert_same_rows(pq.read_table(out / "scored.parquet"), run.dataset)
    assert_same_rows(load_from_disk(str(out / "scored")), run.dataset)
    assert Dataset.from_parquet(str(out / "scored.parquet")).features == reference.features
    marker = json.loads(shard_path(out, 1, ".done").read_text())
    assert (marker["start"], marker["end"], marker["rows"]) == (7, 14, 7)
    assert marker["statuses"]["strong"] == {"ok": 6, "empty_answer": 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 30 and summary["statuses"] == run.statuses
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"] == {"num_rows": 30, "shard_rows": 7, "num_shards": 5, "even_split": False}
    assert set(manifest["scorers"]) == {"strong", "weak"}
    assert not list((out / "shards").glob(".*"))  # no temp files left


def test_resume_skips_finished_shards_and_redoes_bad_ones(scorers, tmp_path):
    out = tmp_path / "run"
    ds = make_dataset(30)
    first = run_sharded(ds, scorers, out, shard_rows=7, progress=False)
    # a killed run's leftovers: one shard without marker, one with a corrupted file, a stray temp file
    shard_path(out, 1, ".done").unlink()
    p3 = shard_path(out, 3, ".parquet")
    p3.write_bytes(p3.read_bytes()[:-10])
    (out / "shards" / ".shard-00004.parquet.999.tmp").write_bytes(b"partial")
    calls = []
    scorers["strong"].span_scorer.forward_hook = lambda seqs: calls.append(len(seqs))
    try:
        again = run_sharded(ds, scorers, out, progress=False)  # plan taken from the manifest
    finally:
        scorers["strong"].span_scorer.forward_hook = None
    assert again.shards_scored == [1, 3] and again.shards_skipped == [0, 2, 4]
    assert sum(calls) == 2 * 13  # two sequences per row, only shards 1 and 3 (14 rows, row 7 unscorable)
    assert_same_rows(again.dataset, first.dataset)
    assert again.statuses == first.statuses
    assert not list((out / "shards").glob(".*"))


def test_a_finished_run_is_not_scored_or_merged_again(scorers, tmp_path):
    out = tmp_path / "run"
    run_sharded(make_dataset(12), scorers, out, shard_rows=5, progress=False)
    mtime = (out / "scored.parquet").stat().st_mtime_ns
    again = run_sharded(make_dataset(12), scorers, out, shard_rows=5, progress=False)
    assert again.shards_scored == [] and again.shards_skipped == [0, 1, 2]
    assert (out / "scored.parquet").stat().st_mtime_ns == mtime
    assert len(again.dataset) == 12


def test_refuses_to_mix_runs(scorers, tiny_model_dir, tmp_path, monkeypatch):
    from qaq_datasets.runner import manifest, shards

    for mod in (manifest, shards):  # the dataset identity hashes the first rows; later ones are checked per shard
        monkeypatch.setattr(mod, "HEAD_ROWS", 5)
    out = tmp_path / "run"
    run_sharded(make_dataset(20), scorers, out, shard_rows=5, progress=False, merge=False)
    with pytest.raises(ResumeMismatchError, match="shard plan"):
        run_sharded(make_dataset(20), scorers, out, shard_rows=4, progress=False)
    with pytest.raises(ResumeMismatchError, match="20 rows"):
        run_sharded(make_dataset(21), scorers, out, shard_rows=5, progress=False)
    other = make_rows(20)
    other["instruction"][0] = "Something else entirely."
    with pytest.raises(ResumeMismatchError, match="different dataset"):
        run_sharded(Dataset.from_dict(other), scorers, out, shard_rows=5, progress=False)
    later = make_rows(20)
    later["output"][12] = "changed after the run started"  # in shard 2, already finished
    with pytest.raises(ResumeMismatchError, match="shard 2"):
        run_sharded(Dataset.from_dict(later), scorers, out, shard_rows=5, progress=False)
    changed = dict(scorers, weak=qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"],
                                              prefix="weak_", max_length=64, device_map="cpu"))
    with pytest.raises(ResumeMismatchError, match="other scorers"):
        run_sharded(make_dataset(20), changed, out, shard_rows=5, progress=False)
    with pytest.raises(ResumeMismatchError, match="other scorers"):
        run_sharded(make_dataset(20), scorers["strong"], out, shard_rows=5, progress=False)
    assert issubclass(ResumeMismatchError, ConfigError)


def test_ranks_split_the_shards_and_merge_waits_for_all(scorers, reference, tmp_path):
    out = tmp_path / "run"
    ds = make_dataset(30)
    r1 = run_sharded(ds, scorers, out, shard_rows=4, rank=1, world_size=3, progress=False)
    assert r1.shards_scored == [1, 4, 7] and r1.dataset is None
    r0 = run_sharded(ds, scorers, out, shard_rows=4, rank=0, world_size=3, progress=False)
    assert r0.shards_scored == [0, 3, 6] and r0.dataset is None  # rank 2's shards are missing
    assert status(out)["missing"] == [2, 5]
    with pytest.raises(IncompleteRunError, match="2 of 8 shards"):
        merge(out)
    run_sharded(ds, scorers, out, shard_rows=4, rank=2, world_size=3, progress=False)
    merged = merge(out)
    assert_same_rows(merged.dataset, reference, exact=False)
    assert merged.summary["statuses"]["weak"] == {"ok": 29, "empty_answer": 1}
    # the run can be finished with another world size: the shards are the unit, not the ranks
    assert run_sharded(ds, scorers, out, shard_rows=4, progress=False).shards_skipped == list(range(8))


def test_inputs_from_paths(scorers, reference, tmp_path):
    ds = make_dataset(30)
    ds.to_parquet(str(tmp_path / "in.parquet"))
    ds.to_json(str(tmp_path / "in.jsonl"))
    ds.save_to_disk(str(tmp_path / "in_folder"))
    for i, src in enumerate(("in.parquet", "in.jsonl", "in_folder")):
        run = run_sharded(str(tmp_path / src), scorers["strong"], tmp_path / f"out{i}", num_shards=3, progress=False)
        assert run.statuses == {"strong": {"ok": 29, "empty_answer": 1}}
        assert run.dataset["id"] == list(range(30))
        assert run.dataset["strong_rmi"][:5] == pytest.approx(reference["strong_rmi"][:5], abs=1e-6)


def test_bad_arguments(scorers, tmp_path):
    ds = make_dataset(5)
    with pytest.raises(ColumnError, match="prompt"):
        run_sharded(ds.rename_column("instruction", "prompt"), scorers, tmp_path / "a", progress=False)
    with pytest.raises(ColumnError, match="already has score column"):
        run_sharded(ds.add_column("strong_rmi", [0.0] * 5), scorers, tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="distinct prefixes"):
        run_sharded(ds, {"a": scorers["strong"], "b": scorers["strong"]}, tmp_path / "c", progress=False)
    with pytest.raises(ConfigError, match="rank"):
        run_sharded(ds, scorers, tmp_path / "d", rank=2, world_size=2, progress=False)
    with pytest.raises(TypeError):
        run_sharded(ds, {"a": "smollm2-135m"}, tmp_path / "e", progress=False)
    assert not (tmp_path / "a").exists()  # nothing written before the checks pass


def test_empty_dataset(scorers, tmp_path):
    ds = Dataset.from_dict({k: [] for k in make_rows(1)}, features=make_dataset(1).features)
    run = run_sharded(ds, scorers, tmp_path / "run", progress=False)
    assert run.num_shards == 0 and len(run.dataset) == 0
    assert "strong_rmi" in run.dataset.column_names


def test_progress_counts_finished_shards_as_done(scorers, tmp_path, monkeypatch):
    from qaq_datasets.runner import shards

    seen = []

    class Recorder(shards.Progress):
        def __init__(self, total, **kw):
            seen.append({"total": total, "initial": kw["initial"], "rows": 0, "tokens": 0})
            super().__init__(total, **kw)

        def update(self, rows, tokens=0):
            seen[-1]["rows"] += rows
            seen[-1]["tokens"] += tokens
            super().update(rows, tokens)

    monkeypatch.setattr(shards, "Progress", Recorder)
    out = tmp_path / "run"
    run_sharded(make_dataset(20), scorers, out, shard_rows=5, progress=True)
    shard_path(out, 2, ".done").unlink()
    run = run_sharded(make_dataset(20), scorers, out, shard_rows=5, progress=True)
    assert seen[0] == {"total": 20, "initial": 0, "rows": 20, "tokens": seen[0]["tokens"]}
    assert seen[1]["total"] == 20 and seen[1]["initial"] == 15 and seen[1]["rows"] == 5
    expected = sum(2 * (run.dataset[f"{p}q_tokens"][i] + run.dataset[f"{p}a_tokens"][i])
                   for p in ("strong_", "weak_") for i in range(10, 15))
    assert seen[1]["tokens"] == expected > 0
    assert not math.isnan(run.dataset["strong_rmi"][10])
