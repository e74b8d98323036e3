"""Which selection removes bad rows? Real Code Alpaca rows with labelled defects, both default models.

Usage: python benchmarks/selection_quality.py [--clean 400] [--per-defect 20] [--budget 0.25]

Defects injected (each into rows that are not otherwise used, so every question appears once):
- misaligned: the answer of another row (the paper's first failure mode);
- echo: the answer repeats the question (the paper's second failure mode), lightly reworded;
- refusal: a generic refusal / non-answer, as LLM generators emit;
- truncated: the answer cut after its first ~20% of characters (generation hit a length limit);
- looping: the first line of the answer repeated over and over (degenerate generation).

Scores are cached in benchmarks/.cache so the table can be recomputed without re-scoring. For each
strategy at the budget: the fraction of kept rows that are defective (random = the defect rate) and the
AUROC of the strategy's ordering for "defective" (filters first: rows a step drops are ranked below every
survivor; survivors by the final score; ties get half credit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from _data import code_alpaca, question_of

CACHE = Path(__file__).parent / ".cache"
REFUSALS = ["I'm sorry, but I cannot help with that request.",
            "As an AI language model, I am unable to complete this task.",
            "Here is the code you asked for. Let me know if you have any other questions!",
            "This is a great question! There are many ways to approach it."]
REWORD = ["Sure! ", "The task is: ", "", "Answer: "]


def build_rows(n_clean: int, per_defect: int, seed: int = 0, offset: int = 0) -> list[dict]:
    """Rows ``offset .. offset+need`` of Code Alpaca (answers of >= 20 chars), the last ones made defective."""
    rng = random.Random(seed)
    rows = [r for r in code_alpaca() if len(r["output"]) >= 20]
    kinds = ["misaligned", "echo", "refusal", "truncated", "looping"]
    need = n_clean + per_defect * len(kinds)
    if offset + need > len(rows):
        raise SystemExit(f"only {len(rows)} usable rows; offset {offset} + {need} is too many")
    picked = rows[offset: offset + need]
    out = [dict(instruction=r["instruction"], input=r["input"], output=r["output"], defect="none")
           for r in picked[:n_clean]]
    spare = picked[n_clean:]
    donors = rows[:offset] + rows[offset + need:]  # misaligned answers come from rows not in the set
    for k, r in enumerate(spare):
        kind = kinds[k // per_defect]
        q = question_of(r)
        if kind == "misaligned":
            a = rng.choice(donors)["output"]
        elif kind == "echo":
            a = rng.choice(REWORD) + q.replace("Write", "Writing").replace("Create", "Creating")
        elif kind == "refusal":
            a = rng.choice(REFUSALS)
        elif kind == "truncated":
            a = r["output"][: max(8, len(r["output"]) // 5)]
        else:
            first = next((ln for ln in r["output"].splitlines() if ln.strip()), r["output"])
            a = "\n".join([first] * 12)
        out.append(dict(instruction=r["instruction"], input=r["input"], output=a, defect=kind))
    rng.shuffle(out)
    return out


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
    from qaq_datasets.scoring.multi import build_scorers, score_all

    from qaq_datasets.scoring import score_columns

    schema = json.dumps([rows, score_columns("")], sort_keys=True)  # new score columns: score again
    digest = hashlib.sha256(schema.encode()).hexdigest()[:12]
    key = f"quality-{len(rows)}-{digest}-{dtype}{'' if raw else '-noraw'}"
    folder = CACHE / key
    if (folder / "dataset_info.json").exists():
        meta = json.loads((folder / "qaq_meta.json").read_text())
        return load_from_disk(str(folder)), meta
    ds = Dataset.from_list(rows)
    scorers = build_scorers({"strong": "gemma3-270m", "weak": "smollm2-135m"},
                            question=["instruction", "input"], answer="output", dtype=dtype)
    scored, metadata, stats = score_all(ds, scorers, batch_size=64)
    raw_stats = {}
    if raw:  # the weak model again with the raw template (no system context), for the notebook's figure
        raw_scorer = build_scorers({"rawweak": "smollm2-135m"}, question=["instruction", "input"], answer="output",
                                   template="raw", dtype=dtype)
        scored, _, raw_stats = score_all(scored, raw_scorer, batch_size=64)
    meta = {"stats": {**stats, **raw_stats}, "version": qaq.__version__}
    scored.save_to_disk(str(folder))
    (folder / "qaq_meta.json").write_text(json.dumps(meta))
    return scored, meta


STRATEGIES = {
    # name: (preset or builder, final score column, ascending = lower final score is better)
    "random": ("random", "qaq_random", False),
    "perplexity (strong)": ("perplexity", None, True),
    "Cherry IFD (strong)": ("cherry", None, False),
    "Superfiltering (weak IFD)": ("superfiltering", None, False),
    "RMI sweet spot (strong)": ("sweet-spot", "qaq_center_distance", True),
    "gap (paper headline)": ("gap", "qaq_gap", False),
    "default plan (RMI extremes of both models, cut-off answers, then gap)": ("default", "qaq_gap", False),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clean", type=int, default=400)
    ap.add_argument("--per-defect", type=int, default=20)
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--offset", type=int, default=0, help="first Code Alpaca row used (1000: the held-out set)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-raw", action="store_true", help="skip the raw-template scoring")
    args = ap.parse_args()

    import qaq_datasets.selection as qs

    rows = build_rows(args.clean, args.per_defect, seed=args.seed, offset=args.offset)
    t0 = time.perf_counter()
    scored, meta = score_rows(rows, None if args.dtype == "auto" else args.dtype, raw=not args.no_raw)
    print(f"scored {len(scored)} rows in {time.perf_counter() - t0:.0f} s (0 if cached); stats: {meta['stats']}")
    defect = np.asarray(scored["defect"])
    is_defect = defect != "none"
    kinds = sorted(set(defect) - {"none"})

    plans = {name: (qs.preset(p, fraction=args.budget), final, asc) for name, (p, final, asc) in STRATEGIES.items()}
    # compositions: extremes of one model then another ranking
    ext = lambda p: qs.Selector().drop_where(f"{p}status", "not in", ["ok", "truncated"], reason="not_ok_status") \
        .stratify(f"{p}nll_q", 10).rank(f"{p}rmi").drop_extremes(0.1, 0.95)  # noqa: E731
    plans["RMI extremes (weak) only, then random"] = (ext("weak_").random(0).keep_top(args.budget), "qaq_random", False)
    plans["RMI extremes (strong), then IFD (strong)"] = (
        ext("strong_").drop_where("strong_ifd", ">=", 1, reason="ifd_ge_1").score("strong_ifd").keep_top(args.budget),
        None, False)
    plans["RMI extremes (both), then IFD (strong)"] = (
        ext("weak_").stratify("strong_nll_q", 10).rank("strong_rmi").drop_extremes(0.1, 0.95)
        .drop_where("strong_ifd", ">=", 1, reason="ifd_ge_1").score("strong_ifd").keep_top(args.budget), None, False)

    print(f"\nSelection quality — {len(scored)} Code Alpaca rows, {is_defect.sum()} defective "
          f"({is_defect.mean():.1%}: {', '.join(f'{k} {int((defect == k).sum())}' for k in kinds)}), "
          f"budget {args.budget:.0%}, strong=gemma3-270m weak=smollm2-135m\n")
    head = "| strategy | kept | defective among kept | AUROC | " + " | ".join(f"{k} kept" for k in kinds) + " |"
    print(head)
    print("|" + "---|" * (4 + len(kinds)))
    results = {}
    for name, (plan, final, asc) in plans.items():
        sel = plan.fit(scored)
        keep = sel.keep
        rate = float(is_defect[keep].mean()) if keep.any() else float("nan")
        if final is None:  # the plan ends with score(column): its survivors are ordered by that column
            step = [s for s in plan.to_dict()["steps"] if s["step"] == "score"][-1]
            values, asc = np.asarray(scored[step["column"]], dtype=float), bool(step.get("ascending", False))
        else:
            values = np.asarray(sel.columns[final], dtype=float)
        auc = auroc(plan_order(sel, values, asc), is_defect)
        per_kind = [int(((defect == k) & keep).sum()) for k in kinds]
        results[name] = {"kept": int(keep.sum()), "defect_rate": rate, "auroc": auc,
                         "per_kind": dict(zip(kinds, per_kind))}
        print(f"| {name} | {int(keep.sum())} | {rate:.1%} | {auc:.3f} | " + " | ".join(map(str, per_kind)) + " |")

    if "rawweak_nll_q" in scored.column_names:  # standard vs raw: raw drops the system context, inflating PPL(Q)
        nq_std, nq_raw = np.asarray(scored["weak_nll_q"]), np.asarray(scored["rawweak_nll_q"])
        print(f"\nmean NLL(Q) weak model: standard {np.nanmean(nq_std):.3f}, raw {np.nanmean(nq_raw):.3f} nats "
              f"(raw inflates PPL(Q) x{np.exp(np.nanmean(nq_raw) - np.nanmean(nq_std)):.2f})")
    (CACHE / f"selection_quality_results-offset{args.offset}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
