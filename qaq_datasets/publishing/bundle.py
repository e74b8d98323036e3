"""Everything uploaded next to the data: the card (README.md), the plan, the report and the figures.

Both :func:`qaq_datasets.publish` and its dry run call :func:`build_files` with the README that the data
step left (the ``configs``/``dataset_info`` YAML ``datasets`` wrote, plus whatever was there before),
so the card text is the same on the Hub and in a dry-run folder.

Input columns
    The score columns of every scorer prefix (see :mod:`.metadata`), the question/answer text columns.

Output columns
    None.

Examples
    >>> pub = Publication(repo_id="me/x", base=ds, split="train", selection=sel,     # doctest: +SKIP
    ...                   metadata={}, fields={}, curated_only=False)
    >>> sorted(build_files(readme_text, pub))                                      # doctest: +SKIP
    ['README.md', 'figures/qaq_ifd.png', 'figures/qaq_rmi.png', 'qaq_plan.yaml', 'qaq_report.json']
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from .._version import __version__
from . import figures as figures_mod
from .card import merge_card, split_rows
from .examples import rmi_examples
from .metadata import inferred_scorers, scorer_prefixes
from .selection_data import SelectionData
from .serialize import PLAN_FILE, REPORT_FILE, plan_bytes, report_bytes, to_builtin
from .templates import render

README = "README.md"


@dataclass(frozen=True)
class Publication:
    """What a publish writes besides the data (shared by the push and the dry run)."""

    repo_id: str
    base: Dataset  # the scored split the selection was fitted on
    split: str
    selection: SelectionData | None
    metadata: dict  # the qaq: block (see qaq_block)
    fields: dict  # the other card YAML fields (card.card_fields)
    curated_only: bool = False
    figures: bool | None = None  # None: when matplotlib is installed
    source: str | None = None


def qaq_block(metadata: dict, selection: SelectionData | None, prefixes: list[str], source: dict | None) -> dict:
    """The card's ``qaq:`` block: library version, scorers, selection plan, seed, source."""
    meta = to_builtin(dict(metadata or {}))
    plan = selection.plan if selection is not None else None
    out = {"library_version": __version__, "scorers": meta.pop("scorers", None) or inferred_scorers(prefixes)}
    meta.pop("library_version", None)
    if plan is not None:
        out["selection"] = to_builtin(plan)
        meta.pop("selection", None)
    seed = meta.pop("seed", None)
    if seed is None and isinstance(plan, dict):
        seed = plan.get("seed")
    if seed is not None:
        out["seed"] = seed
    src = meta.pop("source", None)
    if source:
        src = {**(src if isinstance(src, dict) else {}), **source}
    if src:
        out["source"] = src
    out.update(meta)
    return out


def _funnel(report: dict, keep: np.ndarray | None, reasons: list | None) -> dict:
    """Rows in, then each drop reason in the order the plan applied it (with the rows left), then kept."""
    rows_in = int(report.get("rows_in", len(keep) if keep is not None else 0))
    kept = int(report.get("rows_kept", int(keep.sum()) if keep is not None else 0))
    drops = report.get("drop_reasons")
    if not drops and keep is not None and reasons is not None:
        drops = Counter(str(r) for r, k in zip(reasons, keep) if not k)
    steps, left = [], rows_in
    for reason, count in (drops or {}).items():
        if count:
            left -= int(count)
            steps.append({"reason": str(reason), "count": int(count), "left": left})
    pct = f"{100.0 * kept / rows_in:.1f} %" if rows_in else "–"
    notes = [str(n) for n in report.get("notes") or []]
    return {"rows_in": rows_in, "rows_kept": kept, "drops": steps, "kept_pct": pct, "notes": notes}


def _fmt(x) -> str:
    if x is None:
        return "–"
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):
        return str(x)


