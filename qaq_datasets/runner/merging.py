"""Merging a finished sharded run: the shards, verified against their markers, concatenated in order.

Writes ``scored.parquet`` (one file, one row group per shard, streamed: one shard in memory at a time),
the ``scored/`` folder (``datasets.load_from_disk``) and ``summary.json`` (status counts per scorer),
each atomically. Merging again after nothing changed is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .files import fsync_dir, read_json, sha256_bytes, tmp_name, write_json_atomic
from .manifest import MERGED_FOLDER, MERGED_PARQUET, SUMMARY, ShardPlan, output_schema, read_manifest, shard_path

logger = logging.getLogger(__name__)


class IncompleteRunError(ConfigError):
    """Some shards of the run have no (valid) completion marker yet."""


class CorruptShardError(ConfigError):
    """A shard file no longer matches the sha256 in its completion marker."""


@dataclass
class MergeResult:
    """The merged output: ``dataset`` (loaded from ``folder``, or from ``parquet`` without a folder),
    the paths, and ``summary`` (the content of ``summary.json``)."""

    dataset: object
    parquet: Path
    folder: Path | None
    summary: dict


def finished_markers(out_dir: Path) -> tuple[ShardPlan, list[dict | None]]:
    """The plan and each shard's marker (None where the shard is not finished)."""
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise ConfigError(f"{out_dir} has no manifest.json: not a sharded run folder.")
    plan = ShardPlan.from_dict(manifest["plan"])
    markers = []
    for i in range(plan.num_shards):
        m = read_json(shard_path(out_dir, i, ".done"))
        start, end = plan.bounds(i)
        ok = m is not None and (m.get("start"), m.get("end"), m.get("rows")) == (start, end, end - start)
        markers.append(m if ok else None)
    return plan, markers


def status(out_dir) -> dict:
    """Where a run stands: ``{"num_shards", "finished", "missing" (first 20 ids), "rows_finished", "num_rows"}``."""
    out_dir = Path(out_dir)
    plan, markers = finished_markers(out_dir)
    missing = [i for i, m in enumerate(markers) if m is None]
    return {"num_shards": plan.num_shards, "finished": plan.num_shards - len(missing), "missing": missing[:20],
            "rows_finished": sum(m["rows"] for m in markers if m), "num_rows": plan.num_rows}


def _load(parquet: Path, folder: Path | None):
    import pyarrow.parquet as pq
    from datasets import Dataset, Features, load_from_disk

    if pq.ParquetFile(str(parquet)).metadata.num_rows == 0:  # datasets cannot load an empty save_to_disk folder
        schema = pq.read_schema(str(parquet))
        return Dataset.from_dict({c: [] for c in schema.names}, features=Features.from_arrow_schema(schema))
    return load_from_disk(str(folder)) if folder is not None else Dataset.from_parquet(str(parquet))


def merge(out_dir, *, folder: bool = True) -> MergeResult:
    """Concatenate the finished shards of ``out_dir`` in order into ``scored.parquet`` (+ ``scored/``).

    Raises:
        IncompleteRunError: a shard is not finished (re-run the scoring call: it resumes).
        CorruptShardError: a shard file changed after its marker was written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from .shards import add_statuses, format_statuses

    out_dir = Path(out_dir)
    plan, markers = finished_markers(out_dir)
    missing = [i for i, m in enumerate(markers) if m is None]
    if missing:
        raise IncompleteRunError(f"{len(missing)} of {plan.num_shards} shards of {out_dir} are not finished "
                                 f"(e.g. shard {missing[0]}); run the scoring command again (it resumes), then merge.")
    manifest = read_manifest(out_dir)
    schema = output_schema(manifest)
    shards_digest = hashlib.sha256("".join(m["sha256"] for m in markers).encode()).hexdigest()
    parquet_path, folder_path = out_dir / MERGED_PARQUET, (out_dir / MERGED_FOLDER if folder else None)

    old = read_json(out_dir / SUMMARY)
    if (old and old.get("shards_sha256") == shards_digest and parquet_path.exists()
            and parquet_path.stat().st_size == old.get("parquet_bytes")
            and (folder_path is None or not old.get("rows") or (folder_path / "state.json").exists())):
        return MergeResult(_load(parquet_path, folder_path), parquet_path, folder_path, old)

    for stale in [*out_dir.glob(".scored*.tmp"), out_dir / f".{MERGED_FOLDER}.old"]:  # left by a killed merge
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    tmp_parquet = tmp_name(parquet_path)
    tmp_arrow = tmp_name(out_dir / "scored.arrow")
    statuses: dict = {}
    rows = 0
    try:
        with pq.ParquetWriter(tmp_parquet, schema) as pw, \
                (pa.OSFile(str(tmp_arrow), "wb") if folder else _Null()) as sink:
            stream = pa.ipc.new_stream(sink, schema) if folder else None
            for i, m in enumerate(markers):
                data = shard_path(out_dir, i, ".parquet").read_bytes()
                if sha256_bytes(data) != m["sha256"]:
                    raise CorruptShardError(
                        f"Shard {i} of {out_dir} does not match the sha256 in its marker. Delete "
                        f"{shard_path(out_dir, i, '.done').name} and run the scoring command again to redo it.")
                table = pq.read_table(pa.BufferReader(data)).cast(schema)
                pw.write_table(table)
                if stream is not None:
                    stream.write_table(table)
                rows += table.num_rows
                statuses = add_statuses(statuses, m.get("statuses", {}))
            if stream is not None:
                stream.close()
        if rows != plan.num_rows:
            raise CorruptShardError(f"The shards of {out_dir} hold {rows} rows; the run has {plan.num_rows}.")
        with open(tmp_parquet, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_parquet, parquet_path)
        fsync_dir(out_dir)
        if folder and rows:
            _save_folder(tmp_arrow, folder_path)
    finally:
        tmp_parquet.unlink(missing_ok=True)
        tmp_arrow.unlink(missing_ok=True)

    summary = {"rows": rows, "num_shards": plan.num_shards, "statuses": statuses,
               "scorers": {k: v["prefix"] for k, v in manifest["scorers"].items()},
               "shards_sha256": shards_digest, "parquet_bytes": parquet_path.stat().st_size}
    write_json_atomic(out_dir / SUMMARY, summary)
    logger.info("Merged %d shards (%d rows) into %s: %s", plan.num_shards, rows, parquet_path,
                format_statuses(statuses))
    return MergeResult(_load(parquet_path, folder_path), parquet_path, folder_path, summary)


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _save_folder(arrow_file: Path, folder: Path) -> None:
    """``save_to_disk`` the rows of an Arrow stream file into ``folder``, replacing it atomically-enough."""
    from datasets import Dataset

    ds = Dataset.from_file(str(arrow_file))  # memory-mapped; features come from the schema metadata
    tmp = tmp_name(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp))
    del ds
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
