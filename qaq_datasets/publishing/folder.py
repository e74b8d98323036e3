"""Local folders with the layout of a Hub dataset repo, written with public APIs only and never half-written.

The layout is the one ``DatasetDict.push_to_hub(repo_id, config_name=...)`` produces::

    README.md                                   # YAML: configs, qaq; body
    <config>/<split>-00000-of-00001.parquet     # "data/<split>-..." for the config "default"

so ``datasets.load_dataset(FOLDER, CONFIG)`` reads it and ``hf upload REPO FOLDER --repo-type dataset`` pushes it
as is. Every file goes to a temporary name in its folder first and is renamed into place (``os.replace``), so a
full disk or a crash leaves the old file or none, never a truncated one.

A selection folder (``qaq select --out``, :func:`save_selection`) holds the curated rows, ``qaq_plan.yaml``,
``qaq_report.json`` and, in the card's ``qaq:`` block, ``fitted_on``: the :func:`rows_identity` of the scored
rows the plan was fitted on. :func:`load_selection` re-fits the plan on scored rows after checking that identity.

Input columns
    Any; rows are written unchanged. :func:`rows_identity` reads every score column of every scorer prefix.

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

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml
from datasets import Dataset, DatasetDict
from huggingface_hub import DatasetCard

from .._version import __version__
from ..errors import ConfigError, ConfigTypeError, shown
from ..files import to_builtin, write_atomic, writing
from ..selection.result import check_fitted_on, rows_identity
from .card import PLAN_FILE, README, REPORT_FILE, check_counts, merge_card, parse_card, template
from .metadata import read_card_text, validate_metadata

_UNITS = {None: 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}

RUN_MANIFEST = "run/manifest.json"  # a sharded run's record (see qaq_datasets.runner.sharded)


def _entries(folder: Path) -> list[str]:
    """The names in ``folder`` that do not start with ``.`` (a lock, a temporary file), sorted."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def has_run(out) -> bool:
    """True when ``out`` holds a sharded run (``qaq_datasets.runner``), finished or not: its ``run/manifest.json``."""
    return (Path(out) / RUN_MANIFEST).is_file()


def written_by_qaq(folder: Path, *, parent: bool = True) -> bool:
    """True when ``folder`` is one this library wrote: its README.md has a ``qaq:`` block (every scored, selection
    and dry-run folder), it holds a sharded run (``qaq score --shard-rows``, before its README exists), or (with
    ``parent``) it holds only such folders (``qaq demo``'s output: ``scored/``, ``hub/``)."""
    try:
        card = parse_card(read_card_text(folder), f"the folder {str(folder)!r}").data
    except ConfigError:  # a README we cannot read is no README of ours
        return has_run(folder)
    return has_run(folder) or isinstance(card.get("qaq"), dict) or (parent and not (folder / README).exists() and all(
        (folder / e).is_dir() and written_by_qaq(folder / e, parent=False) for e in _entries(folder)))


