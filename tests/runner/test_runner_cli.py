"""`qaq score --shard-rows`: an interrupted run is resumed by the same command even without --shard-rows (never
bypassed by the plain path), and another scorer on the same --out is refused with one line."""

from __future__ import annotations

import pytest
from runner_helpers import assert_same_rows, make_dataset, scored_of, scorers_for

from qaq_datasets.checks import check_fn
from qaq_datasets.cli import main
from qaq_datasets.runner import run_sharded
from qaq_datasets.scoring import MultiScorer

ROWS = 30


def test_rerun_without_shard_rows_resumes_the_interrupted_run(tiny_model_dir, tmp_path, monkeypatch, capsys):
    data, out = tmp_path / "data.jsonl", tmp_path / "out"
    make_dataset(ROWS).to_json(str(data))
    args = ["score", str(data), "--out", str(out), "--model", f"strong={tiny_model_dir}", "--model",
            f"weak={tiny_model_dir}", "--question", "instruction", "--question", "input", "--dtype", "float32",
            "--batch-size", "4"]
    real, rows = MultiScorer.__call__, []

    def counting(self, batch):
        if stop_after is not None and sum(rows) >= stop_after:
            raise KeyboardInterrupt
        rows.append(len(batch["output"]))
        return real(self, batch)

    monkeypatch.setattr(MultiScorer, "__call__", counting)
    stop_after = 12  # shards of 6 rows: two finished, then Ctrl-C
    try:
        main([*args, "--shard-rows", "7"])
    except SystemExit as exc:  # Ctrl-C: the CLI's exit status is its business, not this test's
        assert exc.code == 130
    assert sum(rows) == 12 and sorted(p.name for p in out.iterdir()) == [".qaq.lock", "run"]

    with pytest.raises(SystemExit) as exc:  # another scorer on the same --out: refused with one line
        main([*args, "--max-length", "64"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {out} holds a run with other scorers")

    stop_after, rows[:] = None, []
    main(args)  # the same command without --shard-rows: resumes with the run's five shards
    assert sum(rows) == ROWS - 12  # the two finished shards came from their cache files
    assert f"{ROWS} rows scored" in capsys.readouterr().out
    reference = tmp_path / "reference"
    checks = check_fn(question=["instruction", "input"])  # qaq score writes the text checks' columns too
    run_sharded(make_dataset(ROWS), {**scorers_for(tiny_model_dir), "text_checks": checks}, reference, shard_rows=7,
                batch_size=4)
    assert "check_looping" in scored_of(out).column_names
    assert_same_rows(scored_of(out), scored_of(reference))


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_plain_runs_take_the_folder_lock_and_a_refused_sharded_run_leaves_nothing(tiny_model_dir, tmp_path, capsys):
    from qaq_datasets.runner import out_lock

    data, out = tmp_path / "data.jsonl", tmp_path / "out"
    make_dataset(8).to_json(str(data))
    args = ["score", str(data), "--out", str(out), "--model", f"weak={tiny_model_dir}", "--question", "instruction",
            "--dtype", "float32"]
    with out_lock(out):  # another command is writing this folder
        with pytest.raises(SystemExit) as exc:
            main(args)
    assert exc.value.code == 2 and "in use by another qaq score command" in capsys.readouterr().err
    main(args)
    before = _tree(out)
    with pytest.raises(SystemExit) as exc:
        main([*args, "--shard-rows", "4"])
    assert exc.value.code == 2 and "already holds files and no sharded run" in capsys.readouterr().err
    assert _tree(out) == before  # no run/shards, no manifest
