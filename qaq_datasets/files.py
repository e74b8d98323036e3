"""Writing files that others read: whole or not at all, and as plain values.

- :func:`write_atomic`: a file goes to a temporary name in its folder, then ``os.replace`` puts it in place, so a
  crash or a full disk leaves the old file or none, never a truncated one; a full disk is :class:`DiskFullError`
  naming the file (the OS names none). Every single file qaq writes (cards, plans, reports, a run's
  manifest, the checksum memo of the model cache) goes through here.
- :func:`to_builtin`: numpy values, tuples, sets and mappings as the plain values JSON and YAML write.

Examples:
    >>> to_builtin({"a": np.int64(3), "b": (np.float32(0.5), float("nan")), 1: {"x"}})
    {'a': 3, 'b': [0.5, None], '1': ['x']}
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DiskFullError


@contextlib.contextmanager
def writing(path: Path):
    """Turn a full disk while writing ``path`` into :class:`DiskFullError` naming it (the OS names no file)."""
    try:
        yield
    except OSError as exc:  # (pyarrow's writers raise it without an errno)
        if isinstance(exc, DiskFullError) or (exc.errno not in (errno.ENOSPC, errno.EDQUOT)
                                              and "No space left" not in str(exc)):
            raise
        raise DiskFullError(f"No space left on the device while writing {str(path)!r}; nothing was left half-written "
                            "under a final name. Free some space and run the command again.") from exc


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in its folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with writing(path):
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_builtin(value: Any) -> Any:
    """``value`` as plain Python (JSON- and YAML-safe): numpy scalars and arrays as numbers and lists, tuples and sets
    as lists, mapping keys as strings, NaN and ±inf as None (JSON has no NaN), anything else as its ``str``."""
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if isinstance(o, (np.ndarray, np.generic)) else
                                 list(o) if isinstance(o, (set, frozenset)) else str(o)), parse_constant=lambda _: None)
