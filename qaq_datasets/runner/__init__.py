"""Scaling QAQ scoring out on ``datasets``' own machinery.

- :func:`run_sharded`: a long run as one ``Dataset.map`` cache file per contiguous shard (resume = cache
  hits), a lock on the output folder, ranks of ``torchrun`` / ``accelerate launch`` taking shards
  ``i % WORLD_SIZE``; what ``qaq score --shard-rows N`` and ``qaq score --distributed`` run.
- :func:`score_ray`: the same scorers on each block of a Ray Data pipeline (``[ray]`` extra).
"""

from __future__ import annotations

from ..publishing.folder import has_run
from .ray_data import score_ray
from .sharded import out_lock, run_sharded

__all__ = ["has_run", "out_lock", "run_sharded", "score_ray"]
