"""Sharded, resumable scoring: ``run_sharded(dataset, scorers, out_dir)``.

The rows are cut into many more contiguous shards than workers (see :mod:`.manifest`). Each finished
shard is written atomically as parquet (input columns + score columns) and then gets a ``.done`` marker
holding its row range, row count, the sha256 of the parquet and of the input rows, and its status counts.
A restart with the same arguments verifies the markers, skips the finished shards and scores the rest.
A process killed at any moment loses at most the shard in flight; it never leaves a corrupt or
duplicated row, because a shard is only ever read through a marker that matches its file.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..scoring.schema import count_statuses
from .files import read_json, sha256_bytes, sha256_file, write_bytes_atomic, write_json_atomic
from .inputs import as_scorers, check_inputs, load_input
from .manifest import (
    HEAD_ROWS, MANIFEST, SHARDS, ResumeMismatchError, ShardPlan, build_manifest, ensure_manifest, read_manifest,
    rows_digest, shard_path,
)
from .progress import Progress

logger = logging.getLogger(__name__)


@dataclass
class ShardedRun:
    """What one ``run_sharded`` call did.

    Attributes:
        out_dir: the run folder.
        rank, world_size: which shards this call owned (shard i belongs to rank ``i % world_size``).
        num_shards: shards in the whole run.
        shards_scored: shards scored by this call; shards_skipped: finished earlier and verified.
        rows: rows in this rank's shards; seconds: wall time of this call.
        statuses: ``{scorer name: {status: count}}`` over this rank's shards, or over all shards once merged.
        merged: the :class:`~qaq_datasets.runner.merging.MergeResult` when this call merged the run, else None.
    """

    out_dir: Path
    rank: int
    world_size: int
    num_shards: int
    shards_scored: list[int] = field(default_factory=list)
    shards_skipped: list[int] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    statuses: dict = field(default_factory=dict)
    merged: object = None

    @property
    def dataset(self):
        """The merged scored ``Dataset`` (input order, input columns + score columns), or None if not merged."""
        return None if self.merged is None else self.merged.dataset


def output_features(dataset, scorers: dict):
    """Input features followed by each scorer's score columns, in scorer order."""
    features = dataset.features.copy()
    for s in scorers.values():
        features.update(s.features())
    return features


def add_statuses(total: dict, part: dict) -> dict:
    """``{scorer: {status: count}}`` summed over two such dicts."""
    out = {}
    for name in dict.fromkeys([*total, *part]):
        c = Counter(total.get(name, {}))
        c.update(part.get(name, {}))
        out[name] = count_statuses(c.elements())
    return out


def format_statuses(statuses: dict) -> str:
    return "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
                     for name, counts in statuses.items())


def score_table(base, scorers: dict, features=None, *, batch_size: int = 64, device_index: int | None = None,
                progress: Progress | None = None):
    """Score the rows of a ``pyarrow.Table``: returns (table with the score columns appended, statuses).

    Each scorer sees the rows in batches of ``batch_size`` (as ``Dataset.map(batched=True)`` would give
    them); the input columns pass through untouched, as Arrow. ``features``: the output features (the
    table is cast to them, metadata included); None appends the score columns with their own types.
    """
    import pyarrow as pa

    cols = list(dict.fromkeys(c for s in scorers.values() for c in s.input_columns))
    outs = {c: [] for s in scorers.values() for c in s.output_columns}
    for off in range(0, base.num_rows, batch_size):
        batch = base.slice(off, batch_size).select(cols).to_pydict()
        tokens = 0
        for s in scorers.values():
            res = s(batch, rank=device_index)
            for c in s.output_columns:
                outs[c].extend(res[c])
            tokens += 2 * (sum(res[s.prefix + "q_tokens"]) + sum(res[s.prefix + "a_tokens"]))
        if progress is not None:
            progress.update(len(batch[cols[0]]), tokens)
    types = {}
    for s in scorers.values():
        types.update({f.name: f.type for f in s.features().arrow_schema})
    arrays = list(base.columns) + [pa.array(outs[c], type=types[c]) for c in outs]
    table = pa.Table.from_arrays(arrays, names=list(base.column_names) + list(outs))
    if features is not None:
        table = table.cast(features.arrow_schema)
    statuses = {name: count_statuses(outs[s.prefix + "status"]) for name, s in scorers.items()}
    return table, statuses


