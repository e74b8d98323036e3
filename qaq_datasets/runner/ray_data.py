"""The Ray Data path (``pip install 'qaq-datasets[ray]'``), for users who already run Ray.

``ray.data.read_parquet`` → ``map_batches`` with one scorer actor per model copy → ``write_parquet``.
Each actor is a callable class built from the scorers' recipes (a scorer pickles to its recipe, never its
weights) and loads its model(s) once. Ray retries failed tasks and restarts actors within a run, but a
Ray job is not resumable across runs: for runs that must survive restarts use ``run_sharded``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import require

logger = logging.getLogger(__name__)


class ScorerActor:
    """A Ray Data callable class: one copy of the scorers' model(s); ``__call__(pyarrow.Table) -> pyarrow.Table``."""

    def __init__(self, scorers: dict, batch_size: int = 64):
        self.scorers = scorers  # arrives re-built from the recipes; models load on the first batch
        self.batch_size = batch_size
        self.device_index = None
        try:
            import torch

            if torch.cuda.is_available():  # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU(s)
                self.device_index = 0
        except ImportError:  # pragma: no cover
            pass

    def __call__(self, table):
        from .shards import score_table

        out, _ = score_table(table, self.scorers, batch_size=self.batch_size, device_index=self.device_index)
        return out


def score_ray(source, scorers, output_path: str | os.PathLike, *, batch_size: int = 64, num_actors: int = 1,
              num_gpus_per_actor: float | None = None, num_cpus_per_actor: float = 0.5,
              rows_per_block: int | None = None, preserve_order: bool = True, ray_remote_args: dict | None = None
              ) -> str:
    """Score ``source`` with Ray Data and write parquet files under ``output_path``.

    Args:
        source: parquet path(s) (local or any filesystem Ray reads), a ``ray.data.Dataset`` or a
            ``datasets.Dataset``.
        scorers: a Scorer, a list, or ``{name: Scorer}`` (distinct prefixes), built from model specs.
        num_actors: model copies (actors); ``num_gpus_per_actor`` defaults to 1 when the cluster has GPUs.
        num_cpus_per_actor: CPUs reserved per actor. Keep it fractional on small machines: actors holding
            every CPU leave none for the read and write tasks and the pipeline stalls.
        rows_per_block: re-block the input into blocks of this many rows (``repartition``) so several
            actors get work on small inputs. One actor call scores one block, in batches of
            ``batch_size`` rows, so this also bounds the work (and the work lost) of one Ray task.
        preserve_order: keep input row order in the output (Ray's ``preserve_order``).

    Returns:
        ``output_path`` (a folder of parquet files: input columns + score columns).
    """
    ray = require("ray", extra="ray", package="ray[data]")
    import ray.data  # noqa: F401 - the data extra

    from .inputs import as_scorers

    named = as_scorers(scorers)
    if isinstance(source, ray.data.Dataset):
        rds = source
    elif hasattr(source, "features") and hasattr(source, "with_format"):  # a datasets.Dataset
        rds = ray.data.from_arrow(source.with_format("arrow")[:])
    else:
        rds = ray.data.read_parquet(source if isinstance(source, (list, tuple)) else os.fspath(source))
    if rows_per_block:
        rds = rds.repartition(target_num_rows_per_block=rows_per_block)
    if num_gpus_per_actor is None:
        num_gpus_per_actor = 1 if ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0 else 0
    if ray.is_initialized():
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus and num_actors * num_cpus_per_actor >= cpus:
            logger.warning("%d actors x %s CPUs reserve all %s CPUs of the cluster: the read and write tasks get none "
                           "and the pipeline can stall. Lower num_cpus_per_actor (e.g. 0.5).", num_actors,
                           num_cpus_per_actor, cpus)
    remote: dict[str, Any] = dict(ray_remote_args or {})
    # one call per block (the actor scores it in sub-batches of batch_size rows): when Ray cut blocks into
    # batch_size batches itself, batches of one block could come out of order despite preserve_order
    scored = rds.map_batches(ScorerActor, fn_constructor_kwargs={"scorers": named, "batch_size": batch_size},
                             batch_size=None, batch_format="pyarrow", concurrency=num_actors,
                             num_cpus=num_cpus_per_actor, num_gpus=num_gpus_per_actor or None, **remote)
    # a Dataset runs with the context copied when it was created: set the option on the one that executes
    scored.context.execution_options.preserve_order = preserve_order
    scored.write_parquet(os.fspath(output_path))
    return os.fspath(output_path)
