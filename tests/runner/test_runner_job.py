"""run_sharded_job: what `qaq score --shard-rows N` runs; its folder reads like an unsharded `qaq score` folder."""

from __future__ import annotations

from runner_helpers import assert_same_rows, make_dataset

import qaq_datasets as qaq
from qaq_datasets.runner import run_sharded_job


def test_job_writes_the_cli_folder_and_resumes(tiny_model_dir, tmp_path):
    ds = make_dataset(20)
    scorers = {name: qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"],
                                  prefix=f"{name}_", device_map="cpu") for name in ("strong", "weak")}
    lines = []
    run = run_sharded_job(ds, scorers, tmp_path / "out", shard_rows=6, source="unit-test", progress=False,
                          echo=lines.append)
    assert run.shards_scored == [0, 1, 2, 3] and "20 rows scored" in lines[-1]
    scored, metadata = qaq.load_scored(str(tmp_path / "out"))
    scored = scored["train"] if hasattr(scored, "keys") else scored
    assert_same_rows(scored, run.dataset)
    assert set(metadata["scorers"]) == {"strong", "weak"} and metadata.get("source") == "unit-test"
    again = run_sharded_job(ds, scorers, tmp_path / "out", progress=False, echo=None)
    assert again.shards_scored == [] and again.shards_skipped == [0, 1, 2, 3]
