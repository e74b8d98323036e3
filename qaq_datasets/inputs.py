"""Reading the rows to score: a local file or folder (json, jsonl, parquet, csv, arrow) or a Hub dataset id.

A bad file fails with one line that names it (and the line, for JSON lines); a local-looking path that does
not exist is refused here and never sent to the Hub as a dataset id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ConfigError, first_line

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}


def looks_like_hub_id(source: str) -> bool:
    """True for a Hub repo id, ``name`` or ``org/name`` by ``huggingface_hub``'s own rule (models and data), that is
    not a data file name and does not start in a local folder."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(source)
    except HFValidationError:
        return False
    return Path(source).suffix.lower() not in _BUILDERS and not ("/" in source and Path(source.split("/")[0]).is_dir())


def _why(exc: Exception, path: Path, builder: str = "") -> str:
    """Why the data file (``builder``) or folder ``path`` could not be read: empty, no rows, where it stops being
    JSON, else the reader's own first line."""
    if "corresponds to no data" in str(exc) or "BatchSize must be greater than 0" in str(exc.__cause__):
        return "it holds no rows"  # datasets' words for it (the second one: a parquet file of no rows)
    if "available configs" in str(exc):  # datasets' words when a source has several and none was picked
        return f"{' '.join(str(exc).splitlines()[:2])} (with --config)"
    if builder and path.stat().st_size == 0:
        return "it is empty"
    if builder == "json":  # where a JSON (lines) file stops being valid JSON
        text = path.read_text(encoding="utf-8")
        whole = text.lstrip()[:1] == "["  # one JSON array, else JSON lines
        for n, line in [(0, text)] if whole else [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]:
            try:
                json.loads(line)
            except json.JSONDecodeError as err:
                return (f"invalid JSON at line {err.lineno}, column {err.colno} ({err.msg})" if whole else
                        f"line {n} is not valid JSON ({err.msg})")
    return first_line(exc.__cause__ or exc)  # datasets' "An error occurred while generating the dataset": its cause


def _load_file(path: Path):
    import datasets

    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ConfigError(f"Cannot read {path}: use a file ending in one of {', '.join(sorted(_BUILDERS))}.")
    # Arrow's readers do not check UTF-8; a line can be checked alone (no UTF-8 character holds a newline's byte)
    if builder in ("json", "csv"):
        with path.open("rb") as lines:
            for n, line in enumerate(lines, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    raise ConfigError(f"Cannot read {path}: line {n} is not UTF-8 text.") from None
    verbosity, bars = datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # its own log of the failure would repeat ours
    datasets.disable_progress_bars()  # nor its "Generating train split" bar on stderr beside our one error line
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes one line naming the file
        raise ConfigError(f"Cannot read {path}: {_why(exc, path, builder)}.") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def load_input(source: str | os.PathLike, *, split: str | None = None, config: str | None = None,
               max_rows: int | None = None):
    """Load one split as a ``datasets.Dataset``.

    ``source`` is a data file (``.json``, ``.jsonl``, ``.parquet``, ``.csv``, ``.arrow``), a folder
    (a Hub-layout folder, a folder of data files, or a ``save_to_disk`` folder), or a Hub dataset id.
    ``split`` (default ``train``) and ``config`` pick a part of a folder or a Hub dataset: a data file or a
    saved ``Dataset`` has one split, ``train``, and no configs, so naming another one is an error, as is a
    source with no rows.

    Examples:
        >>> ds = load_input("rows.jsonl", max_rows=100)   # doctest: +SKIP
    """
    import datasets

    text = os.fspath(source)
    if not text.strip():
        raise ConfigError("The dataset is an empty string: give a data file, a folder or a Hub dataset id.")
    path = Path(text).expanduser()
    saved = path.is_dir() and any((path / f).exists() for f in ("dataset_info.json", "state.json", "dataset_dict.json"))
    if path.is_file() or saved:  # a data file or a saved Dataset is one split, train, of no config
        ds = datasets.load_from_disk(str(path)) if saved else _load_file(path)
        splits = ds if isinstance(ds, datasets.DatasetDict) else {"train": ds}
        if config is not None or (split or "train") not in splits:
            raise ConfigError(f"{text} has the splits {', '.join(splits)} and no configs: pick one of them with --split"
                              f"{f' (not {split[:80]!r})' if split else ''}.")
        ds = splits[split or "train"]
    elif not path.is_dir() and not looks_like_hub_id(text):
        raise ConfigError(f"{text!r} does not exist (and is not a Hub dataset id).")
    else:
        try:
            ds = datasets.load_dataset(text, config, split=split or "train")
        except Exception as exc:  # noqa: BLE001 - a bad folder, an unreachable or missing Hub dataset
            where = f"the folder {path}" if path.is_dir() else f"{text!r} (not a local path) from the Hub"
            raise ConfigError(f"Cannot read {where}: {_why(exc, path)}") from None
    if len(ds) == 0:
        raise ConfigError(f"{text} holds no rows{f' in split {split!r}' if split else ''}; there is nothing to score.")
    # (``qaq score --max-rows`` is >= 1: typer checks it)
    return ds if max_rows is None or max_rows >= len(ds) else ds.select(range(max_rows))

