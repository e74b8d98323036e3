"""The shard plan and ``manifest.json``: what a sharded run is, written before any shard.

A run is cut into contiguous row ranges, deterministic from the dataset length and the shard size. The
manifest records the plan, the input's length, features and a digest of its first shard, and each scorer's
fingerprint. A restart (or another rank) with a different plan, dataset or scorer is refused with a
clear error instead of mixing rows from two runs.

On-disk layout of ``out_dir``::

    manifest.json                 the run's identity (this module)
    shards/shard-00012.parquet    rows [start, end) with the input columns + score columns
    shards/shard-00012.done       completion marker: range, row count, sha256 of the parquet, statuses
    scored.parquet                the merged output, rows in input order (after merge)
    scored/                       the same rows as a ``datasets.load_from_disk`` folder (after merge)
    summary.json                  status counts per scorer, rows, shards (written last by merge)
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

from .. import _version
from ..errors import ConfigError
from .files import read_json, write_json_atomic

FORMAT = "qaq-sharded-run/1"
DEFAULT_SHARD_ROWS = 1000
HEAD_ROWS = 1000  # rows hashed into the manifest's dataset identity (each shard's own rows go into its marker)
MANIFEST = "manifest.json"
SHARDS = "shards"
MERGED_PARQUET = "scored.parquet"
MERGED_FOLDER = "scored"
SUMMARY = "summary.json"


class ResumeMismatchError(ConfigError):
    """``out_dir`` holds a run with another shard plan, dataset or scorer: resuming would mix two runs."""


@dataclass(frozen=True)
class ShardPlan:
    """Contiguous row ranges: ``shard_rows`` rows each (the last one shorter), or ``num_shards`` even parts."""

    num_rows: int
    shard_rows: int | None = None
    num_shards_even: int | None = None

    @classmethod
    def make(cls, num_rows: int, shard_rows: int | None = None, num_shards: int | None = None) -> ShardPlan:
        if shard_rows is not None and num_shards is not None:
            raise ConfigError("Give shard_rows or num_shards, not both.")
        for name, v in (("shard_rows", shard_rows), ("num_shards", num_shards)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ConfigError(f"{name} must be a positive int, got {v!r}.")
        if num_shards is not None:
            return cls(num_rows, None, num_shards)
        return cls(num_rows, shard_rows or DEFAULT_SHARD_ROWS, None)

    @property
    def num_shards(self) -> int:
        if self.num_shards_even is not None:
            return min(self.num_shards_even, self.num_rows)
        return -(-self.num_rows // self.shard_rows)

    def bounds(self, i: int) -> tuple[int, int]:
        """Rows ``[start, end)`` of shard ``i`` (the split of ``Dataset.shard(n, i, contiguous=True)``)."""
        if not 0 <= i < self.num_shards:
            raise IndexError(i)
        if self.num_shards_even is None:
            return i * self.shard_rows, min((i + 1) * self.shard_rows, self.num_rows)
        n, k = self.num_rows, self.num_shards
        div, mod = divmod(n, k)
        start = div * i + min(i, mod)
        return start, start + div + (1 if i < mod else 0)

    def owned(self, rank: int, world_size: int) -> list[int]:
        """The shards of ``rank``: shard i belongs to rank ``i % world_size``."""
        return list(range(rank, self.num_shards, world_size))

    def to_dict(self) -> dict:
        return {"num_rows": self.num_rows, "shard_rows": self.shard_rows, "num_shards": self.num_shards,
                "even_split": self.num_shards_even is not None}

    @classmethod
    def from_dict(cls, d: dict) -> ShardPlan:
        if d.get("even_split"):
            return cls(d["num_rows"], None, d["num_shards"])
        return cls(d["num_rows"], d["shard_rows"], None)


def shard_path(out_dir: Path, i: int, suffix: str) -> Path:
    return Path(out_dir) / SHARDS / f"shard-{i:05d}{suffix}"


def rows_digest(table) -> str:
    """A digest of a slice of rows (a ``pyarrow.Table``), the same whatever its chunking or buffers."""
    return hashlib.sha256(pickle.dumps(table.to_pydict(), protocol=4)).hexdigest()


def build_manifest(dataset, scorers: dict, plan: ShardPlan, head_digest: str) -> dict:
    """The manifest's content: deterministic (no time stamps), so ranks writing it concurrently agree."""
    from .shards import output_features

    return {
        "format": FORMAT,
        "library_version": _version.__version__,
        "dataset": {"num_rows": len(dataset), "columns": list(dataset.column_names),
                    "features": dataset.features.to_dict(), "head_sha256": head_digest},
        "plan": plan.to_dict(),
        "scorers": {name: {"prefix": s.prefix, "fingerprint": s.fingerprint, "recipe": s.recipe()}
                    for name, s in scorers.items()},
        "output_columns": list(output_features(dataset, scorers)),
        "output_features": output_features(dataset, scorers).to_dict(),
    }


