"""Crash-safe files: write to a temp file in the same folder, fsync, then ``os.replace`` (atomic on POSIX).

A process killed at any moment (SIGKILL included) leaves either the old file, the new file, or a stray
``.*.tmp`` file that nothing reads; never a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def tmp_name(path: Path) -> Path:
    """A temp name beside ``path``, unique per process: ``.{name}.{pid}.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see all of it or none of it."""
    path = Path(path)
    tmp = tmp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=1, default=str) + "\n").encode())


def read_json(path: Path):
    """The JSON object in ``path``, or None when the file is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
