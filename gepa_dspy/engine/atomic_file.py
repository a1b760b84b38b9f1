"""The engine's one atomic file writer: a reader sees the old content or the new, never half of either."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (ASCII: callers escape the rest, so any Python string round-trips) to ``path`` via a
    temporary file, fsync and rename, then fsync the folder so the rename itself survives a power cut."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
