"""Load a pre-scored dataset, with its ``qaq:`` metadata, from the Hub or a local folder.

Input columns
    For every scorer prefix ``p`` of the card's ``qaq:`` block (or, when it lists none, every prefix
    found in the columns): the score columns of ``qaq_datasets.scoring.schema``.

Output columns
    Unchanged.

Examples
    >>> check_repo_id("me/curated-code")
    'me/curated-code'
    >>> scored, metadata = load_scored("me/curated-code")                # doctest: +SKIP
    >>> scored, metadata = load_scored("out/scored", split="train")      # doctest: +SKIP
    >>> selection = Selector.from_dict(metadata["selection"]).fit(scored)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets import Dataset, DatasetDict

from ..errors import ColumnError, ConfigError, ConfigTypeError
from ..inputs import looks_like_hub_id
from ..scoring.schema import check_score_columns
from .card import read_card_data
from .metadata import inferred_scorers, prefixes_for, validate_metadata


def check_repo_id(repo_id, *, what: str = "repo_id") -> str:
    """Return ``repo_id`` if it is a valid ``namespace/name`` (or ``name``) Hub id, else raise ConfigError."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str):
        raise ConfigTypeError(f"{what} must be a string like 'namespace/name', got {type(repo_id).__name__}.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ConfigError(f"{what} {repo_id!r} is not a valid Hub repo id (expected 'namespace/name': letters, "
                          f"digits, '-', '_', '.'; at most 96 characters). {exc}") from exc
    return repo_id


def read_card_text(repo_or_folder, *, revision: str | None = None, token: str | None = None) -> str | None:
    """The README.md text of a local folder or a Hub dataset repo (None when it has none)."""
    folder = Path(repo_or_folder).expanduser()
    if folder.is_dir():
        return (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        path = hf_hub_download(str(repo_or_folder), "README.md", repo_type="dataset", revision=revision, token=token)
    except EntryNotFoundError:
        return None
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        at = f" at revision {revision!r}" if revision else ""
        raise ConfigError(f"{str(repo_or_folder)!r} is neither a local folder nor a Hub dataset repo{at}.") from exc
    return Path(path).read_text(encoding="utf-8")


def load_scored(repo_or_folder: str | os.PathLike, config: str = "scored", split: str | None = None, *,
                revision: str | None = None, token: str | None = None) -> tuple[Dataset | DatasetDict, dict]:
    """Load scored rows and the ``qaq:`` metadata of their card, checking the score columns against it.

    ``repo_or_folder`` is a Hub dataset repo id or a folder written by ``save_folder``/``publish(dry_run=...)``
    (a path that is not an existing folder is never sent to the Hub unless it is a valid repo id). When
    ``config`` is the default ``"scored"`` and the source has no such config but a ``default`` one, that one
    is loaded. Returns ``(dataset, metadata)``: a ``DatasetDict`` (or a ``Dataset`` when ``split`` is given)
    and the ``qaq:`` block (``scorers`` inferred from the columns when the card has none).

    Raises :class:`ColumnError` when a score column is missing or has the wrong type, and
    :class:`ConfigError` for an unknown source or config.
    """
    from datasets import load_dataset

    local = Path(repo_or_folder).expanduser().is_dir()
    where = f"{'Folder' if local else 'Dataset repo'} {str(repo_or_folder)!r}"
    if not local and not looks_like_hub_id(str(repo_or_folder)):  # a mistyped folder is never sent to the Hub
        raise ConfigError(f"Folder {str(repo_or_folder)!r} does not exist (and it is no Hub dataset repo id).")
    if not local:
        check_repo_id(str(repo_or_folder), what="repo_or_folder (not an existing folder, so a repo id)")
    card = read_card_data(read_card_text(repo_or_folder, revision=None if local else revision, token=token))
    meta = validate_metadata(card.get("qaq"))
    names = [str(c.get("config_name", "default")) for c in card.get("configs") or [] if isinstance(c, dict)]
    name = config if config in names or not names else "default" if config == "scored" and "default" in names else None
    if name is None:
        raise ConfigError(f"{where} has no config {config!r}; it has: {', '.join(names)}.")
    path = str(Path(repo_or_folder).expanduser()) if local else str(repo_or_folder)
    ds = load_dataset(path, name if names else None, split=split, **({} if local else {"revision": revision,
                                                                                          "token": token}))
    for split_name, part in ds.items() if isinstance(ds, DatasetDict) else [(split, ds)]:
        if not (prefixes := prefixes_for(meta, part.column_names)):
            raise ColumnError(f"{where} (config {name!r}) has no score columns and its card lists no scorers.",
                              available=part.column_names)
        check_score_columns(part.features, prefixes, where=f"{where}, config {name!r}, split {split_name!r}")
    meta["scorers"] = meta.get("scorers") or inferred_scorers(prefixes)
    return ds, meta
