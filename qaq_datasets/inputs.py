"""Reading the rows to score: a local file or folder (json, jsonl, parquet, csv, arrow) or a Hub dataset id."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}


def load_input(source: str | os.PathLike, *, split: str = "train", config: str | None = None,
               max_rows: int | None = None):
    """Load one split as a ``datasets.Dataset``.

    ``source`` is a data file (``.json``, ``.jsonl``, ``.parquet``, ``.csv``, ``.arrow``), a folder
    (a Hub-layout folder, a folder of data files, or a ``save_to_disk`` folder), or a Hub dataset id.
    """
    import datasets

    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"max_rows must be >= 1, got {max_rows}.")
    path = Path(os.fspath(source)).expanduser()
    if path.is_file():
        builder = _BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ConfigError(f"Cannot read {path.name}: use one of {', '.join(sorted(_BUILDERS))}.")
        ds = datasets.load_dataset(builder, data_files={split: str(path)}, split=split)
    elif path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
    elif path.is_dir():
        ds = datasets.load_dataset(str(path), config, split=split)
    elif path.suffix.lower() in _BUILDERS or str(source).startswith((".", "/", "~")):
        raise ConfigError(f"{str(source)!r} does not exist (and is not a Hub dataset id).")
    else:
        ds = datasets.load_dataset(str(source), config, split=split)
    if max_rows is not None and max_rows < len(ds):
        ds = ds.select(range(max_rows))
    return ds
