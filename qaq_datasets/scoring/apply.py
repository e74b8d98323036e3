"""``qaq.score``: check the column contract, then ``Dataset.map`` a scorer (or several) over a dataset."""

from __future__ import annotations

from typing import Any

from .scorer import Scorer


def score(dataset, model: Any, *, batch_size: int = 64, num_proc: int | None = None, desc: str | None = None,
          map_kwargs: dict | None = None, **scorer_kwargs):
    """Score ``dataset`` with ``model`` (a spec, a loaded model or a :class:`Scorer`).

    The input columns are checked against ``dataset.features`` before the model loads; the result is
    ``dataset.map(scorer, batched=True, ...)`` with the score columns' features declared, so it is
    cached and resumable like any ``map``.

    Input columns:
        the scorer's ``question`` column(s) and ``answer`` column (text).

    Output columns:
        every input column, plus the ``{prefix}*`` score columns (see :class:`Scorer`).

    Examples:
        >>> scored = qaq.score(ds, "smollm2-135m", prefix="weak_")  # doctest: +SKIP
    """
    scorer = model if isinstance(model, Scorer) else Scorer(model, **scorer_kwargs)
    scorer.check(dataset)
    features = dataset.features.copy()
    features.update(scorer.features())
    kwargs = dict(batched=True, batch_size=batch_size, features=features,
                  desc=desc or f"QAQ scoring ({scorer.model_recipe.get('spec') or scorer.model_recipe.get('name')})")
    if num_proc and num_proc > 1:
        kwargs.update(num_proc=num_proc, with_rank=True)
    kwargs.update(map_kwargs or {})
    return dataset.map(scorer, **kwargs)
