"""What ``qaq score --shard-rows N`` / ``qaq score --distributed`` runs: a resumable run, then the CLI's folder.

The run's bookkeeping (manifest, shards, merged parquet) lives in ``OUT/run/``; once every shard is done,
rank 0 writes ``OUT`` in the layout ``qaq score`` always writes (config ``scored``, README with the ``qaq:``
block), so ``qaq select OUT`` and ``qaq publish OUT`` read it as they read an unsharded run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

RUN_SUBDIR = "run"


def run_sharded_job(dataset, scorers, out, *, shard_rows: int | None = None, num_shards: int | None = None,
                    distributed: bool = False, source: str | None = None, batch_size: int = 64,
                    progress: bool = True, echo=print):
    """Score ``dataset`` resumably into ``out/run`` and, when finished, write the scored folder ``out``.

    Args:
        dataset: a ``Dataset`` (or a path / Hub id).
        scorers: ``{name: Scorer}`` (prefix ``{name}_``).
        out: the output folder; re-running the same command resumes from ``out/run``.
        distributed: run as this rank of a torchrun / accelerate launch job (RANK, WORLD_SIZE, LOCAL_RANK).
        source: recorded as the ``source`` of the ``qaq:`` metadata.
        echo: where the summary line goes (``typer.echo`` in the CLI); None for silence.

    Returns:
        The :class:`~qaq_datasets.runner.ShardedRun` of this rank.
    """
    from .distributed import run_distributed
    from .inputs import as_scorers
    from .shards import format_statuses, run_sharded

    named = as_scorers(scorers)
    run_dir = Path(out) / RUN_SUBDIR
    kwargs = dict(shard_rows=shard_rows, num_shards=num_shards, batch_size=batch_size, progress=progress)
    run = run_distributed(dataset, named, run_dir, **kwargs) if distributed else run_sharded(dataset, named, run_dir,
                                                                                              **kwargs)
    if run.merged is None:
        if echo and run.rank == 0:
            echo(f"{run_dir}: not all shards are finished yet (rank {run.rank}); re-run the same command to resume.")
        return run
    from ..publishing import save_folder

    metadata = {"scorers": {name: sc.recipe() for name, sc in named.items()}}
    if source is not None:
        metadata["source"] = os.fspath(source)
    save_folder(out, {"scored": run.merged.dataset}, metadata)
    if echo:
        echo(f"{run.merged.summary['rows']} rows scored ({format_statuses(run.statuses)}); wrote {out} "
             f"(resumable run in {run_dir})")
    return run
