"""One process per run folder: a second ``compare`` that reaches a run already in progress skips it.

Long comparisons are built a few runs at a time in the background, so starting the same command twice is
an easy mistake; two processes in one run folder would interleave LM journal lines and overwrite each
other's checkpoints. ``run_lock`` holds an exclusive ``flock`` on ``run.lock`` in the run folder while the run
goes on. The operating system drops the lock when the process ends, however it ends (SIGKILL included), so
a stale lock never blocks a later resume.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs are not guarded
    fcntl = None  # type: ignore[assignment]

LOCK = "run.lock"


class RunBusy(RuntimeError):
    """The run folder is locked by another live process."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is being run by another process ({holder})")
        self.holder = holder


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    try:
        data = json.loads(fh.read() or "{}")
    except ValueError:
        return "pid unknown"
    return f"pid {data.get('pid', '?')}, since {data.get('since', '?')}"


@contextmanager
def run_lock(folder: Path, since: str) -> Iterator[None]:
    """Hold the run folder's lock for the block; raises ``RunBusy`` at once if another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with (folder / LOCK).open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusy(folder, _holder(fh)) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "since": since}))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def lock_holder(folder: Path) -> str | None:
    """Who holds ``folder``'s run lock ("pid N, since T"), or None when no live process does.

    Takes the lock and releases it at once, so a ``compare`` reaching the same run in that instant skips it.
    """
    if not (folder / LOCK).exists():
        return None
    try:
        with run_lock(folder, "status check"):
            return None
    except RunBusy as busy:
        return busy.holder