def check_out_dir(path: str | os.PathLike | None, what: str = "output folder", *, new_rows: bool = False) -> Path:
    """Return ``path`` as a Path if a folder can be written there, else ConfigError: refuse ``""``, an existing
    file, and a non-empty folder this library did not write (:func:`written_by_qaq`), since writing a folder
    replaces its README.md, plan, report and the parquet files of the configs it writes (entries
    whose names start with ``.`` are not counted). A folder qaq wrote earlier is written over, unless ``new_rows``
    (rows other than a selection's) go where a selection is: it was fitted on the old rows."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
        raise ConfigError(f"The {what} must name a folder (e.g. out/), got {shown(path)}.")
    folder = Path(path).expanduser()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"The {what} {os.fspath(path)!r} cannot be created: {str(existing)!r} is a file.")
    if existing == folder and (entries := _entries(folder)) and not written_by_qaq(folder):
        more = f" and {len(entries) - 1} other entries" if len(entries) > 1 else ""
        raise ConfigError(f"The {what} {os.fspath(path)!r} is not empty ({entries[0][:80]!r}{more}) and has no "
                          "README.md with a qaq: block, so qaq did not write it (or a first write failed before its "
                          "README): writing there could replace or delete files. Choose a new or empty folder.")
    if new_rows and (folder / PLAN_FILE).is_file():
        raise ConfigError(f"The {what} {os.fspath(path)!r} holds a selection ({PLAN_FILE}, config curated) fitted on "
                          "its rows: new rows there would leave it stale. Choose a new or empty folder.")
    return folder


def inside(folder: Path, rel: str | os.PathLike) -> Path:
    """``folder / rel`` if it resolves (symbolic links followed) inside ``folder``, else ConfigError: every path
    this library writes goes through here, since parts of the names come from files (scorer prefixes, configs)."""
    path = folder / rel
    if not path.resolve().is_relative_to(folder.resolve()) or path.resolve() == folder.resolve():
        raise ConfigError(f"Refusing to write {os.fspath(rel)[:100]!r}: it is not a file inside {str(folder)!r}.")
    return path


def as_dataset_dict(ds, *, what: str = "dataset") -> DatasetDict:
    """A ``DatasetDict``: a ``Dataset`` becomes one split named after its ``split`` (``train`` when unset)."""
    ds = DatasetDict({str(ds.split) if ds.split is not None else "train": ds}) if isinstance(ds, Dataset) else ds
    if not isinstance(ds, DatasetDict):
        raise ConfigTypeError(f"The {what} must be a datasets.Dataset or DatasetDict, got {type(ds).__name__}.")
    if not ds:
        raise ConfigError(f"The {what} is an empty DatasetDict (no splits).")
    if empty := [s for s, part in ds.items() if len(part) == 0]:  # load_dataset cannot read an empty split
        raise ConfigError(f"Split {empty[0]!r} of the {what} has no rows; there is nothing to publish or load.")
    return ds


def _num_shards(ds: Dataset, max_shard_size) -> int:
    """The shard count for ``max_shard_size`` (bytes, or a size like ``"500MB"``), at most one a row."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]I?B)?\s*", str(max_shard_size or "500MB").upper())
    if not m:
        raise ConfigError(f"max_shard_size {max_shard_size!r}: expected a number of bytes or a size like '500MB'.")
    nbytes = ds.data.nbytes * len(ds) / max(len(ds.data), 1)  # the rows' share of the Arrow table
    return max(1, min(len(ds), int(nbytes / (int(m[1]) * _UNITS[m[2]])) + 1))


