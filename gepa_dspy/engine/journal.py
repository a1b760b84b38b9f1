"""Append-only JSON-lines journals that survive SIGKILL (each record is flushed and fsynced)."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterator, TextIO

from .atomic_file import replace_file_atomically

logger = logging.getLogger(__name__)


class JsonlJournal:
    """Appends one JSON object per line; reading back skips (and counts) a line torn by a kill."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: TextIO | None = None
        self._lock = threading.Lock()
        self.torn_lines = 0

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=True)
        with self._lock:
            if self._fh is None:
                self._fh = open(self.path, "a", encoding="utf-8")
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def read(self) -> Iterator[dict[str, Any]]:
        """Every complete record, in order. A torn line is skipped, counted, and cut from the file."""
        if not self.path.exists():
            return iter(())
        good: list[dict[str, Any]] = []
        torn = 0
        # Read bytes: a line torn inside a multi-byte character must be skipped like any torn line.
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line.decode("utf-8"))
                    if not isinstance(rec, dict) or not line.endswith(b"\n"):
                        raise ValueError("incomplete record")
                    good.append(rec)
                except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                    torn += 1
        if torn:
            self.torn_lines += torn
            logger.warning("%s: skipped %d unreadable line(s) left by an interrupted write", self.path, torn)
            self.rewrite(good)
        return iter(good)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the file's content with ``records`` atomically."""
        replace_file_atomically(self.path, "".join(json.dumps(rec, ensure_ascii=True) + "\n" for rec in records))

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
