"""Invariants of QAQ scoring on a tiny random model (fast, offline)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from datasets import Dataset

import qaq_datasets as qaq
from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError, ModelNotFoundError

ROWS = {
    "instruction": ["Write a Python function that returns the sum of a list.", "How do I reverse a string?",
                    "Create a SQL query that selects all rows from the users table.", "Add two numbers.",
                    "Print the numbers from 0 to n."],
    "input": ["", "s = 'abc'", None, "", ""],
    "output": ["def total(xs):\n    return sum(xs)", "s[::-1]", "SELECT * FROM users;", "def add(a, b):\n    return a + b",
               "for (let i = 0; i < n; i++) { console.log(i); }"],
}


def manual_nll(model, ids, span):
    """Reference: full logits, log_softmax, mean over the span — computed independently."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    s, e = span
    return float(np.mean([-logp[t - 1, ids[t]].item() for t in range(s, e)]))


@pytest.fixture()
def scorer(tiny_model, tiny_tokenizer):
    return qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, question=["instruction", "input"])


@pytest.mark.parametrize("min_share", [0.0, 1.0])  # with and without the cache of the shared prefix
def test_scores_match_hand_computation_from_encode(scorer, tiny_model, tiny_tokenizer, monkeypatch, min_share):
    monkeypatch.setattr("qaq_datasets.scoring.forward.PREFIX_CACHE_MIN_SHARE", min_share)
    ds = Dataset.from_dict(ROWS)
    out = ds.map(scorer, batched=True)
    for i in range(len(ds)):
        q = [x for x in (ROWS["instruction"][i], ROWS["input"][i]) if x]  # joined by the template's q_sep
        enc = scorer.encode(q, ROWS["output"][i])
        f, r, sp = enc["forward_ids"], enc["reverse_ids"], enc["spans"]
        # Q ids identical in both passes; A ids identical in both passes
        assert f[sp["q"][0]:sp["q"][1]] == r[sp["q_given_a"][0]:sp["q_given_a"][1]]
        assert f[sp["a_given_q"][0]:sp["a_given_q"][1]] == r[sp["a"][0]:sp["a"][1]]
        nq, nqa = manual_nll(tiny_model, f, sp["q"]), manual_nll(tiny_model, r, sp["q_given_a"])
        na, naq = manual_nll(tiny_model, r, sp["a"]), manual_nll(tiny_model, f, sp["a_given_q"])
        nend = manual_nll(tiny_model, f, sp["a_end"])
        assert f[sp["a_end"][0]:] == tiny_tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"][:1]
        row = out[i]
        assert row["qaq_status"] == "ok"
        assert row["qaq_nll_q"] == pytest.approx(nq, abs=1e-4)
        assert row["qaq_nll_q_given_a"] == pytest.approx(nqa, abs=1e-4)
        assert row["qaq_nll_a"] == pytest.approx(na, abs=1e-4)
        assert row["qaq_nll_a_given_q"] == pytest.approx(naq, abs=1e-4)
        assert row["qaq_nll_end"] == pytest.approx(nend, abs=1e-4)
        assert row["qaq_rmi"] == pytest.approx(row["qaq_nll_q"] - row["qaq_nll_q_given_a"], abs=1e-12)
        assert row["qaq_ifd"] == pytest.approx(math.exp(row["qaq_nll_a_given_q"] - row["qaq_nll_a"]), rel=1e-9)
        assert row["qaq_q_tokens"] == sp["q"][1] - sp["q"][0]
        assert row["qaq_a_tokens"] == sp["a"][1] - sp["a"][0]


