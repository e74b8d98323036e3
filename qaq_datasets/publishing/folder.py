"""Write a local folder with the layout of a Hub dataset repo, readable by ``datasets.load_dataset``.

The layout is the one ``DatasetDict.push_to_hub(repo_id, config_name=...)`` produces::

    README.md                                   # YAML: configs, dataset_info, qaq; body
    <config>/<split>-00000-of-00001.parquet     # "data/<split>-..." for the config "default"

so ``huggingface-cli upload REPO FOLDER`` / ``HfApi.upload_folder`` can push the folder as is.

Input columns
    Any; rows are written unchanged.

Output columns
    The same as the input.

Examples
    >>> from datasets import Dataset, load_dataset
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = save_folder(d, {"scored": Dataset.from_dict({"x": [1, 2]})}, {"seed": 0})
    >>> list(load_dataset(d, "scored")["train"]["x"])
    [1, 2]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from datasets import Dataset, DatasetDict
from huggingface_hub import DatasetCard, DatasetCardData

from .._version import __version__
from ..errors import ConfigError, ConfigTypeError
from .card import merge_card, read_card_data, split_rows
from .metadata import QAQ_KEY, validate_metadata
from .templates import render

README = "README.md"


def data_dir_for(config_name: str) -> str:
    """The folder ``datasets`` puts a config's shards in: ``data`` for ``default``, else the config name."""
    return "data" if config_name == "default" else config_name


def as_dataset_dict(ds: Dataset | DatasetDict, *, what: str = "dataset") -> DatasetDict:
    """A ``DatasetDict``: a ``Dataset`` becomes one split named after its ``split`` (``train`` when unset)."""
    if isinstance(ds, DatasetDict):
        if not ds:
            raise ConfigError(f"The {what} is an empty DatasetDict (no splits).")
        return ds
    if isinstance(ds, Dataset):
        return DatasetDict({str(ds.split) if ds.split is not None else "train": ds})
    raise ConfigTypeError(f"The {what} must be a datasets.Dataset or DatasetDict, got {type(ds).__name__}.")


def normalize_configs(configs: Mapping[str, Dataset | DatasetDict]) -> dict[str, DatasetDict]:
    """Check config names and turn every value into a ``DatasetDict``."""
    if not isinstance(configs, Mapping) or not configs:
        raise ConfigError("configs must be a non-empty mapping of config name -> Dataset or DatasetDict.")
    out = {}
    for name, ds in configs.items():
        if not isinstance(name, str) or not name or name == "data" or "/" in name:
            raise ConfigError(f"Bad config name {name!r}: a non-empty name without '/', and not 'data'.")
        out[name] = as_dataset_dict(ds, what=f"config {name!r}")
        for split, part in out[name].items():
            if len(part) == 0:  # datasets.load_dataset cannot read an empty split back
                raise ConfigError(f"Split {split!r} of config {name!r} has no rows; an empty split cannot be loaded.")
    return out


def _num_shards(ds: Dataset, max_shard_size) -> int:
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    nbytes = ds._estimate_nbytes() if hasattr(ds, "_estimate_nbytes") else ds.data.nbytes
    n = int(nbytes / convert_file_size_to_int(max_shard_size or config.MAX_SHARD_SIZE)) + 1
    return max(1, min(n, len(ds)))  # as push_to_hub, but never more shards than rows