def _bins(report: dict) -> list[dict]:
    out = []
    for b in report.get("bins") or []:
        if not isinstance(b, dict):
            continue
        rng = f"[{_fmt(b.get('low'))}, {_fmt(b.get('high'))}]"
        if "ppl_low" in b or "ppl_high" in b:
            rng += f" (ppl {_fmt(b.get('ppl_low'))}–{_fmt(b.get('ppl_high'))})"
        out.append({
            "bin": b.get("bin", len(out)),
            "range": rng,
            "rows": b.get("rows", ""),
            "kept": b.get("kept", ""),
            "dropped": b.get("dropped", ""),
        })
    return out


def _bin_column(report: dict, plan: dict) -> str | None:
    for source in (report, plan):
        for key in ("bins_column", "bin_column"):
            if isinstance(source.get(key), str):
                return source[key]
    return None


def _figures(pub: Publication, prefixes: list[str]) -> tuple[list[dict], str | None]:
    want = pub.figures
    if want is False:
        return [], None
    if want is None and not figures_mod.available():
        note = "Histograms were not drawn: install `qaq-datasets[figures]` (matplotlib) and publish again."
        warnings.warn(note, stacklevel=4)
        return [], note
    cols = [f"{p}{m}" for p in prefixes for m in ("rmi", "ifd") if f"{p}{m}" in pub.base.column_names]
    arrays = {c: np.asarray(pub.base.with_format("numpy")[c], dtype=np.float64) for c in cols}
    keep = pub.selection.keep if pub.selection is not None else None
    return figures_mod.score_figures(arrays, keep, prefixes), None


@dataclass(frozen=True)
class Assets:
    """The parts of the publication that do not depend on the repo's current card (made before any upload)."""

    files: dict  # path -> bytes: plan, report, figures
    figures: list  # [{path, alt}] for the card
    figures_note: str | None
    examples: dict | None


def render_assets(pub: Publication) -> Assets:
    """Draw the figures, pick the example rows, serialise plan and report (may raise: call it before uploading)."""
    sel = pub.selection
    prefixes = scorer_prefixes(pub.metadata)
    scorers = pub.metadata.get("scorers") or {}
    figs, note = _figures(pub, prefixes)
    recipe = next(iter(scorers.values()), {}) if scorers else {}
    examples = rmi_examples(pub.base, prefixes[0], recipe, keep=sel.keep if sel else None) if prefixes else None
    files = {}
    if sel is not None:
        files[PLAN_FILE] = plan_bytes(sel.plan)
        files[REPORT_FILE] = report_bytes(sel.report)
    for f in figs:
        files[f["path"]] = f["png"]
    return Assets(files=files, figures=[{"path": f["path"], "alt": f["alt"]} for f in figs],
                  figures_note=note, examples=examples)


def build_files(readme_text: str | None, pub: Publication, assets: Assets | None = None) -> dict[str, bytes]:
    """The files of the final commit (or of the dry-run folder): README.md, plan, report, figures.

    ``readme_text`` is the repo's card as the data upload left it (None for none).
    """
    assets = assets if assets is not None else render_assets(pub)
    sel = pub.selection
    scorers = pub.metadata.get("scorers") or {}
    report, plan = (sel.report, sel.plan) if sel is not None else ({}, {})
    section = render(
        "publish_section.md.j2",
        repo_id=pub.repo_id,
        library_version=__version__,
        source=pub.source,
        curated_only=pub.curated_only,
        has_selection=sel is not None,
        splits=split_rows(readme_text),
        funnel=_funnel(report, sel.keep, sel.reasons) if sel is not None else None,
        bins=_bins(report),
        bin_column=_bin_column(report, plan),
        figures=assets.figures,
        figures_note=assets.figures_note,
        examples=assets.examples,
        scorers=[{"name": n, "prefix": r.get("prefix", f"{n}_")} for n, r in scorers.items()],
        selection_split=pub.split,
        plan_file=PLAN_FILE,
        report_file=REPORT_FILE,
        seed=pub.metadata.get("seed"),
    )
    title = pub.repo_id.split("/")[-1]
    card = merge_card(readme_text, fields=pub.fields, qaq=pub.metadata, section=section, title=title)
    return {README: card.encode("utf-8"), **assets.files}
