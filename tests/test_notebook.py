"""The walk-through notebook runs: executed top to bottom on a small scored file (tiny random models, no network).

The committed copy is also checked: valid, executed, with its figures, no errors and no absolute paths.
"""

import copy
import re
from pathlib import Path

import nbformat
import pytest
from datasets import Dataset
from nbclient import NotebookClient

import qaq_datasets as qaq
from fixtures_models import build_model

NB = Path(__file__).resolve().parents[1] / "notebooks" / "qaq_paper_figures.ipynb"
KINDS = ["misaligned", "echo", "paraphrase", "refusal", "truncated", "looping", "unparseable", "wrong_language"]


def _clean(k: int) -> dict:
    name = f"add_{k}"
    return {"instruction": f"Write a Python function {name} that returns the sum of {k} and its argument.",
            "input": "", "output": f"def {name}(x):\n    return x + {k}", "defect": "none"}


def _defect(kind: str, k: int, other: dict) -> dict:
    row = _clean(100 + k)
    q, a = row["instruction"], row["output"]
    row["defect"] = kind
    row["output"] = {
        "misaligned": other["output"],
        "echo": q,
        "paraphrase": f"You would like a Python function that gives back the total of {100 + k} and a value.",
        "refusal": "I'm sorry, but I cannot help with that request.",
        "truncated": a[: len(a) // 5],
        "looping": "\n".join([f"    return x + {k}"] * 8),
        "unparseable": a.replace(":", "", 1),
        "wrong_language": a,
    }[kind]
    if kind == "wrong_language":
        row["instruction"] = q.replace("Python", "JavaScript")
    return row


def small_scored(tiny_model, tiny_tokenizer) -> Dataset:
    """60 clean rows and 3 of each defect kind, scored by two tiny random models as strong_ and weak_."""
    clean = [_clean(k) for k in range(60)]
    rows = clean + [_defect(kind, 3 * i + j, clean[j]) for i, kind in enumerate(KINDS) for j in range(3)]
    ds = Dataset.from_list(rows)
    weak_model = build_model(tiny_tokenizer, seed=1)
    for prefix, model in (("strong_", tiny_model), ("weak_", weak_model)):
        scorer = qaq.score_fn(model, tokenizer=tiny_tokenizer, question=["instruction", "input"], prefix=prefix)
        ds = ds.map(scorer, batched=True)
    return ds


@pytest.fixture(scope="module")
def executed(tiny_model, tiny_tokenizer, tmp_path_factory):
    scored = tmp_path_factory.mktemp("notebook") / "scored.parquet"
    small_scored(tiny_model, tiny_tokenizer).to_parquet(str(scored))
    nb = nbformat.read(NB, as_version=4)
    with pytest.MonkeyPatch.context() as mp:  # the kernel inherits this process's environment
        mp.setenv("QAQ_NOTEBOOK_SCORED", str(scored))
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(NB.parent)}}).execute()
    return nb


def _check_outputs(nb, rows: str) -> None:
    """Every cell ran, none failed, five figures, and the printed rows (``rows``: a regex), drop reasons and kept rows."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "a cell was not run"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # RMI vs -log IFD, heteroscedasticity, the default's thresholds, per-bin, extremes
    text = "".join(o.text for o in outputs if o.get("name") == "stdout")
    assert re.match(rows, text)
    assert "drop reasons" in text and re.search(r"\d+ of the \d+ kept", text)
    _no_local_paths(nb)


def _no_local_paths(nb) -> None:
    """No absolute path of this machine (a warning's file name, a data folder) in the sources or the outputs."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:  # everything but the images' base64, where any few characters can occur by chance
        for out in cell.get("outputs", []):
            out.get("data", {}).pop("image/png", None)
    text = nbformat.writes(nb)
    assert not [p for p in (str(Path.home()), str(NB.parents[1])) if len(p) > 1 and p in text]
    assert not re.search(r"(?<![\w.])/(home|root|tmp|work|Users|opt|usr|var)/", text)


def test_notebook_runs_on_a_small_scored_file(executed):
    # a cell that raises stops NotebookClient.execute with CellExecutionError, so getting here means it ran
    _check_outputs(executed, r"84 rows;")


def test_committed_notebook_is_executed_with_figures_and_no_absolute_paths():
    nb = nbformat.read(NB, as_version=4)
    nbformat.validate(nb)
    _check_outputs(nb, r"\d+ rows;")  # the benchmark pool
