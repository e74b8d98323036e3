"""The dataset card: ``huggingface_hub.DatasetCard`` YAML plus a body rendered from the Jinja templates in ``cards/``.

The part of the body this library writes sits between :data:`BEGIN` and :data:`END`; everything outside
the markers, and every YAML key it does not set (``configs``/``dataset_info`` written by ``datasets``,
keys a person added), is kept when the card is written again.

The card draws no figures: the Hub's dataset viewer shows the distribution of every score column, for the
``scored`` and the ``curated`` config.

Input columns
    ``{p}rmi`` (float), ``{p}status`` (string) and the text columns the scorer read, for the example rows: those of
    the scorer recipe, else found as the scorer finds them (every data shape of ``qaq_datasets.scoring.data_shapes``:
    a ``messages`` column, ``prompt``/``completion``, ``instruction`` (+ ``input``)/``output``, ``problem``/
    ``solution``, ...).

Output columns
    None: the card text.

Examples
    >>> text = merge_card(None, fields={"license": "mit"}, qaq={"seed": 0}, section="hello", title="T")
    >>> card = DatasetCard(text)
    >>> card.data.license, card.data.qaq
    ('mit', {'seed': 0})
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml
from huggingface_hub import DatasetCard
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from .._version import __version__
from ..errors import ColumnError, ConfigError
from ..scoring.data_shapes import parse_batch, resolve_columns
from ..scoring.schema import ScoreColumns

README, PLAN_FILE, REPORT_FILE = "README.md", "qaq_plan.yaml", "qaq_report.json"
BEGIN = "<!-- qaq:begin -->"
END = "<!-- qaq:end -->"
_SECTION = re.compile(f"{re.escape(BEGIN)}(.*?){re.escape(END)}", re.S)

_SIZES = ["1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B", "1T"]


@functools.lru_cache(maxsize=None)
def template(name: str):
    """The Jinja template ``cards/<name>`` (``template(name).render(**context)``)."""
    import jinja2

    # cards/ ships as qaq_datasets/cards; in a source checkout it sits at the repository root
    loader = jinja2.FileSystemLoader([p / "cards" for p in Path(__file__).resolve().parents[1:3]])
    env = jinja2.Environment(loader=loader, trim_blocks=True, keep_trailing_newline=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals.update(library_version=__version__, plan_file=PLAN_FILE, report_file=REPORT_FILE)
    env.filters["g"] = lambda x: "–" if x is None else f"{float(x):.4g}"
    env.filters["fence"] = lambda text: "`" * max(3, 1 + max(map(len, re.findall(r"`+", text)), default=0))
    return env.get_template(name)


def check_counts(ds) -> list[dict]:
    """``[{name, flagged, checked}]`` of each text-check column of ``ds`` (``check_*``), for the card."""
    import pyarrow.compute as pc

    from ..checks import COLUMN_PREFIX, check_columns

    cols = check_columns(ds.column_names, ds.features)
    table = ds.select_columns(cols).with_format("arrow")[:] if cols else None
    return [{"name": c.removeprefix(COLUMN_PREFIX), "flagged": pc.sum(table[c]).as_py() or 0,
             "checked": len(table) - table[c].null_count} for c in cols]


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` label for ``n_rows`` rows (``1234`` → ``"1K<n<10K"``)."""
    i = max(len(str(n_rows)) - 3, 0)  # 10 ** (i + 2) <= n_rows < 10 ** (i + 3)
    return "n>1T" if i >= len(_SIZES) else f"{_SIZES[i - 1]}<n<{_SIZES[i]}" if i else f"n<{_SIZES[0]}"


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors and aliases: a few nested aliases in a 1 KB file expand to gigabytes
    once the value is copied, converted or printed."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str, where: str):
    """Parse YAML (or JSON) that comes from outside (a plan file, a card): plain types only (``SafeLoader``: a tag
    such as ``!!python/object`` is an error), no anchors or aliases. Any failure is one :class:`ConfigError` naming
    ``where`` and the line, never repeating the text."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, RecursionError, ValueError) as exc:  # ValueError: a value the loader cannot convert
        mark = getattr(exc, "problem_mark", None)  # only a YAMLError has one
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        why = ("it is nested too deeply" if isinstance(exc, RecursionError) else
               "a value could not be converted (e.g. an integer of thousands of digits)" if isinstance(exc, ValueError)
               else " ".join(str(getattr(exc, "problem", None) or type(exc).__name__).split())[:160])
        raise ConfigError(f"{where} could not be read (YAML{at}): {why}.") from None


def parse_card(text: str | None, where: str) -> DatasetCard:
    """The ``DatasetCard`` of a card's text (an empty card for no text), its YAML read with :func:`load_yaml` first."""
    if text and (m := REGEX_YAML_BLOCK.search(text)):  # the YAML block exactly as huggingface_hub finds it
        load_yaml(m[2], f"the card (README.md) of {where}")
    try:
        return DatasetCard(text if text and text.strip() else "---\n{}\n---\n")  # no "metadata not found" log
    except (ValueError, TypeError) as exc:  # a list, or names that are not strings
        raise ConfigError(f"The card (README.md) of {where} has a YAML block that is not a mapping of names: "
                          f"{str(exc)[:160]}") from None


