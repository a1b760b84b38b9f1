"""Atomic, versioned JSON checkpoints (never pickle: loading one must not execute code)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """The checkpoint in ``log_dir`` belongs to a different program, dataset or configuration."""


def save_json_atomic(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` via temp file + fsync + rename, so a reader sees old or new, never half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | os.PathLike[str], fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """Load a checkpoint, or None when there is none; refuse one written for another run."""
    path = Path(path)
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointMismatchError(f"{path}: checkpoint format {version!r} is not supported (expected {FORMAT_VERSION})")
    saved = data.get("fingerprint", {})
    diffs = [k for k in sorted(set(saved) | set(fingerprint)) if saved.get(k) != fingerprint.get(k)]
    if diffs:
        details = "; ".join(f"{k}: saved {saved.get(k)!r}, now {fingerprint.get(k)!r}" for k in diffs)
        raise CheckpointMismatchError(
            f"{path} was written by a different run ({details}). Use a fresh log_dir, or delete it to start over."
        )
    return data