def _scorer_ids(m: dict) -> dict:
    return {k: (v["prefix"], v["fingerprint"]) for k, v in m["scorers"].items()}


def compare(old: dict, new: dict, out_dir: Path) -> None:
    """Raise :class:`ResumeMismatchError` naming what differs between the stored and the requested run."""
    where = f"{out_dir} holds a run"
    hint = " Re-run with the same settings to resume, or use a new out_dir."
    if old.get("format") != FORMAT:
        raise ResumeMismatchError(f"{where} in another format ({old.get('format')!r}, expected {FORMAT!r}).{hint}")
    od, nd = old["dataset"], new["dataset"]
    if od["num_rows"] != nd["num_rows"]:
        raise ResumeMismatchError(f"{where} over a dataset of {od['num_rows']} rows; this dataset has "
                                  f"{nd['num_rows']} rows.{hint}")
    if od["columns"] != nd["columns"] or od["features"] != nd["features"]:
        raise ResumeMismatchError(f"{where} over a dataset with columns {od['columns']}; this dataset has "
                                  f"{nd['columns']} (or other column types).{hint}")
    if old["plan"] != new["plan"]:
        raise ResumeMismatchError(f"{where} with shard plan {old['plan']}; this call asks for {new['plan']}.{hint}")
    if od["head_sha256"] != nd["head_sha256"]:
        raise ResumeMismatchError(f"{where} over a different dataset: its first {HEAD_ROWS} rows differ "
                                  f"(same length, other content).{hint}")
    if _scorer_ids(old) != _scorer_ids(new):
        lines = [f"{k}: prefix={v[0]!r} fingerprint={v[1][:12]}" for k, v in sorted(_scorer_ids(old).items())]
        now = [f"{k}: prefix={v[0]!r} fingerprint={v[1][:12]}" for k, v in sorted(_scorer_ids(new).items())]
        raise ResumeMismatchError(f"{where} with other scorers (model, template, columns, max_length or library "
                                  f"version differ): stored [{'; '.join(lines)}], requested [{'; '.join(now)}].{hint}")


def output_schema(manifest: dict):
    """The Arrow schema (with the ``datasets`` features metadata) of the scored rows, in column order."""
    from datasets import Features

    feats = manifest["output_features"]
    return Features({c: Features.from_dict({c: feats[c]})[c] for c in manifest["output_columns"]}).arrow_schema


def read_manifest(out_dir: Path) -> dict | None:
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    m = read_json(path)
    if m is None:
        raise ConfigError(f"{path} is not valid JSON; it was not written by this library (manifests are written "
                          "atomically). Remove it or use a new out_dir.")
    return m


def ensure_manifest(out_dir: Path, manifest: dict) -> None:
    """Write the manifest if there is none, then check the stored one equals ``manifest``.

    Safe when several ranks call it at once: the content is deterministic and the write atomic.
    """
    out_dir = Path(out_dir)
    (out_dir / SHARDS).mkdir(parents=True, exist_ok=True)
    old = read_manifest(out_dir)
    if old is None:
        write_json_atomic(out_dir / MANIFEST, manifest)
        old = read_manifest(out_dir)
    compare(old, manifest, out_dir)
