"""``publish_folder``: the CLI's ``qaq publish SCORED_DIR REPO_ID [--selection DIR] [--private] [--dry-run DIR]``.

Publishes from files alone: ``scored_dir`` is a folder written by ``qaq score --out`` (``save_folder`` with
config ``scored`` or ``default``), ``selection_dir`` one written by ``qaq select --out`` (curated rows plus
``qaq_plan.yaml`` and ``qaq_report.json``). The scorer recipes, license and source dataset are carried
over from the scored folder's card.

Input columns
    As :func:`qaq_datasets.publish`; ``qaq_keep``/``qaq_drop_reason`` in the scored rows are used for the
    kept/dropped figures when present, else the curated rows are matched back to the scored rows.

Output columns
    As :func:`qaq_datasets.publish`.

Examples
    >>> publish_folder("out/scored", "me/curated-code", selection_dir="out/selected")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from .card import read_card_data
from .load import load_scored, read_card_text
from .push import publish
from .selection_data import SelectionData


def publish_folder(
    scored_dir: str | os.PathLike,
    repo_id: str,
    *,
    selection_dir: str | os.PathLike | None = None,
    private: bool = False,
    dry_run: str | os.PathLike | None = None,
    token: str | None = None,
    source: str | None = None,
    license: str | None = None,
    curated_only: bool = False,
):
    """Publish a scored folder (and a selection folder) to ``repo_id``, or to the ``dry_run`` folder.

    Returns what :func:`qaq_datasets.publish` returns (the repo URL or the dry-run folder).
    """
    scored, metadata = load_scored(scored_dir)
    card = read_card_data(read_card_text(Path(scored_dir)))
    sources = card.get("source_datasets") or []
    if source is None and isinstance(sources, list) and len(sources) == 1 and isinstance(sources[0], str):
        source = sources[0]
    if license is None and card.get("license") not in (None, "unknown"):
        license = card.get("license")
    selection = SelectionData.from_folder(selection_dir) if selection_dir is not None else None
    return publish(
        repo_id, scored, selection, private=private, token=token, dry_run=dry_run, source=source,
        license=license, curated_only=curated_only, metadata=metadata,
    )