@pytest.mark.parametrize("min_share,prefix_passes", [(0.0, 1), (1.0, 0)])
def test_exactly_two_forward_passes_per_row(scorer, tiny_model, monkeypatch, min_share, prefix_passes):
    monkeypatch.setattr("qaq_datasets.scoring.forward.PREFIX_CACHE_MIN_SHARE", min_share)
    calls = []  # (batch size, fed width, whether a key/value cache of the shared prefix was passed)

    def hook(module, args, kwargs, out):
        calls.append((kwargs["input_ids"].shape[0], kwargs["input_ids"].shape[1],
                      kwargs.get("cache", kwargs.get("past_key_values")) is not None))

    handle = tiny_model.model.register_forward_hook(hook, with_kwargs=True)
    try:
        Dataset.from_dict(ROWS).map(scorer, batched=True, load_from_cache_file=False)
    finally:
        handle.remove()
    # with the prefix cache on, the system context both passes share runs once first, as one sequence
    assert all(not c[2] and c[0] == 1 for c in calls[:prefix_passes])
    row_passes = calls[prefix_passes:]
    assert all(c[2] == bool(prefix_passes) for c in row_passes)
    assert sum(b for b, _, _ in row_passes) == 2 * len(ROWS["output"])


def test_shared_prefix_stops_before_the_first_scored_token():
    from qaq_datasets.scoring.forward import cached_prefix

    seqs = [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 9], [1, 2, 3, 4, 5, 6, 8, 8]]
    assert cached_prefix(seqs, [[(6, 7)], [(5, 6)], [(7, 8)]]) == (1, 2, 3, 4)  # token 5 predicts seq 2's first
    assert cached_prefix(seqs, [[(6, 7)], [(6, 6), (6, 6)], [(7, 8)]]) == (1, 2, 3, 4, 5)  # empty spans: no limit
    assert cached_prefix(seqs, [[(3, 7)], [(5, 6)], [(7, 8)]]) == ()  # too short to be worth a cache
    assert cached_prefix([[1, 2, 3, 4, 5, 6], [7, 2, 3, 4, 5, 6]], [[(6, 6)], [(6, 6)]]) == ()
    assert cached_prefix([], []) == ()


def test_the_prefix_is_cached_only_when_it_is_a_real_share_of_the_tokens():
    from qaq_datasets.scoring.forward import PREFIX_CACHE_MIN_SHARE, cached_prefix

    head = [1, 2, 3, 4, 5]
    short = [head + [6, 7], head + [8, 9]]  # the prefix is most of the tokens
    assert cached_prefix(short, [[(6, 7)], [(6, 7)]]) == tuple(head)
    n = int(len(head) / PREFIX_CACHE_MIN_SHARE)  # the prefix just under the minimum share
    long = [head + [6] * n, head + [7] * n]
    assert cached_prefix(long, [[(6, 7)], [(6, 7)]]) == ()
    assert cached_prefix([], []) == ()


