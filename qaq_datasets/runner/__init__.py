"""Scaling QAQ scoring out: sharded resumable runs, torchrun/accelerate launch, and an optional Ray Data path.

- :func:`run_sharded`: contiguous shards, atomic parquet + ``.done`` markers, resume, merge.
- :func:`merge` / :func:`status`: finish or inspect a run folder.
- :func:`run_distributed` / :func:`main_distributed`: one rank per process under ``torchrun`` or
  ``accelerate launch`` (``python -m qaq_datasets.runner.distributed``), each scoring shards ``i % world_size``.
- :func:`score_ray`: ``ray.data`` read_parquet → map_batches(scorer actors) → write_parquet (``[ray]`` extra).
- :func:`run_sharded_job`: what ``qaq score --shard-rows/--distributed`` runs (a run in ``OUT/run``, then
  the CLI's scored folder ``OUT``).
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "run_sharded": ".shards", "ShardedRun": ".shards", "merge": ".merging", "status": ".merging",
    "MergeResult": ".merging", "IncompleteRunError": ".merging", "CorruptShardError": ".merging",
    "ResumeMismatchError": ".manifest", "ShardPlan": ".manifest", "load_input": ".inputs",
    "run_distributed": ".distributed", "main_distributed": ".distributed", "score_ray": ".ray_data",
    "run_sharded_job": ".job",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
