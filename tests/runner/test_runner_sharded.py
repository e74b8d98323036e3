"""run_sharded: the rows of Dataset.map, one copy at the end, resume from shard caches, never two runs mixed,
and a full disk that leaves nothing half-written under a final name."""

from __future__ import annotations

import errno
import re
import shutil

import pyarrow.parquet as pq
import pytest
from datasets import Dataset
from runner_helpers import assert_same_rows, make_dataset, make_rows, scored_of, scorers_for

import qaq_datasets as qaq
from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError, DiskFullError
from qaq_datasets.runner import has_run, run_sharded

ROWS = 30


class Stop(KeyboardInterrupt):
    """Ctrl-C in the middle of a shard."""


@pytest.fixture(scope="module")
def scorers(tiny_model_dir):
    sc = scorers_for(tiny_model_dir)
    sc["weak"] = qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"], prefix="weak_",
                              template="raw", device_map="cpu")
    return sc


@pytest.fixture(scope="module")
def reference(scorers):
    ds = make_dataset(ROWS)
    return ds.map(scorers["strong"], batched=True, load_from_cache_file=False).map(
        scorers["weak"], batched=True, load_from_cache_file=False)


@pytest.fixture()
def forward_calls(scorers):
    """Sequences per forward call of the strong scorer; the first call once ``limit[0]`` sequences ran raises Stop."""
    calls, limit = [], [None]

    def hook(seqs):
        if limit[0] is not None and sum(calls) >= limit[0]:
            raise Stop
        calls.append(len(seqs))

    scorers["strong"].span_scorer.forward_hook = hook
    yield calls, limit
    scorers["strong"].span_scorer.forward_hook = None


def scorable_rows(ds, n, shards) -> int:
    return sum(1 for i in shards for a in ds.shard(n, i, contiguous=True)["output"] if a)


def test_equals_map_writes_one_copy_and_a_finished_run_is_not_redone(scorers, reference, forward_calls, tmp_path):
    calls, _ = forward_calls
    out, lines = tmp_path / "out", []
    assert run_sharded(make_dataset(ROWS), scorers, out, shard_rows=7, batch_size=4, source="unit-test",
                       echo=lines.append) == out
    scored = scored_of(out)
    assert_same_rows(scored, reference, exact=False)
    assert scored.features == reference.features
    assert lines[-1].startswith(f"{ROWS} rows scored (strong: {{'ok': 29, 'empty_answer': 1}}; weak: ")
    _, metadata = qaq.load_scored(str(out), split="train")
    assert set(metadata["scorers"]) == {"strong", "weak"} and metadata["source"] == "unit-test"
    # one copy of the scored rows: the parquet of the scored folder; the shards' cache files are gone
    assert sum(pq.read_metadata(p).num_rows for p in out.rglob("*.parquet")) == ROWS
    assert not list(out.rglob("*.arrow")) and not (out / "run" / "shards").exists()
    assert has_run(out)
    calls.clear()
    assert run_sharded(make_dataset(ROWS), scorers, out, echo=lines.append) == out
    assert calls == [] and "already holds this finished run" in lines[-1]
    shutil.rmtree(out / "scored")  # the only copy of the rows: the same command scores them again
    run_sharded(make_dataset(ROWS), scorers, out, echo=lines.append)
    assert calls and f"{ROWS} rows scored" in lines[-1]
    assert_same_rows(scored_of(out), reference, exact=False)


def test_an_interrupted_run_resumes_from_its_shards_without_shard_rows(scorers, reference, forward_calls, tmp_path):
    calls, limit = forward_calls
    ds, out = make_dataset(ROWS), tmp_path / "out"
    limit[0] = 12  # shard 0: six rows, two sequences each; stops in shard 1
    with pytest.raises(Stop):
        run_sharded(ds, scorers, out, shard_rows=7, batch_size=4)
    shards = sorted((out / "run" / "shards").iterdir())
    assert [p.name[-20:] for p in shards] == ["00000-of-00005.arrow"]  # finished shards only: no temp file
    assert has_run(out) and sorted(p.name for p in out.iterdir()) == [".qaq.lock", "run"]
    limit[0], calls[:] = None, []
    run_sharded(ds, scorers, out, batch_size=4)  # no shard_rows: the run's own shard count
    assert sum(calls) == 2 * scorable_rows(ds, 5, range(1, 5))  # shard 0 came from its cache file
    assert_same_rows(scored_of(out), reference, exact=False)


