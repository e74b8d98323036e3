"""Jinja templates of the dataset cards, shipped as package data of ``qaq_datasets.cards``.

Examples
    >>> "qaq:begin" in render("skeleton.md.j2", title="t", section="s",
    ...                       begin_marker="<!-- qaq:begin -->", end_marker="<!-- qaq:end -->")
    True
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path


def _template_text(name: str) -> str:
    try:
        return (resources.files("qaq_datasets.cards") / name).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        # a source checkout that is not installed: cards/ sits at the repository root
        return (Path(__file__).resolve().parents[2] / "cards" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_text),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context) -> str:
    """Render the template ``cards/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)
