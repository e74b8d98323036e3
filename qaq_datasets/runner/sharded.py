"""Long scoring runs on ``datasets``' own machinery: one ``map`` cache file per contiguous shard.

Each shard is ``ds.shard(n, i, contiguous=True).map(scorers, batched=True, cache_file_name=...)``:
``datasets`` writes the file under a temp name and renames it when the shard is done, and loads it
instead of scoring again when the same command runs again. So a run killed at any moment loses at most
the shards in flight, and a re-run only scores what is missing.

Layout of ``OUT`` (the run owns the folder: a new run needs it empty or absent)::

    run/manifest.json        the run's identity: digest of the rows, scorers' fingerprints, shard count
    .qaq.lock                held by the process (rank 0) running the run, so a second command is refused (a
                             plain ``qaq score`` into ``OUT`` holds it too; hidden, so no one takes it for data)
    run/shards/*.arrow       the shards' map cache files, while the run is under way
    README.md, scored/       the scored folder (``qaq_datasets.publishing.save_folder``, which writes each file
                             under a temp name and renames it), written once at the end

At the end rank 0 concatenates the shards, writes the scored folder, marks the manifest finished and
deletes ``run/shards``: the scored folder is then the only copy of the scored rows (the manifest lists its files;
if one is gone, the same command scores the rows again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from ..errors import ConfigError, check_int
from ..files import write_atomic, writing
from ..publishing.folder import RUN_MANIFEST, save_folder
from ..scoring import MultiScorer

logger = logging.getLogger(__name__)

RUN = Path(RUN_MANIFEST).parts[0]  # the run's folder
LOCK = ".qaq.lock"


def dist_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the environment torchrun / accelerate launch set."""
    try:
        rank, world, local = (int(os.getenv(k) or d) for k, d in zip(("RANK", "WORLD_SIZE", "LOCAL_RANK"), (0, 1, 0)))
    except ValueError as exc:
        raise ConfigError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc}).") from None
    if not 0 <= rank < world:
        raise ConfigError(f"Need 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world}.")
    return rank, world, local


def out_lock(out: Path):
    """Take the lock of the output folder ``out`` (``out/.qaq.lock``) for one command, plain or sharded run, or refuse
    the command while another one holds it: ``with out_lock(out):`` releases it at the end (filelock's proxy)."""
    from filelock import FileLock, Timeout

    out.mkdir(parents=True, exist_ok=True)
    try:
        return FileLock(out / LOCK, timeout=0).acquire()
    except Timeout:
        raise ConfigError(f"{out} is in use by another qaq score command; wait for it to finish or use another "
                          "--out.") from None


