"""Several processes or machines: ``torchrun`` / ``accelerate launch`` entry point.

Each rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` from the launcher's environment) scores its own shards
(shard i belongs to rank ``i % world_size``) on ``cuda:{LOCAL_RANK % n}`` (with one rank per node,
``LOCAL_WORLD_SIZE=1``, the scorers' ``device_map`` instead) and writes them into the shared ``out_dir``;
no scores travel between ranks. The process group (gloo by default, also across machines)
only carries barriers: after one, rank 0 merges the shards in order.

Examples::

    torchrun --nproc_per_node=8 -m qaq_datasets.runner.distributed data.parquet runs/code \\
        --model strong=gemma3-270m --model weak=smollm2-135m --question instruction,input --answer output
    accelerate launch --num_processes 8 -m qaq_datasets.runner.distributed ...   # same arguments
    python -m qaq_datasets.runner.distributed merge runs/code                      # merge separately

The run folder must be on a filesystem every rank sees (NFS, Lustre, a mounted bucket) for rank 0 to
merge; otherwise pass ``--no-merge``, gather the ``shards/`` folders, and run ``merge``. Re-running the
same command (any world size) resumes: finished shards are verified and skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import timedelta

from ..errors import ConfigError

logger = logging.getLogger(__name__)


def dist_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the environment set by torchrun / accelerate launch."""
    def get(name, default):
        v = os.environ.get(name)
        try:
            return int(v) if v not in (None, "") else default
        except ValueError as exc:
            raise ConfigError(f"Environment variable {name}={v!r} is not an integer.") from exc

    rank, world = get("RANK", 0), get("WORLD_SIZE", 1)
    local = get("LOCAL_RANK", rank)
    if not 0 <= rank < world:
        raise ConfigError(f"Need 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world}.")
    return rank, world, local


def run_distributed(dataset_or_path, scorers, out_dir, *, shard_rows: int | None = None,
                    num_shards: int | None = None, batch_size: int = 64, merge: bool = True,
                    progress: bool = True, backend: str = "gloo", timeout: timedelta = timedelta(hours=72),
                    split: str = "train", verify_inputs: bool = True):
    """:func:`~qaq_datasets.runner.run_sharded` as this rank of a launched job; rank 0 merges after a barrier.

    Without a launcher (``WORLD_SIZE`` unset or 1) it is a plain single-process ``run_sharded``.
    ``timeout`` bounds the barrier wait (ranks finish at different times, e.g. after a resume); a rank
    that dies closes its connections, so the others fail fast rather than waiting it out.

    Returns:
        The rank's :class:`~qaq_datasets.runner.ShardedRun` (``.dataset`` is set on rank 0 after merging).
    """
    from .shards import run_sharded

    rank, world, local = dist_env()
    kwargs = dict(shard_rows=shard_rows, num_shards=num_shards, batch_size=batch_size, progress=progress,
                  split=split, verify_inputs=verify_inputs)
    if world == 1:
        return run_sharded(dataset_or_path, scorers, out_dir, merge=merge, **kwargs)

    import torch
    import torch.distributed as dist

    if torch.cuda.is_available() and os.environ.get("LOCAL_WORLD_SIZE") != "1":
        torch.cuda.set_device(local % torch.cuda.device_count())
    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group(backend=backend, timeout=timeout)  # env:// (MASTER_ADDR, MASTER_PORT, ...)
    try:
        if dist.get_rank() != rank or dist.get_world_size() != world:
            raise ConfigError(f"The process group (rank {dist.get_rank()}/{dist.get_world_size()}) disagrees with "
                              f"RANK={rank}, WORLD_SIZE={world}.")
        # one rank per GPU: cuda:LOCAL_RANK; one rank per node: keep the scorers' device_map ("auto" spreads a
        # model too large for one GPU over all of the node's GPUs)
        device_index = None if os.environ.get("LOCAL_WORLD_SIZE") == "1" else local
        run = run_sharded(dataset_or_path, scorers, out_dir, rank=rank, world_size=world, device_index=device_index,
                          merge=False, **kwargs)
        dist.barrier()
        if merge and rank == 0:
            from .merging import merge as merge_run

            run.merged = merge_run(out_dir)
            run.statuses = run.merged.summary["statuses"]
        return run
    finally:
        if own_group:
            dist.destroy_process_group()


