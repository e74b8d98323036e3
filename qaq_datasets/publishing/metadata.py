"""The ``qaq:`` block of a dataset card: validate it, build it for a publish, and load scored rows with it.

The block (see ``docs/architecture.md``) records everything needed to reproduce a scored or curated
data set: library version, one recipe per scorer prefix, the selection plan, the rows it was fitted on
(``fitted_on``: count and sha256 of the score columns) and the seed. :func:`load_scored` loads a pre-scored
dataset, with its block, from the Hub or a local folder.

Input columns
    For :func:`load_scored`, for every scorer prefix ``p`` of the card's ``qaq:`` block (or, when it lists
    none, every prefix found in the columns): the score columns of ``qaq_datasets.scoring.schema``.

Output columns
    Unchanged.

Examples
    >>> prefixes_for({"scorers": {"strong": {"prefix": "strong_"}, "weak": {}}}, [])
    ['strong_', 'weak_']
    >>> scored, metadata = load_scored("me/curated-code")                # doctest: +SKIP
    >>> scored, metadata = load_scored("out/scored", split="train")      # doctest: +SKIP
    >>> selection = Selector.from_dict(metadata["selection"]).fit(scored)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                   RevisionNotFoundError)

from ..errors import ColumnError, ConfigError, first_line, shown
from ..files import to_builtin
from ..inputs import looks_like_hub_id
from ..scoring.schema import ScoreColumns, check_prefix, check_score_columns, infer_prefixes
from .card import README, parse_card


def validate_metadata(meta: Any) -> dict:
    """Check the shape of a ``qaq:`` block and return a plain copy of it.

    Raises :class:`ConfigError` when the block is not a mapping, or ``scorers`` is not a mapping of
    name → recipe whose ``prefix`` (default ``{name}_``) is a scorer prefix (``schema.check_prefix``: prefixes
    name columns).
    """
    if not isinstance(meta, Mapping | None):
        raise ConfigError(f"The qaq: metadata block must be a mapping, got {type(meta).__name__}.")
    meta = to_builtin(dict(meta or {}))
    scorers = meta.get("scorers")
    if scorers is not None and not (isinstance(scorers, dict) and all(isinstance(r, dict) for r in scorers.values())):
        raise ConfigError(f"qaq.scorers must be a mapping of name -> recipe (a mapping), got {str(scorers)[:80]}.")
    for name, recipe in (scorers or {}).items():
        check_prefix(recipe_prefix(name, recipe), f"qaq.scorers.{name[:40]}.prefix")
        for key, (kind, want) in _RECIPE_TYPES.items():  # the fields later code reads; a hand-edited card may differ
            value = recipe.get(key)
            items = value if key == "question" and isinstance(value, list) else [value]  # a question may be a list
            if value is not None and not all(isinstance(v, kind) for v in items):
                raise ConfigError(f"qaq.scorers.{name[:40]}.{key} must be {want}, got {str(value)[:80]}.")
    return meta


_RECIPE_TYPES = {"model": (dict, "a mapping (spec, revision, ...)"), "answer": (str, "a column name"),
                 "question": (str, "a column name or a list of column names"), "messages": (str, "a column name")}


def recipe_prefix(name: str, recipe: Mapping) -> str:
    """The column prefix of the scorer ``name`` of a ``qaq:`` block: its recipe's ``prefix``, else the name's."""
    return recipe.get("prefix", ScoreColumns.named(name).prefix)


def inferred_scorers(prefixes: Iterable[str]) -> dict:
    """A minimal ``scorers`` mapping for prefixes whose recipes are unknown."""
    return {ScoreColumns(p).name: {"prefix": p} for p in prefixes}


def prefixes_for(meta: Mapping | None, columns: list[str], where: str = "The scored rows") -> list[str]:
    """Prefixes from the block's scorers, or inferred from the columns (with a warning) when it has none;
    ColumnError when there are neither."""
    prefixes = [str(recipe_prefix(n, r)) for n, r in ((meta or {}).get("scorers") or {}).items()]
    if not prefixes and (prefixes := [check_prefix(p, "the score-column prefix found in the column names")
                                      for p in infer_prefixes(columns)]):
        warnings.warn(f"No scorers in the qaq: metadata; inferred score-column prefixes {prefixes} from the column "
                      "names. Scorer recipes (model, template) are unknown.", stacklevel=3)
    if not prefixes:
        raise ColumnError(f"{where}: no score columns ({{p}}rmi, {{p}}nll_q, {{p}}status, ...) and no scorers in the "
                          "qaq: metadata.", available=columns)
    return prefixes


def text_columns_for(meta: Mapping | None) -> dict | None:
    """The question/answer (or messages) columns the block's first scorer with known columns read, or None."""
    for recipe in ((meta or {}).get("scorers") or {}).values():
        if recipe.get("answer") or recipe.get("messages"):
            return {k: recipe[k] for k in ("question", "answer", "messages") if recipe.get(k)}
    return None


