"""One owner per ``log_dir``: an exclusive ``filelock`` lock held for the whole search.

Two searches writing one ``log_dir`` would both pay for every run and tear each other's checkpoint. The lock is
an OS lock (``flock`` on Unix), which the kernel releases when its holder dies, so a lock left by a killed
process is taken over by the next search; the owner file next to it names the holder for the error message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

logger = logging.getLogger("gepa_dspy")

LOCK_FILE = "gepa.lock"
OWNER_FILE = "gepa.lock.owner"


class LogDirBusyError(RuntimeError):
    """Another search (another process, or another compile in this one) holds the ``log_dir``."""


def _read_owner(log_dir: Path) -> dict[str, Any]:
    try:
        owner = json.loads((log_dir / OWNER_FILE).read_text(encoding="utf-8"))
        return owner if isinstance(owner, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(owner: dict[str, Any]) -> str:
    if not owner:
        return "a process that has not written its pid yet"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("since", 0)))
    return f"pid {owner.get('pid')} on host {owner.get('host')!r}, since {since}"


@contextmanager
def exclusive_log_dir(log_dir: Path) -> Iterator[None]:
    """Hold ``log_dir`` for the block; raise ``LogDirBusyError`` naming the holder if another search holds it."""
    lock = FileLock(str(log_dir / LOCK_FILE), timeout=0, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LogDirBusyError(
            f"{log_dir} is in use by another GEPA search ({_describe(_read_owner(log_dir))}). Two searches in one "
            "log_dir would both pay for every run; wait for it to finish, stop it (create the file "
            f"{log_dir / 'stop'}), or give this compile another log_dir."
        ) from None
    try:
        previous = _read_owner(log_dir)
        if previous:
            logger.warning("GEPA: took over %s from %s, which ended without releasing it (killed?)", log_dir, _describe(previous))
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        (log_dir / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
        yield
    finally:
        try:
            (log_dir / OWNER_FILE).unlink(missing_ok=True)
        finally:
            lock.release()
