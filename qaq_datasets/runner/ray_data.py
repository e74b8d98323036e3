"""The Ray Data path (``pip install 'qaq-datasets[ray]'``), for users who already run Ray.

``ray.data.read_parquet`` → ``map_batches`` with one actor per model copy → ``write_parquet``. Each actor
runs the same ``Dataset.map`` function as a sharded run on each block it gets. Ray retries failed tasks
and restarts actors within a run, but a Ray job is not resumable across runs: use ``run_sharded`` for that.
"""

from __future__ import annotations

import os

from ..errors import require
from ..scoring import MultiScorer


class ScorerActor:
    """A Ray Data callable class: one copy of the scorers' model(s); ``__call__(pyarrow.Table) -> pyarrow.Table``."""

    def __init__(self, fn: MultiScorer, batch_size: int = 64):
        self.fn, self.batch_size = fn, batch_size  # the scorers arrive as recipes; models load lazily

    def __call__(self, table):
        from datasets import Dataset

        return self.fn.map(Dataset(table), batch_size=self.batch_size, keep_in_memory=True).with_format("arrow")[:]


def score_ray(source, scorers, output_path: str | os.PathLike, *, batch_size: int = 64, num_actors: int = 1,
              num_gpus_per_actor: float | None = None, num_cpus_per_actor: float = 0.5,
              rows_per_block: int | None = None) -> str:
    """Score ``source`` with Ray Data and write parquet files under ``output_path``, in input order.

    Args:
        source: parquet path(s) (any filesystem Ray reads), a ``datasets.Dataset``, or a ``ray.data.Dataset``
            (created with ``DataContext.get_current().execution_options.preserve_order = True`` for input order).
        scorers: a Scorer, a list, ``{name: Scorer}`` (distinct prefixes), or a ``MultiScorer`` of them.
        num_actors: model copies; ``num_gpus_per_actor`` defaults to 1 when the cluster has GPUs.
        num_cpus_per_actor: CPUs reserved per actor; keep it fractional on small machines, or the actors
            hold every CPU and the read and write tasks never run.
        rows_per_block: re-block the input (``repartition``) so that several actors get work; one actor call
            scores one block in batches of ``batch_size`` rows.

    Input columns:
        every scorer's question and answer columns.

    Output columns:
        every input column plus each scorer's ``{prefix}*`` score columns.

    Returns:
        ``output_path``.
    """
    ray = require("ray", extra="ray", package="ray[data]")
    import ray.data  # noqa: F401 - the data extra

    fn = scorers if isinstance(scorers, MultiScorer) else MultiScorer(scorers)
    ctx = ray.data.DataContext.get_current()  # a Dataset keeps the context current when it was created
    before = ctx.execution_options.preserve_order, getattr(ctx, "use_datasource_v2", True)
    # Ray's V2 parquet reader (default from 2.60) returns a file's row groups out of order; V1 keeps them
    ctx.execution_options.preserve_order, ctx.use_datasource_v2 = True, False
    try:
        if isinstance(source, ray.data.Dataset):
            rds = source
        elif hasattr(source, "with_format"):  # a datasets.Dataset
            rds = ray.data.from_arrow(source.with_format("arrow")[:])
        else:
            rds = ray.data.read_parquet(source if isinstance(source, (list, tuple)) else os.fspath(source))
        if rows_per_block:
            rds = rds.repartition(target_num_rows_per_block=rows_per_block)
        if num_gpus_per_actor is None:
            num_gpus_per_actor = 1 if ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0 else 0
        # one call per block; Dataset.map cuts it into batch_size batches inside the actor
        rds.map_batches(ScorerActor, fn_constructor_kwargs={"fn": fn, "batch_size": batch_size},
                        batch_size=None, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=num_actors),
                        num_cpus=num_cpus_per_actor, num_gpus=num_gpus_per_actor or None
                        ).write_parquet(os.fspath(output_path))
    finally:
        ctx.execution_options.preserve_order, ctx.use_datasource_v2 = before
    return os.fspath(output_path)
