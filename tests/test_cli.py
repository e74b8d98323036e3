"""The `qaq` command line, end to end on tiny local models (score → select → publish --dry-run)."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset

from qaq_datasets.cli import main
from qaq_datasets.publishing import load_scored, save_folder

ROWS = [
    {"instruction": "Write a Python function that returns the sum of a list.", "input": "",
     "output": "def total(xs):\n    return sum(xs)"},
    {"instruction": "How do I reverse a string?", "input": "s = 'abc'", "output": "s[::-1]"},
    {"instruction": "Create a SQL query that selects all rows from the users table.", "input": "",
     "output": "SELECT * FROM users;"},
    {"instruction": "Add two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
] * 6


@pytest.fixture()
def data_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(dict(r, id=i)) for i, r in enumerate(ROWS)))
    return path


@pytest.fixture(scope="module")
def second_model_dir(tiny_tokenizer, tmp_path_factory):
    from fixtures_models import build_model

    folder = tmp_path_factory.mktemp("tiny_model_2")
    build_model(tiny_tokenizer, seed=1).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return str(folder)


def test_score_select_publish_dry_run(data_file, tmp_path, tiny_model_dir, second_model_dir, capsys):
    out = tmp_path / "scored"
    main(["score", str(data_file), "--out", str(out), "--question", "instruction", "--question", "input",
          "--model", f"strong={second_model_dir}", "--model", f"weak={tiny_model_dir}", "--dtype", "float32"])
    scored = load_dataset(str(out), "scored", split="train")
    assert len(scored) == len(ROWS)
    assert scored["id"] == list(range(len(ROWS)))  # other columns pass through, order kept
    for p in ("strong_", "weak_"):
        assert set(scored[p + "status"]) == {"ok"}
        assert all(x == x for x in scored[p + "rmi"])  # no NaN
    assert scored["strong_rmi"] != scored["weak_rmi"]

    sel = tmp_path / "selected"
    main(["select", str(out), "--out", str(sel), "--plan", "gap", "--fraction", "0.5"])
    curated = load_dataset(str(sel), "curated", split="train")
    assert len(curated) == len(ROWS) // 2
    report = json.loads((sel / "qaq_report.json").read_text())
    assert report["rows_kept"] == len(curated) and report["rows_in"] == len(ROWS)
    assert (sel / "qaq_plan.yaml").exists()
    # a plan that reads a text column as a number: its own message, not the hint to name the models
    (bad := tmp_path / "bad_plan.yaml").write_text("steps:\n- step: typical\n  profile:\n    weak_status: [1, 1]\n")
    err = _one_line_error(capsys, ["select", str(out), "--out", str(tmp_path / "bad"), "--plan", str(bad)])
    assert "needs a numeric column, but 'weak_status' has type" in err and "name the models" not in err

    hub = tmp_path / "hub"
    main(["publish", str(out), "me/tiny", "--selection", str(sel), "--dry-run", str(hub)])
    again = load_dataset(str(hub), "curated", split="train")
    assert sorted(again["id"]) == sorted(curated["id"])


def test_default_plan_checks_the_text_columns_the_scores_were_made_from(tmp_path, tiny_model_dir, second_model_dir,
                                                                        capsys):
    path = tmp_path / "rows.jsonl"
    rows = [{"task": r["instruction"], "solution": r["output"]} for r in ROWS]
    rows[0]["solution"] = "\n".join(["s = s[::-1]"] * 12)  # a looping answer
    path.write_text("\n".join(json.dumps(r) for r in rows))
    main(["score", str(path), "--out", str(tmp_path / "scored"), "--question", "task", "--answer", "solution",
          "--model", f"strong={second_model_dir}", "--model", f"weak={tiny_model_dir}", "--dtype", "float32"])
    scored, meta = load_scored(tmp_path / "scored", split="train")
    assert scored["check_looping"][:2] == [True, False]  # qaq score writes the text checks' columns
    assert meta["checks"]["looping"]["min_count"] == 4  # and their thresholds, in the qaq: block
    main(["select", str(tmp_path / "scored"), "--out", str(tmp_path / "sel")])
    report = json.loads((tmp_path / "sel" / "qaq_report.json").read_text())
    step = next(s for s in report["steps"] if s["params"].get("column") == "check_looping")
    assert step["dropped"] == {"looping": 1}
    assert "computing the text checks" not in capsys.readouterr().out
    # rows scored without them (an older release, another tool): qaq select computes them from the scorers' columns
    save_folder(tmp_path / "old", {"scored": scored.remove_columns([c for c in scored.column_names
                                                                  if c.startswith("check_")])},
                {k: v for k, v in meta.items() if k != "checks"})
    main(["select", str(tmp_path / "old"), "--out", str(tmp_path / "sel_old")])
    assert "computing the text checks looping, missing_code" in capsys.readouterr().out
    report = json.loads((tmp_path / "sel_old" / "qaq_report.json").read_text())
    assert report["drop_reasons"]["looping"] == 1
    from huggingface_hub import DatasetCard

    block = DatasetCard.load(tmp_path / "sel_old" / "README.md").data.qaq
    assert block["checks"]["looping"]["min_count"] == 4  # the block says how the columns it holds were made


def test_missing_column_fails_before_loading(data_file, tmp_path, tiny_model_dir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score", str(data_file), "--out", str(tmp_path / "x"), "--answer", "response",
              "--model", "weak=tests-never-loaded/model-id"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'response'" in err and "instruction" in err and "output" in err


@pytest.mark.parametrize("args,needle", [
    (["--model", "weak"], "NAME=SPEC"),
    (["--model", "weak=no-such-alias"], "smollm2-135m"),
    (["--model", "a=x/y", "--model", "a=x/z"], "twice"),
    (["--template", "fancy", "--model", "weak=x/y"], "template"),
])
def test_bad_configuration(data_file, tmp_path, capsys, args, needle):
    with pytest.raises(SystemExit) as exc:
        main(["score", str(data_file), "--out", str(tmp_path / "x"), *args])
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_select_unknown_plan(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["select", str(tmp_path), "--out", str(tmp_path / "o"), "--plan", "nope"])
    assert "default" in capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"), "--model", "w=x/y"])
    assert exc.value.code == 2 and "does not exist" in capsys.readouterr().err


def _one_line_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("argv,needle", [
    (["select"], "scored_dir"),
    (["score", "x.jsonl", "--bogus"], "--bogus"),
    (["select", "d", "--out", "o", "--fraction", "abc"], "--fraction"),
    (["score", "x.jsonl", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["score", "x.jsonl", "--out", "o", "--num-proc", "-3"], "--num-proc"),
])
def test_usage_errors_are_one_line_exit_2(capsys, argv, needle):
    assert needle in _one_line_error(capsys, argv)


def test_no_arguments_prints_help_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "score" in out.out + out.err


@pytest.mark.parametrize("out,needle", [("", "must name a folder"), ("A_FILE", "is a file")])
def test_bad_out_refused_before_any_work(data_file, tmp_path, capsys, out, needle):
    if out == "A_FILE":
        out = str(tmp_path / "a_file")
        (tmp_path / "a_file").write_text("x")
    # the model spec would fail if anything got as far as resolving it
    err = _one_line_error(capsys, ["score", str(data_file), "--out", out, "--model", "w=no-such-alias"])
    assert needle in err
    assert needle in _one_line_error(capsys, ["select", str(tmp_path), "--out", out])


@pytest.mark.parametrize("content,needle", [
    (b"", "is empty"),
    (b'{"instruction": "a", "output": "b"}\n{"instruction": "c", "output"\n', "line 2 is not valid JSON"),
    (b'{"instruction": "a", "output": "b"}\n{"instruction": "caf\xe9", "output": "b"}\n', "line 2 is not UTF-8"),
])
def test_bad_input_files_are_one_line_naming_the_file(tmp_path, capsys, content, needle):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    err = _one_line_error(capsys, ["score", str(path), "--out", str(tmp_path / "o"), "--model", "w=x/y"])
    assert needle in err and "rows.jsonl" in err


@pytest.mark.parametrize("source", ["./missing_folder", "missing_folder/", "data/typo", "typo.jsonl", "me/a..b",
                                    "me/" + "x" * 100, "org/-name"])
def test_a_missing_local_path_is_never_sent_to_the_hub(tmp_path, capsys, monkeypatch, source):
    import datasets

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail(f"sent to the Hub: {a}"))
    err = _one_line_error(capsys, ["score", source,
                                   "--out", "o", "--model", "w=x/y"])
    assert "does not exist" in err


def test_one_non_text_cell_flags_its_row_not_the_file(tmp_path, tiny_model_dir):
    path = tmp_path / "rows.jsonl"
    rows = [{"instruction": "Add two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
            {"instruction": "Double it.", "input": 5, "output": "def double(x):\n    return 2 * x"},
            {"instruction": "Negate it.", "input": "x = 1", "output": "-x"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "scored"
    main(["score", str(path), "--out", str(out), "--question", "instruction", "--question", "input",
          "--model", f"weak={tiny_model_dir}", "--dtype", "float32"])
    scored = load_dataset(str(out), "scored", split="train")
    assert scored["weak_status"] == ["ok", "not_a_string", "ok"]


@pytest.fixture(scope="module")
def one_model_scored(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("one_model")
    path = folder / "rows.jsonl"
    path.write_text("\n".join(json.dumps(dict(r, id=i)) for i, r in enumerate(ROWS)))
    main(["score", str(path), "--out", str(folder / "scored"), "--question", "instruction", "--answer", "output",
          "--model", f"weak={tiny_model_dir}", "--dtype", "float32"])
    return folder / "scored"


def test_select_on_a_folder_of_several_splits_but_no_train_is_one_line(one_model_scored, tmp_path, capsys):
    from datasets import DatasetDict

    scored, meta = load_scored(str(one_model_scored), split="train")
    save_folder(tmp_path / "two", {"scored": DatasetDict({"a": scored, "b": scored})}, meta)
    argv = ["select", str(tmp_path / "two"), "--out", str(tmp_path / "sel"), "--plan", "cherry", "--prefix", "weak"]
    assert "splits ['a', 'b']" in _one_line_error(capsys, argv)


@pytest.mark.parametrize("plan", ["sweet-spot", "cherry", "perplexity", "paper-band"])
def test_one_model_is_enough_for_single_model_presets(one_model_scored, tmp_path, plan):
    main(["select", str(one_model_scored), "--out", str(tmp_path / "sel"), "--plan", plan, "--fraction", "0.25"])
    report = json.loads((tmp_path / "sel" / "qaq_report.json").read_text())
    assert report["rows_in"] == len(ROWS) and report["rows_kept"] >= 1


def test_a_two_model_plan_on_one_model_names_the_plans_that_work(one_model_scored, tmp_path, capsys):
    err = _one_line_error(capsys, ["select", str(one_model_scored), "--out", str(tmp_path / "sel"), "--plan", "gap"])
    assert "sweet-spot" in err and "cherry" in err


def test_prefix_options_pick_the_columns(one_model_scored, tmp_path, capsys):
    main(["select", str(one_model_scored), "--out", str(tmp_path / "a"), "--plan", "sweet-spot", "--prefix", "weak"])
    err = _one_line_error(capsys, ["select", str(one_model_scored), "--out", str(tmp_path / "b"), "--plan",
                                   "sweet-spot", "--prefix", "nope"])
    assert "nope_" in err


def test_an_unfilled_budget_is_said_on_the_terminal(one_model_scored, tmp_path, capsys):
    main(["select", str(one_model_scored), "--out", str(tmp_path / "sel"), "--plan", "cherry", "--fraction", "0.99"])
    report = json.loads((tmp_path / "sel" / "qaq_report.json").read_text())
    err = capsys.readouterr().err
    assert (report["shortfall"] > 0) == ("budget" in err and "not filled" in err)
    assert report["shortfall"] > 0  # IFD > 1 rows are dropped first, so 99% cannot be filled


def test_score_finds_the_columns_and_says_which(tmp_path, tiny_model_dir, capsys):
    path = tmp_path / "chats.jsonl"
    rows = [{"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
            for r in ROWS[:4]] + [{"messages": [{"role": "user", "content": "no answer"}]}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    main(["score", str(path), "--out", str(tmp_path / "scored"), "--model", f"weak={tiny_model_dir}"])
    assert "messages" in capsys.readouterr().out
    scored = load_dataset(str(tmp_path / "scored"), "scored", split="train")
    assert scored["weak_status"] == ["ok"] * 4 + ["no_assistant_turn"]


def test_messages_and_question_options_together_are_refused(data_file, tmp_path, capsys):
    err = _one_line_error(capsys, ["score", str(data_file), "--out", str(tmp_path / "o"), "--messages", "m",
                                   "--question", "instruction", "--model", "w=x/y"])
    assert "messages= names one column of conversations; it does not go with question=/answer=" in err


def test_an_unreachable_hub_dataset_is_one_line(tmp_path, capsys, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'some_name' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    err = _one_line_error(capsys, ["score", "some_name", "--out", "o", "--model", "w=x/y"])
    assert "some_name" in err and "Hub" in err


@pytest.mark.parametrize("fraction", ["inf", "1.5", "nan", "-1", "0", "1e400"])
def test_fraction_is_a_fraction_or_a_whole_row_count(tmp_path, capsys, fraction):
    err = _one_line_error(capsys, ["select", str(tmp_path / "never-read"), "--out", str(tmp_path / "o"),
                                   "--fraction", fraction])
    assert "--fraction must be a fraction of the rows in (0, 1] or a whole row count > 1" in err


@pytest.fixture(scope="module")
def ab_scored(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("ab")
    (folder / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    main(["score", str(folder / "rows.jsonl"), "--out", str(folder / "scored"), "--question", "instruction",
          "--answer", "output", "--model", f"a={tiny_model_dir}", "--model", f"b={tiny_model_dir}", "--dtype",
          "float32"])
    return folder / "scored"


def test_select_on_scorers_of_other_names_suggests_strong_and_weak(ab_scored, tmp_path, capsys):
    err = _one_line_error(capsys, ["select", str(ab_scored), "--out", str(tmp_path / "sel")])
    assert "strong_ and weak_ columns" in err and "a_, b_" in err and "--strong a_ --weak b_" in err
    err = _one_line_error(capsys, ["select", str(ab_scored), "--out", str(tmp_path / "sel"), "--plan", "cherry"])
    assert "reads strong_ columns" in err and "--prefix a_" in err
    main(["select", str(ab_scored), "--out", str(tmp_path / "sel"), "--strong", "a_", "--weak", "b_"])
    assert json.loads((tmp_path / "sel" / "qaq_report.json").read_text())["rows_in"] == len(ROWS)


@pytest.mark.parametrize("args", [["--question", "output", "--answer", "output"], ["--question", "output"],
                                  ["--question", "instruction", "--question", "instruction"]])
def test_a_column_named_twice_is_refused(data_file, tmp_path, capsys, args):
    err = _one_line_error(capsys, ["score", str(data_file), "--out", str(tmp_path / "o"), *args,
                                   "--model", "w=tests-never-loaded/model-id"])
    assert "named twice" in err


@pytest.mark.parametrize("name", ["é", "_x", "a-b"])
def test_a_model_name_must_make_a_safe_prefix(data_file, tmp_path, capsys, name):
    err = _one_line_error(capsys, ["score", str(data_file), "--out", str(tmp_path / "o"), "--model", f"{name}=x/y"])
    assert "is not a scorer prefix" in err


@pytest.mark.parametrize("args", [["--split", "test"], ["--config", "c1"]])
def test_split_or_config_of_one_data_file_is_refused(data_file, tmp_path, capsys, args):
    err = _one_line_error(capsys, ["score", str(data_file), "--out", str(tmp_path / "o"), *args,
                                   "--model", "w=tests-never-loaded/model-id"])
    assert "rows.jsonl has the splits train and no configs: pick one of them with --split" in err


def test_a_folder_of_several_configs_names_them_and_config_picks_one(tmp_path, capsys, tiny_model_dir):
    folder = tmp_path / "multi"
    for name in ("c1", "c2"):
        (folder / name).mkdir(parents=True)
        (folder / name / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS[: 2 + len(name)]))
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: c1\n  data_files: c1/*.jsonl\n"
                                      "- config_name: c2\n  data_files: c2/*.jsonl\n---\n")
    args = ["score", str(folder), "--out", str(tmp_path / "o"), "--model", f"w={tiny_model_dir}", "--dtype", "float32"]
    assert "the available configs: ['c1', 'c2'] (with --config)" in _one_line_error(capsys, args)
    main([*args, "--config", "c2"])
    assert len(load_dataset(str(tmp_path / "o"), "scored", split="train")) == 4


def _empty_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"instruction": pa.array([], pa.string()), "output": pa.array([], pa.string())}), path)


@pytest.mark.parametrize("name,content", [("rows.jsonl", "\n\n"), ("rows.json", "[]"),
                                          ("rows.csv", "instruction,output\n"), ("rows.parquet", None)])
def test_an_input_without_rows_is_one_line_of_ours(tmp_path, capsys, name, content):
    path = tmp_path / name
    _empty_parquet(path) if content is None else path.write_text(content)
    err = _one_line_error(capsys, ["score", str(path), "--out", str(tmp_path / "o"), "--model", "w=x/y"])
    assert err.endswith(f"{name}: it holds no rows.") and "Instruction" not in err


def test_a_messages_column_of_mixed_cells_flags_its_bad_rows_only(tmp_path, tiny_model_dir):
    turns = [{"role": "user", "content": "Add two numbers."}, {"role": "assistant", "content": "a + b"}]
    cells = [{"role": "user", "content": "a dict"}, turns, None, turns, {"role": "user"}]
    (tmp_path / "chats.jsonl").write_text("\n".join(json.dumps({"messages": m}) for m in cells))
    main(["score", str(tmp_path / "chats.jsonl"), "--out", str(tmp_path / "o"), "--model", f"w={tiny_model_dir}",
          "--batch-size", "1"])
    scored = load_dataset(str(tmp_path / "o"), "scored", split="train")
    assert scored["w_status"] == ["bad_messages", "ok", "bad_messages", "ok", "bad_messages"]


@pytest.mark.parametrize("argv,needle", [(["--rows", "-3"], "--rows"), (["--rows", "0"], "--rows"),
                                         (["--broken", "-1"], "--broken"), (["--out", "A_FILE"], "is a file")])
def test_demo_refuses_bad_options_before_any_model_loads(tmp_path, capsys, monkeypatch, argv, needle):
    import qaq_datasets.demo as demo

    monkeypatch.setattr(demo, "demo_dataset", lambda *a, **k: pytest.fail("the demo went on"))
    (tmp_path / "a_file").write_text("x")
    argv = [str(tmp_path / "a_file") if a == "A_FILE" else a for a in argv]
    assert needle in _one_line_error(capsys, ["demo", *argv])


@pytest.mark.parametrize("kwargs,error", [({"n_clean": -3}, "n_clean"), ({"n_clean": 0}, "n_clean"),
                                          ({"n_each_defect": -1}, "n_each_defect"), ({"n_clean": 2.5}, "n_clean")])
def test_demo_dataset_refuses_bad_counts(kwargs, error):
    from qaq_datasets.demo import demo_dataset
    from qaq_datasets.errors import QAQError

    with pytest.raises(QAQError, match=error):
        demo_dataset(**kwargs)


def test_a_saved_dataset_split_is_picked_or_refused_in_one_line(tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    rows = Dataset.from_list(ROWS[:4])
    rows.save_to_disk(str(tmp_path / "one"))
    DatasetDict({"train": rows, "dev": rows}).save_to_disk(str(tmp_path / "two"))
    base = ["--out", str(tmp_path / "o"), "--model", "w=tests-never-loaded/model-id"]
    assert "has the splits train and no configs: pick one of them with --split (not 'dev')" in _one_line_error(
        capsys, ["score", str(tmp_path / "one"), *base, "--split", "dev"])
    err = _one_line_error(capsys, ["score", str(tmp_path / "two"), *base, "--split", "test"])
    assert "has the splits train, dev and no configs: pick one of them with --split (not 'test')" in err


def test_demo_runs_end_to_end_on_tiny_models(tmp_path, tiny_model_dir, second_model_dir, capsys, monkeypatch):
    import qaq_datasets.selection as qs
    from qaq_datasets.demo import run_demo

    # random tiny models: the default plan may keep no row (and publish refuses that), so the demo keeps half
    monkeypatch.setattr(qs, "preset", lambda name: qs.Selector().score("strong_rmi").keep_top(0.5))
    got = run_demo(tmp_path / "demo", n_clean=14, n_each_defect=2, strong=second_model_dir, weak=tiny_model_dir,
                   dtype="float32")
    out = capsys.readouterr().out
    assert "20 rows, both models:" in out and "Default selection" in out
    assert {name: sum(s["status"].values()) for name, s in got["stats"].items()} == {"strong": 20, "weak": 20}
    scored = load_dataset(got["scored_dir"], "scored", split="train")
    assert len(scored) == 20 and set(scored["strong_status"]) <= {"ok", "truncated"}
    assert (tmp_path / "demo" / "hub" / "README.md").is_file()


def test_plain_score_says_what_it_scored_in_one_line(data_file, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "o"
    main(["score", str(data_file), "--out", str(out), "--model", f"w={tiny_model_dir}", "--question", "instruction",
          "--dtype", "float32"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"{len(ROWS)} rows scored (w: {{'ok': {len(ROWS)}}}) in ")
    assert last.endswith(f"; wrote {out}")
    assert "tokens/s)" in last
