"""Reading the rows to score: a local file or folder (json, jsonl, parquet, csv, arrow) or a Hub dataset id.

A bad file fails with one line that names it (and the line, for JSON lines); a local-looking path that does
not exist is refused here and never sent to the Hub as a dataset id.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from pathlib import Path

from .errors import ConfigError

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def looks_like_hub_id(source: str) -> bool:
    """True for ``name`` or ``org/name`` that is not a data file name and does not start in a local folder."""
    if not _HUB_ID.match(source) or Path(source).suffix.lower() in _BUILDERS:
        return False
    return "/" not in source or not Path(source.split("/")[0]).is_dir()


def _not_utf8_line(path: Path) -> int | None:
    """The first line of ``path`` that is not UTF-8 text (Arrow's readers do not check), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                fh.seek(0)
                return fh.read(offset + exc.start).count(b"\n") + 1
            offset += len(chunk)
    return None


def _bad_json_line(path: Path) -> str:
    """Where a JSON (lines) file stops being valid JSON."""
    with path.open(encoding="utf-8") as fh:
        text = fh.read()
    if text.lstrip()[:1] == "[":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        return ""
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                return f"line {n} is not valid JSON ({exc.msg})"
    return ""


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _load_file(path: Path, split: str):
    import datasets

    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ConfigError(f"Cannot read {path}: use a file ending in one of {', '.join(sorted(_BUILDERS))}.")
    if path.stat().st_size == 0:
        raise ConfigError(f"{path} is empty.")
    if builder in ("json", "csv") and (line := _not_utf8_line(path)) is not None:
        raise ConfigError(f"Cannot read {path}: line {line} is not UTF-8 text.")
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # its own log of the failure would repeat ours
    try:
        return datasets.load_dataset(builder, data_files={split: str(path)}, split=split)
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes one line naming the file
        why = _bad_json_line(path) if builder == "json" else ""
        first = _first_line(exc)
        raise ConfigError(f"Cannot read {path}: {why or first}.") from None
    finally:
        datasets.logging.set_verbosity(verbosity)


def load_input(source: str | os.PathLike, *, split: str = "train", config: str | None = None,
               max_rows: int | None = None):
    """Load one split as a ``datasets.Dataset``.

    ``source`` is a data file (``.json``, ``.jsonl``, ``.parquet``, ``.csv``, ``.arrow``), a folder
    (a Hub-layout folder, a folder of data files, or a ``save_to_disk`` folder), or a Hub dataset id.

    Examples:
        >>> ds = load_input("rows.jsonl", max_rows=100)   # doctest: +SKIP
    """
    import datasets

    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"max_rows must be >= 1, got {max_rows}.")
    text = os.fspath(source)
    if not text.strip():
        raise ConfigError("The dataset is an empty string: give a data file, a folder or a Hub dataset id.")
    path = Path(text).expanduser()
    if path.is_file():
        ds = _load_file(path, split)
    elif path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
    elif path.is_dir():
        try:
            ds = datasets.load_dataset(str(path), config, split=split)
        except Exception as exc:  # noqa: BLE001
            first = _first_line(exc)
            raise ConfigError(f"Cannot read the folder {path}: {first}") from None
    elif not looks_like_hub_id(text):
        raise ConfigError(f"{text!r} does not exist (and is not a Hub dataset id).")
    else:
        try:
            ds = datasets.load_dataset(text, config, split=split)
        except (ConnectionError, OSError) as exc:  # offline, unreachable, or no such repo
            first = _first_line(exc)
            raise ConfigError(f"{text!r} is not a local path, and it could not be loaded from the Hub: "
                              f"{first}") from None
    if max_rows is not None and max_rows < len(ds):
        ds = ds.select(range(max_rows))
    return ds