def merge_card(existing_text: str | None, *, fields: Mapping, qaq: Mapping, section: str, title: str,
               where: str = "the folder") -> str:
    """Return the card text: ``existing_text`` (the card of ``where``) with ``fields``, the ``qaq:`` block and
    ``section`` merged in.

    - YAML keys not in ``fields`` are kept; ``tags`` are unioned; a None field leaves the key as it is.
    - The body between the markers is replaced (or added after a person's text); the rest is kept verbatim.
    """
    card = parse_card(existing_text, where)
    for key, value in fields.items():
        if key == "tags":
            old = card.data.get("tags") or []
            card.data["tags"] = list(dict.fromkeys([*([old] if isinstance(old, str) else old), *value]))
        elif value is not None:
            card.data[key] = value
    card.data["qaq"], card.data["license"] = dict(qaq), card.data.get("license") or "unknown"
    body, section = card.text, f"{BEGIN}\n{section.strip(chr(10))}\n{END}"
    # replace the section; else keep a person's card (written before this library touched it) and add it after
    card.text = (_SECTION.sub(lambda _: section, body, count=1) if _SECTION.search(body) else
                 f"{body.rstrip(chr(10))}\n\n{section}\n" if body.strip() else f"\n# {title}\n\n{section}\n")
    return str(card)


def truncate(text, max_chars: int = 300, max_lines: int = 12) -> str:
    """``text`` as a string, cut to ``max_chars`` characters and ``max_lines`` lines, with a length note."""
    text = "" if text is None else str(text)
    while BEGIN in text or END in text:  # removing one marker may join the pieces of another
        text = text.replace(BEGIN, "").replace(END, "")
    text = text.strip()
    cut = "\n".join(text[:max_chars].split("\n")[:max_lines]).rstrip()
    return text if cut == text else f"{cut} … [{len(text) - len(cut)} more characters]"


def example_columns(recipe: Mapping, names: list[str]) -> dict | None:
    """The columns the example rows' texts come from, as the scorer finds them (``resolve_columns``): the recipe's
    question/answer or messages where the rows hold them, else the data shape of the column names; None if none fits."""
    given = {k: [v] if k == "question" and isinstance(v, str) else v
             for k in ("question", "answer", "messages") if (v := recipe.get(k))}
    named = [c for v in given.values() for c in (v if isinstance(v, list) else [v])]
    try:
        return resolve_columns(names, **(given if all(isinstance(c, str) and c in names for c in named) else {}))
    except ColumnError:
        return None


def _texts(row: Mapping, cols: dict | None) -> tuple[str | None, str | None]:
    """A row's question and answer as the scorer reads them (a conversation's earlier turns, then its last one)."""
    parsed = cols and parse_batch({c: [cell] for c, cell in row.items()}, cols)[0]  # a batch of one row
    return (truncate("\n\n".join(parsed[1])), truncate(parsed[3])) if isinstance(parsed, tuple) else (None, None)


def rmi_examples(ds, prefix: str, recipe: Mapping, keep: np.ndarray | None, k: int = 3) -> dict | None:
    """``{column, groups: [{title, rows: [{score, status, question, answer}]}]}`` or None.

    The ``k`` highest- and lowest-``{prefix}rmi`` rows with a finite score.
    """
    sc = ScoreColumns(prefix)
    values = np.asarray(ds.with_format("numpy")[sc.rmi], dtype=np.float64)  # publish checked the score columns
    order = np.flatnonzero(np.isfinite(values))
    order = order[np.argsort(values[order], kind="stable")]
    k = min(k, (order.size + 1) // 2)
    cols = example_columns(recipe, ds.column_names)
    return {"column": sc.rmi, "groups": [{"title": title, "rows": [
        {"score": values[i], "kept": None if keep is None else bool(keep[i]),
         "status": row[sc.status] if row[sc.status] not in (None, "ok") else None,
         **dict(zip(("question", "answer"), _texts(row, cols)))} for i, row in zip(idx.tolist(), ds.select(idx))]}
        for title, idx in (("Highest RMI", order[::-1][:k]), ("Lowest RMI", order[:k]))]} if order.size else None
