"""Scoring with several models at once (the paper's strong/weak pair), each under its own column prefix."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .apply import score
from .schema import check_columns
from .scorer import Scorer
from .schema import count_statuses


def parse_model_args(items: list[str] | None) -> dict[str, str]:
    """``["strong=gemma3-270m", "weak=smollm2-135m"]`` → ``{"strong": ..., "weak": ...}``; defaults when empty."""
    from ..models import DEFAULT_STRONG, DEFAULT_WEAK

    if not items:
        return {"strong": DEFAULT_STRONG, "weak": DEFAULT_WEAK}
    out: dict[str, str] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(f"--model expects NAME=SPEC (e.g. strong=gemma3-270m), got {item!r}.")
        if not name.isidentifier():
            raise ConfigError(f"Model name {name!r} must be an identifier: it becomes the column prefix {name}_.")
        if name in out:
            raise ConfigError(f"Model name {name!r} given twice.")
        out[name] = spec.strip()
    return out


def build_scorers(models: Mapping[str, Any], **scorer_kwargs) -> dict[str, Scorer]:
    """One :class:`Scorer` per named model, with prefix ``{name}_``. Resolves specs; loads nothing."""
    return {name: Scorer(m, prefix=f"{name}_", **scorer_kwargs) for name, m in models.items()}


def score_all(dataset, scorers: Mapping[str, Scorer], *, batch_size: int = 64, num_proc: int | None = None):
    """Score ``dataset`` with every scorer in turn. Checks every column contract before any model loads.

    Returns ``(scored, metadata, stats)``: metadata is the ``qaq:`` block (one recipe per scorer); stats has
    per-scorer seconds, tokens and status counts.
    """
    for sc in scorers.values():
        check_columns(dataset.column_names, sc.input_columns, dataset.features)
    clash = [c for sc in scorers.values() for c in sc.output_columns if c in dataset.column_names]
    if clash:
        raise ConfigError(f"The dataset already has score columns {clash[:4]}...; use other model names.")
    stats = {}
    for name, sc in scorers.items():
        t0 = time.perf_counter()
        dataset = score(dataset, sc, batch_size=batch_size, num_proc=num_proc, desc=f"QAQ scoring [{name}]")
        seconds = time.perf_counter() - t0
        p = sc.prefix
        tokens = 2 * (sum(dataset[p + "q_tokens"]) + sum(dataset[p + "a_tokens"]))
        stats[name] = {"seconds": seconds, "scored_tokens": tokens, "status": count_statuses(dataset[p + "status"])}
    metadata = {"scorers": {name: sc.recipe() for name, sc in scorers.items()}}
    return dataset, metadata, stats