def _scorers_from_args(args) -> dict:
    from ..scoring.multi import build_scorers, parse_model_args

    question = [c for c in args.question.split(",") if c]
    return build_scorers(parse_model_args(args.model), question=question, answer=args.answer, template=args.template,
                         max_length=args.max_length, token_budget=args.token_budget, dtype=args.dtype,
                         device_map=args.device_map)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m qaq_datasets.runner.distributed",
        description="Score a dataset with QAQ as one rank of a torchrun / accelerate launch job (resumable). "
                    "'... merge OUT_DIR' merges a finished run.")
    p.add_argument("data", help="input: .parquet/.json/.jsonl/.csv file, save_to_disk folder or Hub dataset id")
    p.add_argument("out_dir", help="run folder, shared by all ranks; re-running the command resumes")
    p.add_argument("--model", action="append", metavar="NAME=SPEC",
                   help="a scorer: prefix NAME_ and model SPEC (alias, folder, .gguf, Hub id); repeat for several "
                        "(default: strong=gemma3-270m weak=smollm2-135m)")
    p.add_argument("--question", default="instruction", help="question column(s), comma-separated")
    p.add_argument("--answer", default="output", help="answer column")
    p.add_argument("--template", default="standard")
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--token-budget", type=int, default=8192)
    p.add_argument("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
    p.add_argument("--device-map", default="auto",
                   help="'auto' (one model over all visible GPUs, the slow fallback for models too large for one "
                        "GPU when WORLD_SIZE is 1), 'cpu'; under a launcher each rank uses cuda:LOCAL_RANK")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--shard-rows", type=int, default=None, help="rows per shard (default 1000)")
    g.add_argument("--num-shards", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--split", default="train")
    p.add_argument("--no-merge", action="store_true", help="leave the shards; run '... merge OUT_DIR' later")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-verify-inputs", action="store_true",
                   help="on resume, trust the markers without re-hashing the input rows of finished shards")
    p.add_argument("--backend", default="gloo", help="torch.distributed backend for the barriers (default gloo)")
    p.add_argument("--barrier-timeout-hours", type=float, default=72.0)
    return p


def main_distributed(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m qaq_datasets.runner.distributed`` (and ``qaq score --distributed``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    rank, world, _ = dist_env()
    logging.basicConfig(level=logging.INFO, format=f"[rank {rank}/{world}] %(levelname)s %(message)s")
    if argv[:1] == ["merge"]:
        mp = argparse.ArgumentParser(prog="python -m qaq_datasets.runner.distributed merge")
        mp.add_argument("out_dir")
        mp.add_argument("--no-folder", action="store_true", help="write scored.parquet only")
        a = mp.parse_args(argv[1:])
        from .merging import merge

        res = merge(a.out_dir, folder=not a.no_folder)
        print(_summary_line(res.summary["rows"], res.summary["statuses"], res.parquet))
        return 0
    args = build_parser().parse_args(argv)
    run = run_distributed(args.data, _scorers_from_args(args), args.out_dir, shard_rows=args.shard_rows,
                          num_shards=args.num_shards, batch_size=args.batch_size, merge=not args.no_merge,
                          progress=not args.no_progress, backend=args.backend,
                          timeout=timedelta(hours=args.barrier_timeout_hours), split=args.split,
                          verify_inputs=not args.no_verify_inputs)
    if run.merged is not None:
        print(_summary_line(run.merged.summary["rows"], run.statuses, run.merged.parquet))
    else:
        print(f"rank {rank}: scored {len(run.shards_scored)} shards, skipped {len(run.shards_skipped)} finished ones "
              f"({run.rows} rows): {run.statuses}")
    return 0


def _summary_line(rows, statuses, where) -> str:
    from .shards import format_statuses

    return f"{rows} rows scored into {where}: {format_statuses(statuses)}"


if __name__ == "__main__":
    sys.exit(main_distributed())