def write_config(folder: Path, config_name: str, dsdict: DatasetDict, *, max_shard_size=None):
    """Write the parquet shards of one config (replacing that config's old files) and return its ``DatasetInfo``."""
    from datasets.info import DatasetInfo
    from datasets.splits import SplitDict, SplitInfo

    data_dir = folder / data_dir_for(config_name)
    features = None
    for split, ds in dsdict.items():
        if features is not None and ds.features != features:
            raise ConfigError(f"The splits of config {config_name!r} have different features.")
        features = ds.features
    new_paths: set[Path] = set()
    info = DatasetInfo(config_name=config_name, features=features, splits=SplitDict(), download_size=0, dataset_size=0)
    data_dir.mkdir(parents=True, exist_ok=True)
    for split, ds in dsdict.items():
        n = _num_shards(ds, max_shard_size)
        for index in range(n):
            path = data_dir / f"{split}-{index:05d}-of-{n:05d}.parquet"
            ds.shard(num_shards=n, index=index, contiguous=True).to_parquet(str(path))
            new_paths.add(path)
            info.download_size += path.stat().st_size
        nbytes = ds._estimate_nbytes() if hasattr(ds, "_estimate_nbytes") else ds.data.nbytes
        info.splits.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=len(ds)))
        info.dataset_size += nbytes
    info.size_in_bytes = info.download_size + info.dataset_size
    for old in data_dir.iterdir():  # like DatasetDict.push_to_hub: the config's other files go
        if old.is_file() and old not in new_paths:
            old.unlink()
    return info


def update_card_yaml(card_text: str | None, infos: Mapping) -> str:
    """Put each config's ``configs:`` entry and ``dataset_info`` into a card, as ``push_to_hub`` does."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    card = DatasetCard(card_text) if card_text and card_text.strip() else None
    data = card.data if card is not None else DatasetCardData()
    for name, info in infos.items():
        entry = {"data_files": [{"split": s, "path": f"{data_dir_for(name)}/{s}-*"} for s in info.splits]}
        DatasetInfosDict({name: info}).to_dataset_card_data(data)
        MetadataConfigs({name: entry}).to_dataset_card_data(data)
    if card is None:
        return str(DatasetCard(f"---\n{data}\n---\n"))
    return str(card)


def read_readme(folder: str | os.PathLike) -> str | None:
    """The text of ``folder/README.md``, or None."""
    path = Path(folder) / README
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write_data(folder: str | os.PathLike, configs: Mapping, *, max_shard_size=None) -> str:
    """Write the shards of every config and return the README text with updated ``configs``/``dataset_info``.

    The README itself is not written: the caller merges its own part in and writes it once.
    """
    folder = Path(folder)
    configs = normalize_configs(configs)
    folder.mkdir(parents=True, exist_ok=True)
    infos = {name: write_config(folder, name, dd, max_shard_size=max_shard_size) for name, dd in configs.items()}
    return update_card_yaml(read_readme(folder), infos)


def save_folder(
    folder: str | os.PathLike,
    configs: Mapping[str, Dataset | DatasetDict],
    metadata: dict | None = None,
    *,
    max_shard_size=None,
    title: str | None = None,
) -> Path:
    """Write ``configs`` as a Hub-layout folder: parquet shards and a README with ``configs:`` and ``qaq:``.

    ``metadata`` is the ``qaq:`` block (scorer recipes, selection plan, seed); the library version is
    added. ``datasets.load_dataset(folder, config)`` and :func:`qaq_datasets.load_scored` read the folder.
    Writing again into the same folder keeps other configs, the other keys of the ``qaq:`` block and
    what a person added to the README.
    """
    folder = Path(folder)
    configs = normalize_configs(configs)
    readme = write_data(folder, configs, max_shard_size=max_shard_size)
    old = read_card_data(readme).get(QAQ_KEY)
    meta = {**(old if isinstance(old, dict) else {}), **validate_metadata(metadata), "library_version": __version__}
    scorers = []
    for n, r in (meta.get("scorers") or {}).items():
        model = r.get("model") if isinstance(r.get("model"), dict) else {}
        scorers.append({"prefix": r.get("prefix", f"{n}_"), "model": model.get("name") or model.get("spec")})
    section = render(
        "folder_section.md.j2",
        library_version=__version__,
        splits=split_rows(readme),
        scorers=scorers,
        has_selection=bool(meta.get("selection")),
        location=str(folder),
    )
    text = merge_card(readme, fields={}, qaq=meta, section=section, title=title or folder.resolve().name)
    (folder / README).write_text(text, encoding="utf-8")
    return folder
