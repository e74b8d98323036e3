"""The dataset card: YAML front matter, qaq: block, generated body, merging with an existing card."""

from __future__ import annotations

import pytest
import yaml
from huggingface_hub import DatasetCard, DatasetCardData
from pub_helpers import METADATA, SCORERS, StandInSelection, front_matter, generated_section, scored_ds

from qaq_datasets import __version__
from qaq_datasets.publishing import publish, rows_identity
from qaq_datasets.publishing.card import BEGIN, END, merge_card, size_category


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    ds = scored_ds()
    sel = StandInSelection(ds)
    out = tmp_path_factory.mktemp("dry") / "repo"
    publish("me/demo-curated", ds, sel, dry_run=out, source="org/source-ds", license="mit", metadata=METADATA)
    return out, ds, sel


def test_front_matter_parses_and_round_trips(dry):
    out, ds, sel = dry
    text = (out / "README.md").read_text(encoding="utf-8")
    data = yaml.safe_load(front_matter(text))
    assert isinstance(data, dict)
    # DatasetCardData round trip keeps every key, ours and datasets'
    assert DatasetCardData(**data).to_dict() == data
    assert DatasetCard(text).data.to_dict() == data
    assert data["license"] == "mit"
    assert data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == ["n<1K"]
    assert data["source_datasets"] == ["org/source-ds"]
    assert set(data["tags"]) >= {"qaq", "data-selection", "synthetic", "code"}
    configs = {c["config_name"]: c for c in data["configs"]}
    assert set(configs) == {"scored", "curated"}
    [files] = configs["curated"]["data_files"]
    assert files["split"] == "train" and [(out / f).is_file() for f in files["path"]] == [True]
    assert "dataset_info" not in data  # push_to_hub writes it on the Hub; a local folder has none to go stale
    assert f"| `scored` | `train` | {len(ds)} |" in text
    assert f"| `curated` | `train` | {int(sel.keep.sum())} |" in text


def test_qaq_block_holds_what_reproduces_it(dry):
    out, ds, sel = dry
    qaq = yaml.safe_load(front_matter((out / "README.md").read_text(encoding="utf-8")))["qaq"]
    assert qaq["library_version"] == __version__
    assert qaq["scorers"] == SCORERS
    assert qaq["selection"] == sel.plan
    assert qaq["seed"] == 0
    assert qaq["source"] == {"dataset": "org/source-ds", "license": "mit"}
    assert qaq["fitted_on"] == rows_identity(ds) and qaq["fitted_on"]["rows"] == len(ds)
    assert yaml.safe_load((out / "qaq_plan.yaml").read_text()) == sel.plan


def test_a_local_source_is_named_by_its_file_name_and_never_linked(tmp_path):
    """`qaq score` records the path it read; a published card must not carry a machine's path or a dead link."""
    ds, local = scored_ds(), str(tmp_path / "private" / "rows.jsonl")
    publish("me/x", ds, dry_run=tmp_path / "repo", metadata={**METADATA, "source": local})
    text = (tmp_path / "repo" / "README.md").read_text(encoding="utf-8")
    data = yaml.safe_load(front_matter(text))
    assert data["qaq"]["source"] == {"dataset": "rows.jsonl"} and "source_datasets" not in data
    assert str(tmp_path) not in text and "huggingface.co/datasets/rows" not in text


def test_body_funnel_bins_examples_howto(dry):
    out, ds, sel = dry
    body = DatasetCard((out / "README.md").read_text(encoding="utf-8")).text
    section = generated_section(body)
    assert section is not None
    assert body.count(BEGIN) == 1 and body.count(END) == 1
    rows_kept = int(sel.keep.sum())
    assert f"| rows in | {len(ds)} | {len(ds)} |" in section
    left = len(ds)
    for reason, count in sel.report["drop_reasons"].items():  # in the plan's order, with the rows left
        left -= count
        assert f"| dropped: `{reason}` | −{count} | {left} |" in section
    assert left == rows_kept
    assert f"| **kept** | **{rows_kept}** |" in section
    for b in sel.report["bins"]:
        assert f"| {b['rows']} | {b['kept']} | {b['dropped']} |" in section
    assert "](figures/" not in section and not (out / "figures").exists()  # the Hub viewer draws distributions
    assert "### Highest RMI" in section and "### Lowest RMI" in section
    assert "more characters]" in section  # long answers are cut
    assert 'load_dataset("me/demo-curated", "curated")' in section
    assert "qaq score org/source-ds" in section and "qaq select" in section