def write_data(folder: Path, configs: Mapping, *, max_shard_size=None) -> tuple[DatasetCard, dict]:
    """Write the parquet shards of every config; return ``(README card with the new configs: YAML, {config:
    DatasetDict or None})``. The README itself is not written: the caller merges its part in and writes it once.

    Every shard goes to a hidden temporary name first and is renamed only once all are written; then the
    configs' old shards go (as with ``push_to_hub``; a config given as None loses all of them). Other configs
    stay. A shard's name ends with a hash of its bytes and ``configs:`` lists the files by name: ``datasets``
    caches a folder's config under the folder's name and its YAML, so new rows must change the YAML to be read
    afresh (and two folders of the same name must not share a cache entry). The ``dataset_info`` entries of
    rewritten configs are dropped (their sizes would be stale; ``push_to_hub`` writes them on the Hub).
    """
    if bad := [n for n in configs if not isinstance(n, str) or not n or n == "data" or "/" in n]:
        raise ConfigError(f"Bad config name {bad[0]!r}: a non-empty name without '/', and not 'data'.")
    configs = {n: None if ds is None else as_dataset_dict(ds, what=f"config {n!r}") for n, ds in configs.items()}
    dirs = {name: inside(folder, "data" if name == "default" else name) for name in configs}
    card = parse_card(read_card_text(folder) if folder.is_dir() else None, f"the folder {str(folder)!r}")
    yaml_configs = [c for c in card.data.get("configs") or []
                    if isinstance(c, dict) and c.get("config_name", "default") not in configs]
    tmps, moves = [], []
    try:
        for name, dd in configs.items():
            data_dir, files = dirs[name], {}
            for split, part in (dd or {}).items():
                n = _num_shards(part, max_shard_size)
                data_dir.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    tmps.append(tmp := inside(data_dir, f".{split}-{i:05d}-of-{n:05d}.tmp-{os.getpid()}"))
                    with writing(data_dir):
                        part.shard(num_shards=n, index=i, contiguous=True).to_parquet(str(tmp))
                    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:16]  # a shard is at most max_shard_size
                    moves.append((tmp, inside(data_dir, f"{split}-{i:05d}-of-{n:05d}-{digest}.parquet")))
                    files.setdefault(split, []).append(f"{data_dir.name}/{moves[-1][1].name}")
            if dd is not None:
                yaml_configs.append({"config_name": name, "data_files": [
                    {"split": split, "path": paths} for split, paths in files.items()]})
        for tmp, final in moves:
            os.replace(tmp, final)
        for stale in {p for d in dirs.values() for p in d.glob("*.parquet")} - {final for _, final in moves}:
            stale.unlink()
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    card.data["configs"] = yaml_configs or None  # a None key is left out of the YAML
    infos = card.data.get("dataset_info") or []  # one mapping where datasets wrote one config
    card.data["dataset_info"] = [i for i in ([infos] if isinstance(infos, dict) else infos)
                                 if i.get("config_name", "default") not in configs] or None
    return card, configs


def save_folder(folder: str | os.PathLike, configs: Mapping[str, Dataset | DatasetDict], metadata: dict | None = None,
                *, max_shard_size=None, title: str | None = None, note: str | None = None) -> Path:
    """Write ``configs`` as a Hub-layout folder: parquet shards and a README with ``configs:`` and ``qaq:``.

    ``metadata`` is the ``qaq:`` block (scorer recipes, selection plan, seed); the library version is added.
    ``note`` is a line for the card. ``datasets.load_dataset(folder, config)`` and
    :func:`qaq_datasets.load_scored` read the folder. Writing again into the same folder keeps other configs, the
    other keys of the ``qaq:`` block and what a person added to the README. Raises ConfigError for an empty
    ``folder`` name, a file in its place, no configs, a bad config name or an empty split, before anything is
    written.
    """
    if not isinstance(configs, Mapping) or not configs:
        raise ConfigError("configs must be a non-empty mapping of config name -> Dataset or DatasetDict.")
    qaq, folder = validate_metadata(metadata), check_out_dir(folder, new_rows="curated" not in configs)
    card, configs = write_data(folder, configs, max_shard_size=max_shard_size)
    qaq = {**(old if isinstance(old := card.data.get("qaq"), dict) else {}), **qaq, "library_version": __version__}
    first = next((split for splits in configs.values() if splits for split in splits.values()), None)
    section = template("folder_section.md.j2").render(
        configs=configs, scorers=qaq.get("scorers"), note=note, has_selection=bool(qaq.get("selection")),
        location=str(folder), checks=check_counts(first) if first is not None else [])
    text = merge_card(str(card), fields={}, qaq=qaq, section=section, title=title or folder.resolve().name)
    return write_files(folder, {README: text})


def save_selection(out: str | os.PathLike, scored: Dataset, selection, metadata: dict | None = None) -> Path:
    """Write a selection folder: config ``curated``, ``qaq_plan.yaml``, ``qaq_report.json`` and ``fitted_on``.

    ``selection`` was fitted on ``scored`` (``Selector.fit(scored)``); ``metadata`` is the scored rows' ``qaq:``
    block. A plan that keeps no rows still writes its plan, report and card (no ``curated`` config: ``datasets``
    cannot load an empty split); the card says so. Returns the folder.
    """
    kept = int(np.sum(selection.keep))
    qaq = {**validate_metadata(metadata), "selection": to_builtin(selection.plan), "fitted_on": selection.check(scored)}
    note = None if kept else f"The plan kept none of the {len(scored)} rows: there is no `curated` config."
    # the README goes first: it marks the folder as one qaq wrote
    folder = save_folder(out, {"curated": selection.apply(scored) if kept else None}, qaq, note=note)
    return write_files(folder, selection_files(selection))


