"""A tqdm bar for a (sharded) scoring run: rows/s and ETA from tqdm, scored tokens/s as a postfix.

Rows of shards finished by an earlier, interrupted run count as done from the start (``initial``), so the
ETA covers only the work left.
"""

from __future__ import annotations

import time


class Progress:
    def __init__(self, total: int, *, initial: int = 0, desc: str = "QAQ scoring", enabled: bool = True,
                 position: int | None = None):
        self.tokens = 0
        self.t0 = time.perf_counter()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="rows", desc=desc, dynamic_ncols=True,
                            position=position, smoothing=0.05)

    def update(self, rows: int, tokens: int = 0) -> None:
        self.tokens += tokens
        if self.bar is not None:
            elapsed = max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix_str(f"{self.tokens / elapsed:,.0f} tok/s", refresh=False)
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