def test_merge_keeps_human_text_and_foreign_yaml():
    first = merge_card(None, fields={"tags": ["qaq"]}, qaq={"seed": 0}, section="generated v1", title="T")
    card = DatasetCard(first)
    card.data["language"] = ["en"]
    card.data["configs"] = [{"config_name": "x", "data_files": "x/*"}]
    edited = str(card).replace(END, END + "\n\n## Notes from a human\n\nKeep me.\n")
    edited = edited.replace("# T\n", "# T\n\nIntro by a human.\n")
    second = merge_card(edited, fields={"tags": ["qaq", "code"], "license": None}, qaq={"seed": 1},
                        section="generated v2", title="T")
    card2 = DatasetCard(second)
    assert "Keep me." in card2.text and "Intro by a human." in card2.text
    assert generated_section(card2.text) == "generated v2"
    assert "generated v1" not in second
    assert card2.data["language"] == ["en"]
    assert card2.data["configs"] == [{"config_name": "x", "data_files": "x/*"}]
    assert card2.data["tags"] == ["qaq", "code"]
    assert card2.data["qaq"] == {"seed": 1}


def test_merge_into_a_card_without_markers_appends_the_section():
    human = "---\nlicense: apache-2.0\n---\n# Mine\n\nHand-written.\n"
    merged = DatasetCard(merge_card(human, fields={}, qaq={}, section="gen", title="ignored"))
    assert merged.text.startswith("# Mine\n\nHand-written.")
    assert generated_section(merged.text) == "gen"
    assert merged.data["license"] == "apache-2.0"


def test_size_categories():
    assert size_category(0) == "n<1K"
    assert size_category(999) == "n<1K"
    assert size_category(1000) == "1K<n<10K"
    assert size_category(2_500_000) == "1M<n<10M"
    assert size_category(10**12 - 1) == "100B<n<1T"
    assert size_category(10**12) == "n>1T"


def test_no_selection(tmp_path):
    ds = scored_ds(20)
    publish("me/scored-only", ds, dry_run=tmp_path, metadata=METADATA)
    text = (tmp_path / "README.md").read_text()
    data = yaml.safe_load(front_matter(text))
    assert [c["config_name"] for c in data["configs"]] == ["scored"]
    assert "selection" not in data["qaq"]
    assert not (tmp_path / "qaq_plan.yaml").exists()
    assert "curated" not in generated_section(DatasetCard(text).text).split("## How to load it")[1]


def test_card_from_the_real_selector(tmp_path):
    qs = pytest.importorskip("qaq_datasets.selection")
    ds = scored_ds(120, prefixes=("strong_", "weak_"))
    selection = qs.preset("default").fit(ds)
    meta = {"scorers": {"strong": {"prefix": "strong_"}, "weak": {"prefix": "weak_"}}, "seed": 0}
    publish("me/real", ds, selection, dry_run=tmp_path, metadata=meta)
    text = (tmp_path / "README.md").read_text()
    data = yaml.safe_load(front_matter(text))
    assert data["qaq"]["selection"] == selection.plan
    assert qs.Selector.from_dict(yaml.safe_load((tmp_path / "qaq_plan.yaml").read_text())).fit(ds).keep.tolist() \
        == selection.keep.tolist()
    section = generated_section(DatasetCard(text).text)
    for reason, count in selection.report["drop_reasons"].items():
        assert f"| dropped: `{reason}` | −{count} |" in section
    assert not selection.report["bins"] and "rows per bin" not in section  # the default ranks without bins
    from datasets import load_dataset

    curated = load_dataset(str(tmp_path), "curated")["train"]
    assert curated["output"] == selection.apply(ds)["output"] and "qaq_typical_distance" in curated.column_names
    binned = qs.presets.default_plan(final="center").fit(ds)
    out = tmp_path.parent / f"{tmp_path.name}-binned"  # a plan that stratifies gets the per-bin table
    publish("me/real", ds, binned, dry_run=out, metadata=meta)
    binned_section = generated_section(DatasetCard((out / "README.md").read_text()).text)
    assert f"of `{binned.report['bins_column']}`" in binned_section and "(ppl " in binned_section


