"""Example rows from both ends of the RMI ranking, truncated for the dataset card.

Input columns
    ``{p}rmi`` (float), ``{p}status`` (string, optional), and the question/answer text columns named
    by the scorer recipe (``question``: a column or list of columns, ``answer``: a column); when the
    recipe does not name them, common names (``instruction``/``input``/``output``, ``question``/``answer``,
    ``prompt``/``completion`` ...) are tried.

Output columns
    None.

Examples
    >>> from datasets import Dataset
    >>> ds = Dataset.from_dict({"question": ["a", "b"], "answer": ["x", "y"], "qaq_rmi": [0.1, 0.9]})
    >>> ex = rmi_examples(ds, "qaq_", {}, keep=None, k=1)
    >>> [g["rows"][0]["question"] for g in ex["groups"]]
    ['b', 'a']
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from datasets import Dataset

from .card import strip_markers

_QUESTION_GUESSES = (("instruction", "input"), ("question",), ("prompt",), ("query",), ("problem",))
_ANSWER_GUESSES = ("output", "answer", "response", "completion", "solution", "canonical_solution")


def _question_columns(recipe: Mapping, columns: list[str]) -> list[str]:
    q = recipe.get("question")
    if isinstance(q, str):
        q = [q]
    if isinstance(q, list) and q and all(c in columns for c in q):
        return q
    for guess in _QUESTION_GUESSES:
        found = [c for c in guess if c in columns]
        if found:
            return found
    return []


def _answer_column(recipe: Mapping, columns: list[str]) -> str | None:
    a = recipe.get("answer")
    if isinstance(a, str) and a in columns:
        return a
    return next((c for c in _ANSWER_GUESSES if c in columns), None)


def truncate(text, max_chars: int, max_lines: int = 12) -> str:
    """``text`` as a string, cut to ``max_chars`` characters and ``max_lines`` lines, with a length note."""
    text = strip_markers("" if text is None else str(text)).strip()
    cut = text[:max_chars]
    lines = cut.split("\n")
    if len(lines) > max_lines:
        cut = "\n".join(lines[:max_lines])
    if len(cut) == len(text):
        return text
    return cut.rstrip() + f" … [{len(text) - len(cut.rstrip())} more characters]"


def fence_for(*texts: str) -> str:
    """A Markdown code fence longer than any backtick run in ``texts``."""
    longest = max((len(m) for t in texts for m in re.findall(r"`+", t)), default=0)
    return "`" * max(3, longest + 1)


def rmi_examples(ds: Dataset, prefix: str, recipe: Mapping, *, keep: np.ndarray | None, k: int = 3,
                 max_chars: int = 300) -> dict | None:
    """``{column, groups: [{title, rows: [{score, status, question, answer, fence}]}]}`` or None.

    The highest- and lowest-RMI rows with a finite score, ``k`` of each.
    """
    col = f"{prefix}rmi"
    if col not in ds.column_names or len(ds) == 0:
        return None
    values = np.asarray(ds.with_format("numpy")[col], dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        return None
    order = finite[np.argsort(values[finite], kind="stable")]
    k = min(k, (order.size + 1) // 2)
    qcols = _question_columns(recipe, ds.column_names)
    acol = _answer_column(recipe, ds.column_names)
    status_col = f"{prefix}status" if f"{prefix}status" in ds.column_names else None
    groups = []
    for title, idx in (("Highest RMI", order[::-1][:k]), ("Lowest RMI", order[:k])):
        rows = ds.select(idx.tolist()).select_columns([c for c in (*qcols, acol, status_col) if c])
        out = []
        for j, i in enumerate(idx.tolist()):
            row = rows[j]
            question = "\n\n".join(str(row[c]) for c in qcols if row[c])
            question = truncate(question, max_chars) if qcols else "(no question column)"
            answer = truncate(row[acol], max_chars) if acol else "(no answer column)"
            status = []
            if keep is not None:
                status.append("kept" if keep[i] else "dropped")
            if status_col and row[status_col] not in (None, "ok"):
                status.append(str(row[status_col]))
            out.append({
                "score": f"{values[i]:.4g}",
                "status": ", ".join(status),
                "question": question,
                "answer": answer,
                "fence": fence_for(question, answer),
            })
        groups.append({"title": title, "rows": out})
    return {"column": col, "groups": groups}