def test_another_shard_count_dataset_or_scorer_is_refused(scorers, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    ds = make_dataset(12)
    run_sharded(ds, scorers, out, shard_rows=5)
    other = make_rows(12)
    other["output"][10] = "changed"  # same length and columns, other content
    changed = dict(scorers, weak=qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"],
                                              prefix="weak_", template="raw", max_length=64, device_map="cpu"))
    for args, what in (((ds, scorers), "another shard count (3; this command: 6)"),
                       ((Dataset.from_dict(other), scorers), "another dataset"), ((ds, changed), "other scorers"),
                       ((ds, scorers["strong"]), "other scorers")):
        with pytest.raises(ConfigError, match=re.escape(f"holds a run with {what}")) as exc:
            run_sharded(*args, out, shard_rows=2 if "shard" in what else None)
        assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="already holds files and no sharded run"):
        run_sharded(ds, scorers, tmp_path / "out" / "scored", shard_rows=5)
    assert not (tmp_path / "out" / "scored" / "run").exists()  # nothing left behind
    old = tmp_path / "old" / "run"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text('{"format": "qaq-sharded-run/1", "plan": {}}')  # the runner of 0.1.0
    with pytest.raises(ConfigError, match="written by another version of qaq"):
        run_sharded(ds, scorers, tmp_path / "old")
    manifest = (out / "run" / "manifest.json").read_text()
    for damaged in ("", "5", manifest.replace('"num_shards": 3', '"num_shards": "3"'),
                    manifest.replace('"num_shards": 3', '"num_shards": 0')):  # edited by hand: one line, no traceback
        (old / "manifest.json").write_text(damaged)
        with pytest.raises(ConfigError, match="written by another version of qaq, or damaged"):
            run_sharded(ds, scorers, tmp_path / "old")


def test_a_damaged_shard_is_scored_again(scorers, reference, forward_calls, tmp_path):
    calls, limit = forward_calls
    ds, out = make_dataset(ROWS), tmp_path / "out"
    limit[0] = 12  # stops in shard 1: shard 0 is finished
    with pytest.raises(Stop):
        run_sharded(ds, scorers, out, shard_rows=7, batch_size=4)
    [shard] = (out / "run" / "shards").iterdir()
    shard.write_bytes(shard.read_bytes()[:100])  # cut short, as a disk or a hand can leave it
    limit[0], calls[:] = None, []
    run_sharded(ds, scorers, out, batch_size=4)
    assert sum(calls) == 2 * scorable_rows(ds, 5, range(5))  # every shard scored, shard 0 again
    assert_same_rows(scored_of(out), reference, exact=False)


def test_full_disk_while_scoring_leaves_finished_shards_only(scorers, reference, monkeypatch, tmp_path):
    from datasets.arrow_writer import ArrowWriter

    real, writes = ArrowWriter.write_batch, []

    def write_batch(self, *args, **kwargs):
        writes.append(1)
        if len(writes) == 4:  # batches of 4 rows, shards of 6: the second batch of the second shard
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ArrowWriter, "write_batch", write_batch)
    out, ds = tmp_path / "out", make_dataset(ROWS)
    with pytest.raises(DiskFullError, match="No space left on the device") as exc:
        run_sharded(ds, scorers, out, shard_rows=7, batch_size=4)
    assert "\n" not in str(exc.value) and isinstance(exc.value, OSError)
    assert [p.name[-20:] for p in (out / "run" / "shards").iterdir()] == ["00000-of-00005.arrow"]
    assert sorted(p.name for p in out.iterdir()) == [".qaq.lock", "run"]
    monkeypatch.setattr(ArrowWriter, "write_batch", real)
    run_sharded(ds, scorers, out, batch_size=4)
    assert_same_rows(scored_of(out), reference, exact=False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the failed writer's __del__
def test_full_disk_while_writing_the_scored_folder_leaves_no_folder(scorers, reference, forward_calls, monkeypatch,
                                                                     tmp_path):
    calls, _ = forward_calls

    def write_table(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    out, ds = tmp_path / "out", make_dataset(ROWS)
    with pytest.raises(DiskFullError):
        run_sharded(ds, scorers, out, shard_rows=10)
    assert [p for p in out.rglob("*") if p.is_file() and p.parts[len(out.parts)] not in ("run", ".qaq.lock")] == []
    assert len(list((out / "run" / "shards").iterdir())) == 3  # the scored shards are kept
    monkeypatch.undo()
    calls.clear()
    run_sharded(ds, scorers, out)
    assert calls == []  # the re-run only wrote the folder
    assert_same_rows(scored_of(out), reference, exact=False)


def test_bad_arguments_are_refused_before_anything_is_written(scorers, monkeypatch, tmp_path):
    ds, out = make_dataset(5), tmp_path / "out"
    for kwargs, error, match in (
            ({"dataset": ds.rename_column("instruction", "prompt")}, ColumnError, "instruction"),
            ({"dataset": ds.add_column("strong_rmi", [0.0] * 5)}, ColumnError, "already has score column"),
            ({"scorers": {"a": scorers["strong"], "b": scorers["strong"]}}, ConfigError, "distinct prefixes"),
            ({"scorers": [scorers["strong"], scorers["strong"]]}, ConfigError, "distinct prefixes"),
            ({"scorers": {"a": "smollm2-135m"}}, ConfigTypeError, "qaq Scorers"),
            ({"shard_rows": 0}, ConfigError, "shard_rows"), ({"batch_size": True}, ConfigTypeError, "batch_size"),
            ({"dataset": ds.select([])}, ConfigError, "no rows")):
        args = {"dataset": ds, "scorers": scorers, **kwargs}
        with pytest.raises(error, match=match):
            run_sharded(args.pop("dataset"), args.pop("scorers"), out, **args)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="RANK < WORLD_SIZE"):
        run_sharded(ds, scorers, out, distributed=True)
    assert not out.exists()