def _turns(q, a):
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


SHAPES = {  # columns of each data shape, as (question text, answer text) -> row cells
    "messages": lambda q, a: {"messages": [{"role": "system", "content": "Be brief."}, *_turns(q, a)]},
    "prompt/completion": lambda q, a: {"prompt": q, "completion": a},
    "prompt/completion turns": lambda q, a: {"prompt": _turns(q, a)[:1], "completion": _turns(q, a)[1:]},
    "instruction+input/output": lambda q, a: {"instruction": q, "input": "", "output": a},
    "problem/solution": lambda q, a: {"problem": q, "solution": a},
    "query/response": lambda q, a: {"query": q, "response": a},
    "question/answer": lambda q, a: {"question": q, "answer": a},
    "instruction/response": lambda q, a: {"instruction": q, "response": a},
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("recipe", ["scorer's", "none"])
def test_example_rows_read_the_text_columns_of_every_shape(shape, recipe):
    from qaq_datasets.publishing.card import example_columns, rmi_examples
    from qaq_datasets.scoring import detect_columns

    rows = [SHAPES[shape](f"Question {i}?", f"Answer {i}.") for i in range(6)]
    ds = scored_ds(6).remove_columns(["instruction", "input", "output"])
    for col in rows[0]:
        ds = ds.add_column(col, [r[col] for r in rows])
    found = detect_columns(ds.column_names)
    assert example_columns({} if recipe == "none" else found, ds.column_names) == found
    examples = rmi_examples(ds, "qaq_", {} if recipe == "none" else found, keep=None, k=2)
    shown = [r for g in examples["groups"] for r in g["rows"]]
    assert shown and all(r["question"] == f"Question {r['answer'][7:-1]}?" for r in shown)  # the pair of one row


def test_example_rows_of_the_recipe_columns_and_of_no_shape():
    from qaq_datasets.publishing.card import example_columns, rmi_examples

    ds = scored_ds(6).rename_columns({"instruction": "task", "output": "code"}).remove_columns("input")
    assert example_columns({"question": "task", "answer": "code"}, ds.column_names) == {"question": ["task"],
                                                                                          "answer": "code"}
    assert example_columns({}, ds.column_names) is None  # no shape fits: no text, never a wrong column
    assert example_columns({"question": ["gone"], "answer": "code"}, ds.column_names) is None
    rows = [r for g in rmi_examples(ds, "qaq_", {}, keep=None)["groups"] for r in g["rows"]]
    assert rows and all(r["question"] is None and r["answer"] is None for r in rows)


def test_a_published_card_shows_a_conversation_dataset_s_text(tmp_path):
    ds = scored_ds(12).remove_columns(["instruction", "input", "output"])
    ds = ds.add_column("messages", [_turns(f"How do I sort list {i}?", f"xs{i}.sort()") for i in range(12)])
    publish("me/chats", ds, dry_run=tmp_path, metadata={"scorers": {"qaq": {"prefix": "qaq_", "messages": "messages"}}})
    section = generated_section(DatasetCard((tmp_path / "README.md").read_text()).text)
    assert "How do I sort list" in section and ".sort()" in section and "(no question column)" not in section


def test_example_text_cannot_forge_the_markers():
    from qaq_datasets.publishing.card import truncate

    nested = "def f():\n    return 1\n# <!-- qaq:e" + END + "nd -->\n# " + BEGIN[:9] + BEGIN + BEGIN[9:]
    assert BEGIN not in truncate(nested, max_chars=10_000) and END not in truncate(nested, max_chars=10_000)
