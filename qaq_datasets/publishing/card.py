"""The dataset card: ``huggingface_hub.DatasetCard`` YAML plus a body rendered from the Jinja templates in ``cards/``.

The part of the body this library writes sits between :data:`BEGIN` and :data:`END`; everything outside
the markers, and every YAML key it does not set (``configs``/``dataset_info`` written by ``datasets``,
keys a person added), is kept when the card is written again.

Input columns
    ``{p}rmi`` (float), ``{p}status`` (string) and the question/answer text columns named by the scorer
    recipe (else ``instruction``/``input``, ``question``, ``prompt`` and ``output``, ``answer``,
    ``response``, ``completion``), for the example rows.

Output columns
    None.

Examples
    >>> text = merge_card(None, fields={"license": "mit"}, qaq={"seed": 0}, section="hello", title="T")
    >>> card = DatasetCard(text)
    >>> card.data.license, card.data.qaq
    ('mit', {'seed': 0})
    >>> generated_section(card.text)
    'hello'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
from huggingface_hub import DatasetCard, DatasetCardData

BEGIN = "<!-- qaq:begin -->"
END = "<!-- qaq:end -->"

#: Tags every card this library writes carries.
TAGS = ["qaq", "data-selection", "synthetic", "code"]

_SIZES = ["1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B", "1T"]
_QUESTION_GUESSES = (("instruction", "input"), ("question",), ("prompt",))
_ANSWER_GUESSES = ("output", "answer", "response", "completion")


def _template_text(name: str) -> str:
    try:
        return (resources.files("qaq_datasets.cards") / name).read_text(encoding="utf-8")
    except ModuleNotFoundError:  # a source checkout that is not installed: cards/ sits at the repository root
        return (Path(__file__).resolve().parents[2] / "cards" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FunctionLoader(_template_text), autoescape=False, trim_blocks=True,
                             keep_trailing_newline=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["g"] = lambda x: "–" if x is None else f"{float(x):.4g}"
    return env


def render(name: str, **context) -> str:
    """Render the template ``cards/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` label for ``n_rows`` rows (``1234`` → ``"1K<n<10K"``)."""
    for i, name in enumerate(_SIZES):
        if n_rows < 10 ** (i + 3):
            return f"{_SIZES[i - 1]}<n<{name}" if i else f"n<{name}"
    return "n>1T"


def read_card_data(text: str | None) -> DatasetCardData:
    """Parse a card's text and return its ``DatasetCardData`` (empty for no text)."""
    return DatasetCard(text).data if text and text.strip() else DatasetCardData()


def generated_section(body: str) -> str | None:
    """The text between the markers of a card body, or None when the body has no generated section."""
    start = body.find(BEGIN)
    end = body.find(END, start + len(BEGIN)) if start >= 0 else -1
    return body[start + len(BEGIN) : end].strip("\n") if start >= 0 and end >= 0 else None


def merge_card(existing_text: str | None, *, fields: Mapping, qaq: Mapping, section: str, title: str) -> str:
    """Return the card text: ``existing_text`` with ``fields``, the ``qaq:`` block and ``section`` merged in.

    - YAML keys not in ``fields`` are kept; ``tags`` are unioned; a None field leaves the key as it is.
    - The body between the markers is replaced (or added after a person's text); the rest is kept verbatim.
    """
    card = DatasetCard(existing_text if existing_text and existing_text.strip() else "---\n{}\n---\n")
    for key, value in fields.items():
        if key == "tags":
            old = card.data.get("tags") or []
            old = [old] if isinstance(old, str) else list(old)
            card.data["tags"] = old + [t for t in value if t not in old]
        elif value is not None:
            card.data[key] = value
    card.data["qaq"] = dict(qaq)
    if card.data.get("license") is None:
        card.data["license"] = "unknown"
    body, section = card.text, f"{BEGIN}\n{section.strip(chr(10))}\n{END}"
    start = body.find(BEGIN)
    end = body.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start >= 0 and end >= 0:
        card.text = body[:start] + section + body[end + len(END):]
    elif body.strip():  # a card a person wrote before this library touched it: keep it, add the section after it
        card.text = f"{body.rstrip(chr(10))}\n\n{section}\n"
    else:
        card.text = f"\n# {title}\n\n{section}\n"
    return str(card)


def card_fields(*, n_rows: int, license: str | None, source: str | None) -> dict:
    """The library-owned YAML fields of a published card (besides ``qaq:``)."""
    return {"task_categories": ["text-generation"], "size_categories": [size_category(n_rows)], "tags": TAGS,
            "license": license, "source_datasets": [source] if source else None}


def truncate(text, max_chars: int = 300, max_lines: int = 12) -> str:
    """``text`` as a string, cut to ``max_chars`` characters and ``max_lines`` lines, with a length note."""
    text = ("" if text is None else str(text)).replace(BEGIN, "").replace(END, "").strip()
    cut = "\n".join(text[:max_chars].split("\n")[:max_lines]).rstrip()
    return text if cut == text else f"{cut} … [{len(text) - len(cut)} more characters]"


def _columns(recipe: Mapping, columns: list[str]) -> tuple[list[str], str | None]:
    q, a = recipe.get("question"), recipe.get("answer")
    q = [q] if isinstance(q, str) else q
    if not (isinstance(q, list) and q and all(c in columns for c in q)):
        q = next(([c for c in g if c in columns] for g in _QUESTION_GUESSES if any(c in columns for c in g)), [])
    a = a if a in columns else next((c for c in _ANSWER_GUESSES if c in columns), None)
    return q, a


def rmi_examples(ds, prefix: str, recipe: Mapping, keep: np.ndarray | None, k: int = 3) -> dict | None:
    """``{column, groups: [{title, rows: [{score, status, question, answer, fence}]}]}`` or None.

    The ``k`` highest- and lowest-``{prefix}rmi`` rows with a finite score.
    """
    col = f"{prefix}rmi"
    values = np.asarray(ds.with_format("numpy")[col], dtype=np.float64) if col in ds.column_names else np.zeros(0)
    order = np.flatnonzero(np.isfinite(values))
    if not order.size:
        return None
    order = order[np.argsort(values[order], kind="stable")]
    k = min(k, (order.size + 1) // 2)
    qcols, acol = _columns(recipe, ds.column_names)
    status = f"{prefix}status" if f"{prefix}status" in ds.column_names else None
    groups = []
    for title, idx in (("Highest RMI", order[::-1][:k]), ("Lowest RMI", order[:k])):
        rows = []
        for i, row in zip(idx.tolist(), ds.select(idx.tolist())):
            question = truncate("\n\n".join(str(row[c]) for c in qcols if row[c])) if qcols else "(no question column)"
            answer = truncate(row[acol]) if acol else "(no answer column)"
            notes = ([] if keep is None else ["kept" if keep[i] else "dropped"])
            notes += [str(row[status])] if status and row[status] not in (None, "ok") else []
            ticks = max((len(m) for m in re.findall(r"`+", question + answer)), default=0)
            rows.append({"score": f"{values[i]:.4g}", "status": ", ".join(notes), "question": question,
                         "answer": answer, "fence": "`" * max(3, ticks + 1)})
        groups.append({"title": title, "rows": rows})
    return {"column": col, "groups": groups}