def _start(ds, fn: MultiScorer, out: Path, shard_rows: int | None, held: ExitStack) -> dict | str:
    """Rank 0: lock ``out`` (held until ``held`` closes), check the stored manifest against this command (or
    write it for a new run); a finished run whose scored folder is gone is run again.

    Returns the manifest, or the one-line error that every rank raises.
    """
    path = out / RUN_MANIFEST
    other = f"{out} already holds files and no sharded run; a sharded run needs a new or empty --out."
    try:
        if not path.is_file() and out.is_dir() and any(p.name not in (RUN, LOCK) for p in out.iterdir()):
            raise ConfigError(other)  # before anything is written into out
        held.enter_context(out_lock(out))
        try:
            old = json.loads(path.read_text()) if path.is_file() else None
        except ValueError:  # not JSON: damaged
            old = {}
        if old is not None and not (isinstance(old, dict) and {"rows", "dataset", "num_shards", "scorers", "finished"}
                                    <= set(old) and type(old["num_shards"]) is int and old["num_shards"] > 0):
            raise ConfigError(f"{path} was written by another version of qaq, or damaged; use another --out.")
        if old is None and any(p.name not in (RUN, LOCK) for p in out.iterdir()):  # written meanwhile
            raise ConfigError(other)
        n = -(-len(ds) // (shard_rows or 1000)) if shard_rows or not old else old["num_shards"]  # 1000: the default
        h = hashlib.sha256(json.dumps(ds.features.to_dict(), sort_keys=True).encode())
        for table in ds.with_format("arrow").iter(batch_size=10_000):
            h.update(pickle.dumps(table.to_pydict(), protocol=4))
        new = {"rows": len(ds), "dataset": h.hexdigest()[:16], "num_shards": min(n, len(ds)),
               "scorers": {name: s.fingerprint[:16] for name, s in fn.parts().items()}, "finished": False}
        for key, what in (("num_shards", "another shard count"), ("dataset", "another dataset"),
                          ("scorers", "other scorers")):
            if old is not None and old[key] != new[key]:
                raise ConfigError(f"{out} holds a run with {what} ({old[key]}; this command: {new[key]}); re-run "
                                  "the command that started it, or use another --out.")
        if old is not None and old["finished"] and (gone := [f for f in old.get("files", ("README.md", "scored"))
                                                             if not (out / f).exists()]):
            logger.warning("%s held a finished run, but %s is gone: scoring it again.", out, gone[0])
            old = None
        if old is None:
            write_atomic(path, json.dumps(new, indent=1))
        return old or new
    except ConfigError as exc:
        return str(exc)


def run_sharded(dataset, scorers, out, *, shard_rows: int | None = None, distributed: bool = False,
                batch_size: int = 64, source: str | None = None, echo=print) -> Path | None:
    """Score ``dataset`` shard by shard into ``out``, resumably; write the scored folder ``out`` at the end.

    Args:
        dataset: a ``datasets.Dataset``.
        scorers: a :class:`~qaq_datasets.Scorer`, a list of them, ``{name: Scorer}`` (distinct prefixes), or a
            :class:`~qaq_datasets.scoring.MultiScorer` of them already built with ``dataset`` (as ``qaq score`` does).
        out: the output folder (new or empty, or holding this run); running the same command again resumes.
        shard_rows: rows per shard (default 1000; shards are ``ds.shard(n, i, contiguous=True)``). ``None``
            on a re-run keeps the run's shard count.
        distributed: run as one rank of ``torchrun`` / ``accelerate launch`` (``RANK``, ``WORLD_SIZE``,
            ``LOCAL_RANK``): rank r scores the shards ``i % WORLD_SIZE == r`` on ``cuda:LOCAL_RANK``; after a
            barrier rank 0 writes the scored folder. ``out`` must be on a filesystem every rank sees.
        batch_size: rows per ``map`` batch. source: recorded as ``source`` in the ``qaq:`` metadata.
        echo: where the summary line goes (None: nowhere).

    Input columns:
        every scorer's question and answer columns.

    Output columns:
        ``out`` holds config ``scored``: every input column plus each scorer's ``{prefix}*`` score columns,
        in input order (read it with ``qaq.load_scored(out)`` or ``datasets.load_dataset(out, "scored")``).

    Returns:
        ``out`` on rank 0 once the scored folder is written, else None.

    Raises:
        ConfigError: ``out`` is in use by another command, or holds a run of another dataset, shard count or
            scorer (never mixed), or other files. DiskFullError: the disk filled up (re-run to resume).

    Examples:
        >>> run_sharded(ds, {"weak": qaq.score_fn("smollm2-135m", prefix="weak_")}, "runs/code",
        ...             shard_rows=2000)                                              # doctest: +SKIP
    """
    from datasets import Dataset, concatenate_datasets

    fn = scorers if isinstance(scorers, MultiScorer) else MultiScorer(scorers, dataset)  # built once: no check again
    batch_size = check_int(batch_size, "batch_size", 1)
    shard_rows = shard_rows if shard_rows is None else check_int(shard_rows, "shard_rows", 1)
    if len(dataset) == 0:
        raise ConfigError("Nothing to score: the dataset has no rows.")
    out, echo = Path(out), echo or (lambda _: None)
    rank, world, local = dist_env() if distributed else (0, 1, 0)
    with ExitStack() as held:  # the process group, the full-disk guard and rank 0's lock of out, closed in reverse
        dist = _init_group(local, held) if world > 1 else None
        fn.device_index = None if world == 1 or os.environ.get("LOCAL_WORLD_SIZE") == "1" else local
        held.enter_context(writing(out))  # a full disk: DiskFullError; a re-run resumes
        state = _start(dataset, fn, out, shard_rows, held) if rank == 0 else None
        if dist is not None:  # every rank gets rank 0's manifest, or its one-line error
            dist.broadcast_object_list(box := [state], src=0)
            state = box[0]
        if isinstance(state, str):
            raise ConfigError(state)
        n = state["num_shards"]
        run_id = state["dataset"] + hashlib.sha256(repr(state["scorers"]).encode()).hexdigest()[:16]
        shards = out / RUN / "shards"
        if state["finished"]:
            if rank == 0:
                shutil.rmtree(shards, ignore_errors=True)  # left if a run was killed right after it finished
                echo(f"{out} already holds this finished run ({state['rows']} rows); nothing to do.")
            return out if rank == 0 else None
        paths = [shards / f"{run_id}-{i:05d}-of-{n:05d}.arrow" for i in range(n)]
        mine = list(range(rank, n, world))
        for i in mine:
            try:
                if paths[i].exists():
                    Dataset.from_file(str(paths[i]))
            except (OSError, ValueError):  # cut short or overwritten (Arrow's errors are both): scored again
                logger.warning("%s cannot be read: scoring that shard again.", paths[i])
                paths[i].unlink()
        if cached := sum(paths[i].exists() for i in mine):
            logger.warning("Resuming %s: %d of this rank's %d shards were scored earlier.", out, cached, len(mine))
        for i in mine:
            fn.map(dataset.shard(n, i, contiguous=True), batch_size=batch_size, cache_file_name=str(paths[i]),
                   new_fingerprint=f"{run_id}{i:05d}", desc=f"QAQ scoring shard {i + 1}/{n}")
        if dist is not None:
            dist.barrier()
            if rank != 0:
                echo(f"rank {rank}/{world}: scored shards {', '.join(map(str, mine))}")
                return None
        if missing := [i for i in range(n) if not paths[i].exists()]:
            raise ConfigError(f"Shard {missing[0]} is missing from {shards} after every rank finished: is --out on a "
                              "filesystem that every rank sees?")
        scored = concatenate_datasets([Dataset.from_file(str(p)) for p in paths])
        save_folder(out, {"scored": scored}, fn.metadata(source))
        files = ["README.md", *(str(p.relative_to(out)) for p in sorted((out / "scored").glob("*.parquet")))]
        write_atomic(out / RUN_MANIFEST, json.dumps({**state, "finished": True, "files": files}, indent=1))
        echo(fn.summary(scored, out))
        del scored
        shutil.rmtree(shards)  # the scored folder is now the only copy of the scored rows
        return out


def _init_group(local: int, held: ExitStack):
    """The torch.distributed process group (gloo: CPU and across machines; env://: MASTER_ADDR, MASTER_PORT),
    destroyed when ``held`` closes; it only carries one broadcast and one barrier."""
    import torch.distributed  # (binds torch too)

    if torch.cuda.is_available() and os.environ.get("LOCAL_WORLD_SIZE") != "1":
        torch.cuda.set_device(local % torch.cuda.device_count())
    torch.distributed.init_process_group(backend="gloo", timeout=timedelta(hours=72))
    held.callback(torch.distributed.destroy_process_group)
    return torch.distributed
