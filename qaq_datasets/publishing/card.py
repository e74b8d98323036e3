"""Dataset-card data and the merge of a generated section into an existing card.

The card is a ``huggingface_hub.DatasetCard``: YAML front matter (``DatasetCardData``) plus a Markdown
body. The part of the body this library writes sits between :data:`BEGIN` and :data:`END`; everything
outside the markers, and every YAML key it does not own (``configs``/``dataset_info`` written by
``datasets``, keys a person added), is kept when the card is written again.

Examples
    >>> text = merge_card(None, fields={"license": "mit"}, qaq={"seed": 0}, section="hello", title="T")
    >>> card = DatasetCard(text)
    >>> card.data.license, card.data.qaq
    ('mit', {'seed': 0})
    >>> "hello" in generated_section(card.text)
    True
"""

from __future__ import annotations

from collections.abc import Mapping

from huggingface_hub import DatasetCard, DatasetCardData

from .metadata import QAQ_KEY
from .templates import render

BEGIN = "<!-- qaq:begin -->"
END = "<!-- qaq:end -->"

#: Tags every card this library writes carries.
TAGS = ["qaq", "data-selection", "synthetic", "code"]

#: YAML keys the ``datasets`` library owns; never rewritten here.
DATASETS_KEYS = ("configs", "dataset_info")

_SIZE_BOUNDS = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
]


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` label for ``n_rows`` rows (``1234`` → ``"1K<n<10K"``)."""
    for bound, label in _SIZE_BOUNDS:
        if n_rows < bound:
            return label
    return "n>1T"


def card_fields(*, n_rows: int, license: str | None, source_datasets: list[str] | None) -> dict:
    """The library-owned YAML fields of a card (besides ``qaq:``)."""
    fields = {
        "task_categories": ["text-generation"],
        "size_categories": [size_category(n_rows)],
        "tags": list(TAGS),
    }
    if license:
        fields["license"] = license
    if source_datasets:
        fields["source_datasets"] = list(source_datasets)
    return fields


def strip_markers(text: str) -> str:
    """Remove the generated-section markers from text that goes inside the section (e.g. example rows)."""
    return text.replace(BEGIN, "").replace(END, "")


def generated_section(body: str) -> str | None:
    """The text between the markers of a card body, or None when the body has no generated section."""
    start = body.find(BEGIN)
    end = body.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return body[start + len(BEGIN) : end].strip("\n")


def _merge_body(body: str, section: str, title: str) -> str:
    start = body.find(BEGIN)
    end = body.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start >= 0 and end >= 0:
        return f"{body[:start]}{BEGIN}\n{section.strip(chr(10))}\n{END}{body[end + len(END):]}"
    skeleton = render("skeleton.md.j2", title=title, section=section.strip("\n"), begin_marker=BEGIN, end_marker=END)
    if body.strip():
        # a card a person wrote before this library touched it: keep it, add the section after it
        return body.rstrip("\n") + "\n\n" + skeleton.split("\n", 2)[2].lstrip("\n")
    return "\n" + skeleton


def _merge_tags(existing, new: list[str]) -> list[str]:
    tags = list(existing) if isinstance(existing, list) else ([existing] if isinstance(existing, str) else [])
    return tags + [t for t in new if t not in tags]


def merge_card(existing_text: str | None, *, fields: Mapping, qaq: Mapping, section: str, title: str) -> str:
    """Return the card text: ``existing_text`` with ``fields``, the ``qaq:`` block and ``section`` merged in.

    - ``configs``/``dataset_info`` and other YAML keys of the existing card are kept.
    - ``tags`` are unioned; ``license``/``source_datasets`` only replace existing values when given.
    - The body between the markers is replaced (or added); the rest of the body is kept verbatim.
    """
    card = DatasetCard(existing_text) if existing_text and existing_text.strip() else None
    data: DatasetCardData = card.data if card is not None else DatasetCardData()
    body = card.text if card is not None else ""
    for key, value in fields.items():
        if key in DATASETS_KEYS:
            continue
        if key == "tags":
            data["tags"] = _merge_tags(data.get("tags"), list(value))
        elif value is not None:
            data[key] = value
    data[QAQ_KEY] = dict(qaq)
    if data.get("license") is None:
        data["license"] = "unknown"
    order = getattr(card, "_original_order", None) or []
    yaml_text = data.to_yaml(original_order=order) if order else data.to_yaml()
    return str(DatasetCard(f"---\n{yaml_text}\n---\n{_merge_body(body, section, title)}"))


def read_card_data(text: str | None) -> DatasetCardData:
    """Parse a card's text and return its ``DatasetCardData`` (empty for no text)."""
    return DatasetCard(text).data if text and text.strip() else DatasetCardData()


def split_rows(card_text: str | None) -> list[dict]:
    """``[{config, split, rows}]`` for every config and split in the card's ``dataset_info``."""
    info = read_card_data(card_text).get("dataset_info") or []
    if isinstance(info, dict):
        info = [info]
    rows = []
    for entry in sorted(info, key=lambda e: str(e.get("config_name", "default"))):
        for split in entry.get("splits") or []:
            config = entry.get("config_name", "default")
            rows.append({"config": config, "split": split.get("name"), "rows": split.get("num_examples")})
    return rows
