"""Load a pre-scored dataset, with its ``qaq:`` metadata, from the Hub or a local folder.

Input columns
    For every scorer prefix ``p`` of the card's ``qaq:`` block (or, when it lists none, every prefix
    found in the columns): ``{p}nll_q``, ``{p}nll_q_given_a``, ``{p}nll_a``, ``{p}nll_a_given_q``,
    ``{p}rmi``, ``{p}ifd`` (float), ``{p}q_tokens``, ``{p}a_tokens`` (int), ``{p}status`` (string).

Output columns
    Unchanged.

Examples
    >>> scored, metadata = load_scored("me/curated-code")                # doctest: +SKIP
    >>> scored, metadata = load_scored("out/scored", split="train")      # doctest: +SKIP
    >>> selection = Selector.from_dict(metadata["selection"]).fit(scored)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets import Dataset, DatasetDict

from ..errors import ColumnError, ConfigError
from .card import read_card_data
from ..scoring.schema import check_score_columns
from .metadata import inferred_scorers, metadata_from_card_data, prefixes_for
from .repo_id import check_repo_id

README = "README.md"


def is_folder(repo_or_folder: str | os.PathLike) -> bool:
    """True when the argument names an existing local directory."""
    return Path(repo_or_folder).expanduser().is_dir()


def read_card_text(
    repo_or_folder: str | os.PathLike, *, revision: str | None = None, token: str | None = None
) -> str | None:
    """The README.md text of a folder or Hub dataset repo (None when it has none)."""
    if is_folder(repo_or_folder):
        path = Path(repo_or_folder).expanduser() / README
        return path.read_text(encoding="utf-8") if path.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        path = hf_hub_download(str(repo_or_folder), README, repo_type="dataset", revision=revision, token=token)
    except EntryNotFoundError:
        return None
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ConfigError(
            f"{str(repo_or_folder)!r} is neither a local folder nor a dataset repo on the Hub"
            f"{f' at revision {revision!r}' if revision else ''}."
        ) from exc
    return Path(path).read_text(encoding="utf-8")


def config_names(card_data) -> list[str]:
    """The config names listed under ``configs:`` in a card's YAML."""
    configs = card_data.get("configs") or []
    if isinstance(configs, dict):
        configs = [configs]
    return [str(c.get("config_name", "default")) for c in configs if isinstance(c, dict)]


def resolve_config(card_data, config: str | None, *, where: str, fallback: str | None = None) -> str | None:
    """The config to load: ``config`` if the card lists it, else per ``fallback``.

    ``fallback="default"``: the ``default`` config; ``fallback="only"``: the only config there is.
    A card without ``configs:`` gives None (``datasets`` then finds the files itself).
    """
    names = config_names(card_data)
    if config in names:
        return config
    if not names:
        return None
    if fallback == "only" and len(names) == 1:
        return names[0]
    if fallback in ("default", "only") and "default" in names:
        return "default"
    raise ConfigError(f"{where} has no config {config!r}; it has: {', '.join(names)}.")


def load_folder_config(folder: str | os.PathLike, config: str) -> DatasetDict:
    """All splits of one config of a Hub-layout folder (the only config when ``config`` is absent)."""
    from datasets import load_dataset

    folder = Path(folder).expanduser()
    card_data = read_card_data(read_card_text(folder))
    name = resolve_config(card_data, config, where=f"Folder {str(folder)!r}", fallback="only")
    return load_dataset(str(folder), name)


def load_scored(
    repo_or_folder: str | os.PathLike,
    config: str = "scored",
    split: str | None = None,
    *,
    revision: str | None = None,
    token: str | None = None,
) -> tuple[Dataset | DatasetDict, dict]:
    """Load scored rows and the ``qaq:`` metadata of their card, checking the score columns against it.

    ``repo_or_folder`` is a Hub dataset repo id or a folder written by ``save_folder``/``publish(dry_run=...)``.
    When ``config`` is the default ``"scored"`` and the source has no such config but a ``default`` one
    (``save_folder(dir, {"default": ...})``), that one is loaded. Returns ``(dataset, metadata)``: a
    ``DatasetDict`` (or a ``Dataset`` when ``split`` is given) and the ``qaq:`` block as a dict
    (``scorers`` inferred from the columns when the card has none).

    Raises :class:`ColumnError` when a score column is missing or has the wrong type, and
    :class:`ConfigError` for an unknown source or config.
    """
    from datasets import load_dataset

    local = is_folder(repo_or_folder)
    where = f"{'Folder' if local else 'Dataset repo'} {str(repo_or_folder)!r}"
    if not local:
        check_repo_id(str(repo_or_folder), what="repo_or_folder (not an existing folder, so a repo id)")
    card_text = read_card_text(repo_or_folder, revision=None if local else revision, token=token)
    card_data = read_card_data(card_text)
    meta = metadata_from_card_data(card_data)
    name = resolve_config(card_data, config, where=where, fallback="default" if config == "scored" else None)
    path = str(Path(repo_or_folder).expanduser()) if local else str(repo_or_folder)
    kwargs = {} if local else {"revision": revision, "token": token}
    ds = load_dataset(path, name, split=split, **kwargs)
    parts = ds.items() if isinstance(ds, DatasetDict) else [(split, ds)]
    for split_name, part in parts:
        prefixes = prefixes_for(meta, part.column_names)
        if not prefixes:
            raise ColumnError(
                f"{where} (config {name or 'default'!r}) has no score columns and its card lists no scorers.",
                available=part.column_names,
            )
        label = f"{where}, config {name or 'default'!r}, split {split_name!r}"
        check_score_columns(part.features, prefixes, where=label)
    if not meta.get("scorers"):
        meta["scorers"] = inferred_scorers(prefixes)
    return ds, meta