def _table_bytes(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def verified_marker(out_dir: Path, i: int, plan: ShardPlan) -> dict | None:
    """The marker of shard ``i`` if it and its parquet agree (range, rows, size, sha256), else None."""
    done, parquet = shard_path(out_dir, i, ".done"), shard_path(out_dir, i, ".parquet")
    if not done.exists():
        return None
    marker = read_json(done)
    start, end = plan.bounds(i)
    why = None
    if marker is None:
        why = "its marker is not valid JSON"
    elif (marker.get("start"), marker.get("end"), marker.get("rows")) != (start, end, end - start):
        why = "its marker names another row range"
    elif not parquet.exists():
        why = "its parquet file is missing"
    elif parquet.stat().st_size != marker.get("bytes") or sha256_file(parquet) != marker.get("sha256"):
        why = "its parquet file does not match the sha256 in its marker"
    if why:
        logger.warning("Shard %d is scored again: %s.", i, why)
        return None
    return marker


def _clean_tmp(out_dir: Path, shards: list[int]) -> None:
    """Remove temp files left by a killed run, for this rank's shards only (other ranks may be writing)."""
    folder = Path(out_dir) / SHARDS
    own = {f"shard-{i:05d}" for i in shards}
    for p in folder.glob(".shard-*.tmp"):
        if p.name[1:].split(".", 1)[0] in own:
            p.unlink(missing_ok=True)


def run_sharded(dataset_or_path, scorers, out_dir, *, shard_rows: int | None = None, num_shards: int | None = None,
                rank: int = 0, world_size: int = 1, batch_size: int = 64, device_index: int | None = None,
                merge: bool = True, progress: bool = True, verify_inputs: bool = True, split: str = "train",
                desc: str | None = None) -> ShardedRun:
    """Score ``dataset_or_path`` with one or several scorers into ``out_dir``, resumably.

    Args:
        dataset_or_path: a ``Dataset`` or a path / Hub id (see :func:`~qaq_datasets.runner.inputs.load_input`).
        scorers: a :class:`~qaq_datasets.Scorer`, a list of them, or ``{"strong": scorer_s, "weak": scorer_w}``
            (distinct prefixes); all of them score each shard.
        out_dir: the run folder (created); re-running the same call there resumes.
        shard_rows: rows per shard (default 1000), or ``num_shards`` even contiguous parts. Leaving both
            unset on a restart reuses the stored plan.
        rank, world_size: this worker's part: shard i belongs to rank ``i % world_size``.
        batch_size: rows per scorer call (the scorer packs them into micro-batches under its token budget).
        device_index: the accelerator index hint passed to the scorers (``cuda:{index % n}``), e.g. LOCAL_RANK;
            None keeps each scorer's ``device_map``.
        merge: when every shard is finished, concatenate them into ``scored.parquet`` and ``scored/``.
        progress: show a tqdm bar (rows/s, ETA, scored tokens/s).
        verify_inputs: on resume, check the input rows of each finished shard still hash to its marker.

    Returns:
        A :class:`ShardedRun`; ``.dataset`` is the merged scored dataset when this call merged.

    Raises:
        ResumeMismatchError: ``out_dir`` holds a run with another plan, dataset or scorer.

    Examples:
        >>> run = run_sharded("data.parquet", {"strong": qaq.score_fn("gemma3-270m", prefix="strong_"),
        ...                                    "weak": qaq.score_fn("smollm2-135m", prefix="weak_")},
        ...                   "runs/code", shard_rows=2000)                          # doctest: +SKIP
        >>> run.statuses                                                              # doctest: +SKIP
        {'strong': {'ok': 9871, 'truncated': 129}, 'weak': {'ok': 9871, 'truncated': 129}}
    """
    t0 = time.perf_counter()
    if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
        raise ConfigError(f"Need 0 <= rank < world_size, got rank={rank!r}, world_size={world_size!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}.")
    out_dir = Path(out_dir)
    ds = load_input(dataset_or_path, split=split)
    named = as_scorers(scorers)
    check_inputs(ds, named)

    stored = read_manifest(out_dir)
    if shard_rows is None and num_shards is None and stored is not None:
        plan = ShardPlan.from_dict(stored["plan"])
        if plan.num_rows != len(ds):
            plan = ShardPlan.make(len(ds))  # the manifest check below reports the length mismatch
    else:
        plan = ShardPlan.make(len(ds), shard_rows, num_shards)
    arrow = ds.with_format("arrow")
    head = rows_digest(arrow[0:min(HEAD_ROWS, len(ds))])
    features = output_features(ds, named)
    ensure_manifest(out_dir, build_manifest(ds, named, plan, head))

    owned = plan.owned(rank, world_size)
    _clean_tmp(out_dir, owned)
    run = ShardedRun(out_dir=out_dir, rank=rank, world_size=world_size, num_shards=plan.num_shards)
    todo, statuses = [], {}
    for i in owned:
        marker = verified_marker(out_dir, i, plan)
        if marker is not None and verify_inputs:
            if rows_digest(arrow[slice(*plan.bounds(i))]) != marker.get("input_sha256"):
                raise ResumeMismatchError(
                    f"The input rows {plan.bounds(i)} of shard {i} differ from those scored into {out_dir} earlier: "
                    "the dataset changed since the run started. Re-run on the original data or use a new out_dir.")
        if marker is None:
            todo.append(i)
        else:
            run.shards_skipped.append(i)
            statuses = add_statuses(statuses, marker.get("statuses", {}))
    sizes = {i: plan.bounds(i)[1] - plan.bounds(i)[0] for i in owned}
    run.rows = sum(sizes.values())
    done_rows = run.rows - sum(sizes[i] for i in todo)
    if run.shards_skipped:
        logger.info("Resuming %s: %d of this rank's %d shards already finished (%d rows).", out_dir,
                    len(run.shards_skipped), len(owned), done_rows)
    label = desc or ("QAQ scoring" + (f" [rank {rank}/{world_size}]" if world_size > 1 else ""))
    host = socket.gethostname()
    with Progress(run.rows, initial=done_rows, desc=label, enabled=progress,
                  position=device_index if world_size > 1 else None) as bar:
        for i in todo:
            start, end = plan.bounds(i)
            ts = time.perf_counter()
            base = arrow[start:end]
            input_digest = rows_digest(base)
            shard_path(out_dir, i, ".done").unlink(missing_ok=True)  # a stale marker must never outlive its file
            table, shard_statuses = score_table(base, named, features, batch_size=batch_size,
                                                device_index=device_index, progress=bar)
            data = _table_bytes(table)
            write_bytes_atomic(shard_path(out_dir, i, ".parquet"), data)
            write_json_atomic(shard_path(out_dir, i, ".done"), {
                "shard": i, "start": start, "end": end, "rows": table.num_rows, "bytes": len(data),
                "sha256": sha256_bytes(data), "input_sha256": input_digest, "statuses": shard_statuses,
                "seconds": round(time.perf_counter() - ts, 3), "rank": rank, "world_size": world_size,
                "host": host, "pid": os.getpid()})
            run.shards_scored.append(i)
            statuses = add_statuses(statuses, shard_statuses)
    run.statuses = statuses
    if merge and rank == 0:
        from .merging import IncompleteRunError
        from .merging import merge as merge_run

        try:
            run.merged = merge_run(out_dir)
            run.statuses = run.merged.summary["statuses"]
        except IncompleteRunError as exc:
            logger.info("Not merging yet: %s", exc)
    run.seconds = time.perf_counter() - t0
    logger.info("QAQ scoring of %s (%s, %d rows): %s", out_dir, "all shards" if run.merged else f"rank {rank}",
                run.rows if run.merged is None else len(ds), format_statuses(run.statuses))
    return run


__all__ = ["MANIFEST", "ShardedRun", "output_features", "run_sharded", "score_table", "verified_marker"]