def selection_files(selection) -> dict[str, bytes]:
    """``{qaq_plan.yaml: the plan as YAML, qaq_report.json: the report as JSON}`` of a selection."""
    return {PLAN_FILE: yaml.safe_dump(to_builtin(selection.plan), sort_keys=False, allow_unicode=True).encode(),
            REPORT_FILE: (json.dumps(to_builtin(selection.report), indent=2, ensure_ascii=False) + "\n").encode()}


def write_files(folder: Path, files: Mapping[str, bytes | str]) -> Path:
    """Write each of ``files`` (``{path inside folder: content}``) atomically; return ``folder``."""
    for rel, content in files.items():
        write_atomic(inside(folder, rel), content)
    return folder


def load_selection(folder: str | os.PathLike, scored: Dataset, text: dict | None = None):
    """Re-fit the plan of a selection folder on ``scored``, after checking it was fitted on these very rows and
    that the folder still agrees with itself. The text checks' columns the plan reads are computed as ``qaq
    select`` computes them (``Selector.add_checks``, from the ``text`` columns).

    Raises ConfigError when the folder lacks its plan, report or ``fitted_on`` record; when ``scored`` is not the
    data the plan was fitted on (another dataset, even of the same length); when ``qaq_plan.yaml`` is not the plan
    the README records (it was edited after ``qaq select``); or when the re-fitted plan does not keep the rows the
    folder's report says (an edited report, or a library version that fits differently). The folder's card, report
    and curated rows describe one fit: publishing another would contradict them.
    """
    from ..selection import Selector

    folder = Path(folder).expanduser()
    where, again = f"Selection folder {str(folder)!r}", "run `qaq select` again"
    if missing := next((n for n in (PLAN_FILE, REPORT_FILE, README) if not (folder / n).is_file()), None):
        raise ConfigError(f"{where} has no {missing}; was it written by `qaq select`?")
    qaq = parse_card(read_card_text(folder), f"the selection folder {str(folder)!r}").data.get("qaq")
    if not (isinstance(qaq, dict) and isinstance(fitted := qaq.get("fitted_on"), dict)
            and isinstance(qaq.get("selection"), dict)):
        raise ConfigError(f"{where} does not record its plan and the rows it was fitted on (qaq.selection and "
                          f"qaq.fitted_on in its README); {again}.")
    check_fitted_on(fitted, scored, what=where, fix="run `qaq select` on these scored rows")
    plan = Selector.from_yaml(folder / PLAN_FILE)
    if plan != Selector.from_dict(qaq["selection"]):
        raise ConfigError(f"{where}: {PLAN_FILE} no longer matches the selection the folder holds (the plan in its "
                          f"README, its report and curated rows); it was edited after `qaq select`. To use the edited "
                          f"plan, {again} with --plan {str(folder / PLAN_FILE)!r} and publish that folder.")
    try:
        saved = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        raise ConfigError(f"{where}: {REPORT_FILE} is not valid JSON; {again}.") from None
    selection = plan.fit(plan.add_checks(scored, text)[0])
    now = {k: selection.report[k] for k in ("rows_kept", "drop_reasons")}
    if not isinstance(saved, dict) or {k: saved.get(k) for k in now} != now:
        old = saved.get("rows_kept") if isinstance(saved, dict) else None
        raise ConfigError(f"{where}: its plan, re-fitted on these rows, keeps {now['rows_kept']} rows, but its "
                          f"{REPORT_FILE} says {str(old)[:20]} (or other drop reasons); the report was edited or "
                          f"written by another library version; {again}.")
    return selection