@pytest.mark.parametrize("min_share", [0.0, 1.0])  # with and without the cache of the shared prefix
def test_exact_with_sliding_window_and_softcap(tiny_tokenizer, monkeypatch, min_share):
    """Gemma 3 style model: sliding-window layers shorter than the rows, logit softcapping."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    monkeypatch.setattr("qaq_datasets.scoring.forward.PREFIX_CACHE_MIN_SHARE", min_share)
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=8,
                           layer_types=["sliding_attention", "full_attention"] * 2, final_logit_softcapping=5.0,
                           max_position_embeddings=2048, bos_token_id=tiny_tokenizer.bos_token_id,
                           eos_token_id=tiny_tokenizer.eos_token_id, pad_token_id=tiny_tokenizer.pad_token_id)
    model = Gemma3ForCausalLM(cfg).eval()
    sc = qaq.score_fn(model, tokenizer=tiny_tokenizer, question=["instruction", "input"])
    out = Dataset.from_dict(ROWS).map(sc, batched=True)
    for i in range(len(ROWS["output"])):
        q = [x for x in (ROWS["instruction"][i], ROWS["input"][i]) if x]
        enc = sc.encode(q, ROWS["output"][i])
        f, r, sp = enc["forward_ids"], enc["reverse_ids"], enc["spans"]
        assert len(f) > 2 * cfg.sliding_window
        assert out[i]["qaq_nll_q_given_a"] == pytest.approx(manual_nll(model, r, sp["q_given_a"]), abs=1e-4)
        assert out[i]["qaq_nll_a_given_q"] == pytest.approx(manual_nll(model, f, sp["a_given_q"]), abs=1e-4)
        assert out[i]["qaq_nll_q"] == pytest.approx(manual_nll(model, f, sp["q"]), abs=1e-4)


@pytest.mark.parametrize("min_share", [0.0, 1.0])
@pytest.mark.parametrize("batch_size,token_budget", [(1, 8192), (2, 64), (5, 10_000), (3, 1)])
def test_scores_independent_of_batching_order_and_padding(tiny_model, tiny_tokenizer, batch_size, token_budget,
                                                          monkeypatch, min_share):
    monkeypatch.setattr("qaq_datasets.scoring.forward.PREFIX_CACHE_MIN_SHARE", min_share)
    ds = Dataset.from_dict(ROWS)
    ref = ds.map(qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, question=["instruction", "input"],
                              token_budget=100_000), batched=True, batch_size=len(ds))
    monkeypatch.setattr("qaq_datasets.scoring.forward.PREFIX_CACHE_MIN_SHARE", 1 - min_share)  # the other way
    sc = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, question=["instruction", "input"], token_budget=token_budget)
    order = [4, 2, 0, 3, 1]
    got = ds.select(order).map(sc, batched=True, batch_size=batch_size)
    for col in ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q", "qaq_rmi"):
        a = np.array(ref[col])[order]
        b = np.array(got[col])
        assert np.max(np.abs(a - b)) < 1e-4, col


def test_bad_rows_get_nan_and_a_status(scorer):
    ds = Dataset.from_dict({
        "instruction": ["ok question", "", None, "   ", "question", "question", "question"],
        "input": ["", "", "", "", "", "", ""],
        "output": ["answer", "answer", "answer", "answer", "", None, "   "],
    })
    out = ds.map(scorer, batched=True)
    assert out["qaq_status"] == ["ok", "empty_question", "empty_question", "empty_question",
                                 "empty_answer", "empty_answer", "empty_answer"]
    for i in range(1, 7):
        for col in ("qaq_nll_q", "qaq_nll_q_given_a", "qaq_nll_a", "qaq_nll_a_given_q", "qaq_rmi", "qaq_ifd"):
            assert math.isnan(out[i][col])
        assert out[i]["qaq_q_tokens"] == 0
    assert not math.isnan(out[0]["qaq_rmi"])


def test_non_string_cells_are_flagged(scorer):
    batch = {"instruction": ["q", 5, "q"], "input": ["", "", ["x"]], "output": ["a", "a", "a"]}
    out = scorer(batch)
    assert out["qaq_status"] == ["ok", "not_a_string", "not_a_string"]
    assert math.isnan(out["qaq_rmi"][1])


def test_text_that_tokenizes_to_nothing(tiny_model, tiny_tokenizer):
    class EmptyForX:
        """A tokenizer wrapper that yields no ids for the text 'X' (as some tokenizers do for odd input)."""

        def __init__(self, tok):
            self.tok = tok
            self.bos_token_id, self.eos_token_id = tok.bos_token_id, tok.eos_token_id
            self.chat_template = tok.chat_template
            self.apply_chat_template = tok.apply_chat_template

        def __call__(self, text, **kw):
            if isinstance(text, list):
                return {"input_ids": [[] if t == "X" else self.tok(t, **kw)["input_ids"] for t in text]}
            return {"input_ids": [] if text == "X" else self.tok(text, **kw)["input_ids"]}

    sc = qaq.score_fn(tiny_model, tokenizer=EmptyForX(tiny_tokenizer))
    out = sc({"instruction": ["X", "fine"], "output": ["a", "b"]})
    assert out["qaq_status"] == ["no_tokens", "ok"]
    assert math.isnan(out["qaq_rmi"][0])


def test_truncation_is_flagged_and_uses_same_ids(tiny_model, tiny_tokenizer):
    sc = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, max_length=100)
    long_q = "Write a Python function that returns the sum of a list. " * 10
    out = sc({"instruction": [long_q, "short"], "output": ["def add(a, b):\n    return a + b " * 10, "x"]})
    assert out["qaq_status"] == ["truncated", "ok"]
    assert math.isnan(out["qaq_nll_end"][0]) and not math.isnan(out["qaq_nll_end"][1])  # a cut answer has no end
    enc = sc.encode(long_q, "def add(a, b):\n    return a + b " * 10)
    assert len(enc["forward_ids"]) <= 100 and len(enc["reverse_ids"]) <= 100
    sp = enc["spans"]
    assert enc["forward_ids"][slice(*sp["q"])] == enc["reverse_ids"][slice(*sp["q_given_a"])]
    assert not math.isnan(out["qaq_rmi"][0])


def test_raw_template_has_no_system_context(tiny_model, tiny_tokenizer):
    std = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer)
    raw = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, template="raw")
    e_std, e_raw = std.encode("question", "answer"), raw.encode("question", "answer")
    assert e_raw["spans"]["q"][0] == 1  # only a document-start token precedes Q
    assert e_raw["forward_ids"][0] == tiny_tokenizer.bos_token_id
    assert e_std["spans"]["q"][0] > 1
    assert std.fingerprint != raw.fingerprint


def test_custom_template(tiny_model, tiny_tokenizer):
    t = qaq.Template("mine", "Q: ", "\nA: ", "A: ", "\nQ: ")
    sc = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, template=t)
    enc = sc.encode("question", "answer")
    assert tiny_tokenizer.decode(enc["forward_ids"]) == "Q: question\nA: answer</s>"  # + EOS closing the answer
    assert enc["spans"]["a_end"] == (len(enc["forward_ids"]) - 1, len(enc["forward_ids"]))
    assert tiny_tokenizer.decode(enc["reverse_ids"]) == "A: answer\nQ: question"


def test_missing_column_error_lists_available_before_model_load():
    ds = Dataset.from_dict({"prompt": ["q"], "response": ["a"]})
    sc = qaq.score_fn("tests-never-loaded/model-id", question="instruction", answer="output")  # loads nothing
    with pytest.raises(ColumnError) as err:
        sc.check(ds)
    assert "'instruction'" in str(err.value) and "prompt, response" in str(err.value)
    with pytest.raises(ColumnError):
        sc({"prompt": ["q"], "response": ["a"]})  # the map path fails the same way, still without loading
    assert sc._qaq_model is None
    with pytest.raises(ColumnError, match="must hold text"):
        qaq.score_fn("tests-never-loaded/model-id", question="n", answer="response").check(
            Dataset.from_dict({"n": [1], "response": ["a"]}))
    words = Dataset.from_dict({"q": [["Write a function", "that adds"]], "response": ["a"]})  # not TRL's turns
    with pytest.raises(ColumnError, match=r"'q' must hold text .* List\(Value\('string'\)\)"):
        qaq.score_fn("tests-never-loaded/model-id", question="q", answer="response").check(words)


@pytest.mark.parametrize("kwargs,exc", [
    ({"max_length": 2}, ConfigError), ({"token_budget": 0}, ConfigError), ({"template": "fancy"}, ConfigError),
    ({"template": 3}, ConfigTypeError), ({"question": 3}, ConfigTypeError), ({"question": []}, ConfigError),
    ({"prefix": 1}, ConfigTypeError), ({"dtype": "int8"}, ConfigError), ({"prefix": ""}, ConfigError),
    ({"prefix": "../../evil_"}, ConfigError), ({"prefix": "strong"}, ConfigError),
    ({"max_length": "2048"}, ConfigTypeError), ({"token_budget": True}, ConfigTypeError),
    ({"max_length": -10**200}, ConfigError), ({"token_budget": 2.0}, ConfigTypeError),
])
def test_bad_configuration_raises_before_loading(kwargs, exc):
    with pytest.raises(exc) as err:
        qaq.score_fn("tests-never-loaded/model-id", **kwargs)
    assert "0" * 100 not in str(err.value)  # a huge integer is not repeated


def test_a_model_spec_that_is_no_hub_id_is_refused_before_any_network():
    for spec in ("org/na..me", "org/-name", "org/" + "x" * 100, "org/name.git"):
        with pytest.raises(ModelNotFoundError, match="Hub id"):
            qaq.score_fn(spec)


def test_bad_model_specs():
    with pytest.raises(ModelNotFoundError, match="smollm2-135m"):
        qaq.score_fn("no-such-alias")
    with pytest.raises(ModelNotFoundError):
        qaq.score_fn("/nonexistent/model.gguf")
    with pytest.raises(ConfigTypeError, match=r"such as .smollm2-135m., a qaq.load_model\(\) result or a transformers "
                                              r"model \(with tokenizer=\), got NoneType"):
        qaq.score_fn(None)  # refused by resolve_spec, like any other model that is not a spec or a model object
    with pytest.raises(ModelNotFoundError, match="model spec is empty"):
        qaq.score_fn(" ")
    assert issubclass(ModelNotFoundError, ValueError)


def test_a_file_that_is_not_gguf_is_refused_when_the_spec_resolves(tmp_path):
    (tmp_path / "junk.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        qaq.score_fn(tmp_path / "junk.gguf")


def test_a_spec_that_starts_in_a_local_folder_is_a_missing_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org").mkdir()
    with pytest.raises(ModelNotFoundError, match="Model folder 'org/name' does not exist .* local folder 'org'"):
        qaq.score_fn("org/name")


def test_fingerprint_is_stable_and_pickles_small(tiny_model_dir):
    a = qaq.score_fn(tiny_model_dir, dtype="float32")
    b = pickle.loads(pickle.dumps(a))
    assert a.fingerprint == b.fingerprint
    assert len(pickle.dumps(a)) < 4096
    c = qaq.score_fn(tiny_model_dir, dtype="float32", prefix="weak_")
    assert c.fingerprint != a.fingerprint


def test_a_loaded_model_changed_in_place_is_never_answered_from_the_cache(tiny_model_dir):
    """As loaded, a qaq.load_model() result shares the spec's fingerprint (and cache); once its weights change (a
    fine-tuning step), the fingerprint follows them, and no worker can re-load it from the spec."""
    from qaq_datasets.models import load_model

    m = load_model(tiny_model_dir, dtype="float32", device_map="cpu")
    spec = qaq.score_fn(tiny_model_dir, dtype="float32", device_map="cpu")
    assert qaq.score_fn(m).fingerprint == spec.fingerprint
    ds = Dataset.from_dict(ROWS)
    before = ds.map(qaq.score_fn(m), batched=True)["qaq_nll_a"]
    with torch.no_grad():
        m.model.lm_head.weight.mul_(3.0)
    changed = qaq.score_fn(m)
    assert changed.fingerprint != spec.fingerprint and changed.model_identity["kind"] == "object"
    assert changed.config.model is None  # a worker process refuses it rather than re-load the old weights
    assert not np.allclose(ds.map(changed, batched=True)["qaq_nll_a"], before)


def test_max_length_past_the_models_context_is_refused_before_the_weights_load(tiny_model_dir, tiny_model,
                                                                               tiny_tokenizer):
    """Past max_position_embeddings a model scores noise: both ds.map(scorer) and qaq.score refuse it, from the
    config alone."""
    ds = Dataset.from_dict(ROWS)
    sc = qaq.score_fn(tiny_model_dir, max_length=4096)
    with pytest.raises(ConfigError, match="max_length 4096 is more than the model's context of 2048 tokens"):
        ds.map(sc, batched=True)
    assert sc._qaq_model is None
    with pytest.raises(ConfigError, match="give max_length <= 2048"):
        qaq.score(ds, {"w": qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, max_length=2049)})


def test_score_takes_a_dataset_and_says_how_to_make_one():
    with pytest.raises(ConfigTypeError, match="qaq.score scores a datasets.Dataset .* got list: .*from_list"):
        qaq.score([{"instruction": "q", "output": "a"}], {"w": "tests-never-loaded/model-id"})


def test_map_cache_is_reused(tiny_model_dir, tmp_path):
    ds = Dataset.from_dict(ROWS)
    ds.save_to_disk(tmp_path / "ds")
    from datasets import load_from_disk

    ds = load_from_disk(str(tmp_path / "ds"))
    sc = qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"])
    first = ds.map(sc, batched=True)
    sc2 = qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"])
    second = ds.map(sc2, batched=True)
    assert first.cache_files == second.cache_files  # same fingerprint → datasets reused the cache file


def test_spec_scorer_loads_lazily_and_matches_object(tiny_model_dir):
    from qaq_datasets.models import load_model

    sc = qaq.score_fn(tiny_model_dir, dtype="float32", device_map="cpu")
    assert sc._qaq_model is None
    out = sc({"instruction": ["How do I reverse a string?"], "output": ["s[::-1]"]})
    m = load_model(tiny_model_dir, dtype="float32", device_map="cpu")
    out2 = qaq.score_fn(m)({"instruction": ["How do I reverse a string?"], "output": ["s[::-1]"]})
    assert out["qaq_rmi"][0] == pytest.approx(out2["qaq_rmi"][0], abs=1e-6)


def test_bare_model_scorer_fails_clearly_in_a_worker(tiny_model, tiny_tokenizer):
    sc = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer)
    with pytest.warns(UserWarning, match="re-loads the model"):
        in_worker = pickle.loads(pickle.dumps(sc))  # what map(num_proc>1) sends to a worker
    with pytest.raises(ConfigError, match="without a spec"):
        in_worker({"instruction": ["q"], "output": ["a"]})


def test_a_tokenizer_that_is_not_one_is_refused_by_score_fn(tiny_model, tiny_tokenizer, tiny_model_dir):
    for bad in ("not a tokenizer", 5, {"input_ids": []}, None):  # None: a bare model without its tokenizer
        with pytest.raises(ConfigTypeError, match="tokenizer must be"):
            qaq.score_fn(tiny_model, tokenizer=bad)
    with pytest.raises(ConfigError, match="brings its own tokenizer"):  # it would be ignored
        qaq.score_fn(tiny_model_dir, tokenizer=tiny_tokenizer)


def test_score_with_several_models_is_one_map_of_the_same_scores(tiny_model_dir):
    ds = Dataset.from_dict(ROWS)
    kw = dict(dtype="float32", question=["instruction", "input"], device_map="cpu")
    a = qaq.score_fn(tiny_model_dir, prefix="a_", **kw)
    b = qaq.score_fn(tiny_model_dir, prefix="b_", template="raw", **kw)
    one_by_one = ds.map(a, batched=True, load_from_cache_file=False).map(b, batched=True, load_from_cache_file=False)
    both = qaq.score(ds, {"a": a, "b": b}, batch_size=2, map_kwargs={"load_from_cache_file": False})
    assert both.column_names == one_by_one.column_names and both.features == one_by_one.features
    for col in both.column_names:
        assert np.array_equal(np.asarray(both[col], dtype=object), np.asarray(one_by_one[col], dtype=object)), col
    from qaq_datasets.scoring import MultiScorer

    fn = MultiScorer({"a": a, "b": b})
    assert [s["status"] for s in fn.stats(both).values()] == [{"ok": 5}, {"ok": 5}]
    assert fn.metadata("rows.jsonl") == {"scorers": {"a": a.recipe(), "b": b.recipe()}, "source": "rows.jsonl"}
    assert fn.summary(both, "out").startswith("5 rows scored (a: {'ok': 5}; b: {'ok': 5}); wrote out")
    assert list(MultiScorer([a, b]).scorers) == ["a", "b"]  # a list is named by the prefixes


@pytest.mark.parametrize("scorers,error,match", [
    ("smollm2-135m", ConfigTypeError, "qaq Scorers"), ([], ConfigTypeError, "qaq Scorers"),
    ({"a": "smollm2-135m"}, ConfigTypeError, "qaq Scorers"), ("twice", ConfigError, "distinct prefixes")])
def test_multi_scorer_refuses_what_is_not_scorers(tiny_model, tiny_tokenizer, scorers, error, match):
    from qaq_datasets.scoring import MultiScorer

    sc = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer)
    with pytest.raises(error, match=match):
        MultiScorer([sc, sc] if scorers == "twice" else scorers)