def read_card_text(repo_or_folder, *, revision: str | None = None, token: str | None = None,
                   hub: bool = False) -> str | None:
    """The README.md text of a local folder or a Hub dataset repo (None when it has none); with ``hub``, of the Hub
    dataset repo even where a local folder has its name."""
    folder = Path(repo_or_folder).expanduser()
    try:
        path = folder / README if folder.is_dir() and not hub else Path(hf_hub_download(
            str(repo_or_folder), README, repo_type="dataset", revision=revision, token=token))
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except UnicodeDecodeError:
        raise ConfigError(f"The card {str(path)!r} is not UTF-8 text.") from None
    except LocalEntryNotFoundError as exc:  # offline, or the Hub could not be reached (and nothing is cached)
        raise ConfigError(f"{str(repo_or_folder)!r} is not a local folder, and the Hub could not be reached to look "
                          "for a dataset repo of that name.") from exc
    except EntryNotFoundError:
        return None
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ConfigError(f"{str(repo_or_folder)!r} is neither a local folder nor a Hub dataset repo"
                          f"{f' at revision {revision!r}' if revision else ''}.") from exc


def _check_data_files(folder: Path, data_files) -> None:
    """Check that every data file ``load_dataset`` resolved for a folder's config (``datasets`` found them, so they
    exist) is inside the folder and, for parquet, has a readable footer; ValueError naming the file otherwise."""
    import pyarrow.parquet as pq

    for file in map(Path, (f for files in (data_files or {}).values() for f in files)):
        if not file.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"its data file {str(file)[:200]!r} is outside the folder or a link to a file outside "
                             "the folder")
        if file.suffix == ".parquet":
            try:
                pq.read_metadata(file)
            except Exception as exc:  # noqa: BLE001 - ArrowInvalid, OSError: a file cut short
                raise ValueError(f"the data file {str(file)!r} is not a readable parquet file "
                                 f"({first_line(exc, 120)}); write the folder again") from None


def load_scored(repo_or_folder: str | os.PathLike, config: str = "scored", split: str | None = None, *,
                revision: str | None = None, token: str | None = None) -> tuple[Dataset | DatasetDict, dict]:
    """Load scored rows and the ``qaq:`` metadata of their card, checking the score columns against it.

    ``repo_or_folder`` is a Hub dataset repo id or a folder written by ``save_folder``/``publish(dry_run=...)``
    (a path that is not an existing folder is never sent to the Hub unless it is a valid ``owner/name`` repo id). When
    ``config`` is the default ``"scored"`` and the source has no such config but a ``default`` one, that one
    is loaded. Returns ``(dataset, metadata)``: a ``DatasetDict`` (or a ``Dataset`` when ``split`` is given)
    and the ``qaq:`` block (``scorers`` inferred from the columns when the card has none).

    Raises :class:`ColumnError` when a score column is missing or has the wrong type, and
    :class:`ConfigError` (one line) for an unknown source, a card that cannot be read, a data file of a folder
    that is missing, truncated or outside the folder, or anything else ``load_dataset`` raises (an unknown config
    or split: ``load_dataset`` names the ones there are).
    """
    from datasets import load_dataset_builder

    if not isinstance(repo_or_folder, (str, os.PathLike)) or not str(repo_or_folder).strip():
        raise ConfigError(f"load_scored needs a folder or a Hub dataset repo id (owner/name), got "
                          f"{shown(repo_or_folder)}.")
    src = str(repo_or_folder)
    path = os.path.expanduser(src)  # a Hub id is left as it is
    local = Path(path).is_dir()
    where = f"{'Folder' if local else 'Dataset repo'} {src!r}"
    if not local and ("/" not in src or not looks_like_hub_id(src)):
        # a mistyped folder is never sent to the Hub; scored rows are published as owner/name, never bare names
        raise ConfigError(f"Folder {src!r} does not exist (and it is no Hub dataset repo id: owner/name).")
    card = parse_card(read_card_text(path, revision=revision, token=token), where[0].lower() + where[1:]).data
    meta = validate_metadata(card.get("qaq"))
    configs = {str(c.get("config_name", "default")): c for c in card.get("configs") or [] if isinstance(c, dict)}
    # an unknown config is load_dataset's one line naming the configs
    name = "default" if config == "scored" and "scored" not in configs and "default" in configs else config
    try:  # load_dataset's own steps, with the data files it resolved checked before they are read
        builder = load_dataset_builder(path, name if configs else None, revision=revision, token=token)
        if local:
            _check_data_files(Path(path), builder.config.data_files)
        builder.download_and_prepare()
        ds = builder.as_dataset(split=split)
    except Exception as exc:  # noqa: BLE001 - a bad or missing data file, the Hub: one line, cut
        raise ConfigError(f"{where} (config {name!r}) could not be loaded: {first_line(exc, 400)}") from None
    for split_name, part in ds.items() if isinstance(ds, DatasetDict) else [(split, ds)]:
        prefixes = prefixes_for(meta, part.column_names, f"{where} (config {name!r})")
        check_score_columns(part.features, prefixes, where=f"{where}, config {name!r}, split {split_name!r}")
    meta["scorers"] = meta.get("scorers") or inferred_scorers(prefixes)
    return ds, meta
