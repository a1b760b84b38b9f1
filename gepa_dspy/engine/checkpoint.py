"""Atomic, versioned JSON checkpoints (never pickle: loading one must not execute code), and the identity
file that says which run the journals in a ``log_dir`` belong to."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .atomic_file import replace_file_atomically

FORMAT_VERSION = 1

#: Written before the first journal record: the fingerprint of the run the journals belong to.
IDENTITY_FILE = "run_identity.json"


class CheckpointError(ValueError):
    """A file in ``log_dir`` cannot be used to resume: damaged, edited, or written by something else."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint in ``log_dir`` belongs to a different program, dataset or configuration."""


def save_json_atomic(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (``replace_file_atomically``).

    Non-ASCII text is written as JSON escapes, so any Python string (even a lone surrogate) round-trips.
    """
    replace_file_atomically(path, json.dumps(payload, ensure_ascii=True))


def read_json_file(path: Path, what: str) -> Any:
    """The JSON in ``path``; a damaged file raises ``CheckpointError`` naming it and saying what to do."""
    try:
        raw = path.read_bytes()
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(
            f"{path}: the {what} is damaged and cannot be read ({type(exc).__name__}: {str(exc)[:200]}). "
            f"Delete {path.name} to restart the search from the seed program, reusing the runs and proposals journaled "
            "in this log_dir (reused runs are not paid again but still count against the budget), or use a fresh "
            "log_dir to start over."
        ) from None


def _differences(path: Path, saved: Any, fingerprint: dict[str, Any]) -> None:
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: field 'fingerprint' must be an object, got {type(saved).__name__}")
    diffs = [k for k in sorted(set(saved) | set(fingerprint)) if saved.get(k) != fingerprint.get(k)]
    if diffs:
        details = "; ".join(f"{k}: saved {_short(saved.get(k))}, now {_short(fingerprint.get(k))}" for k in diffs)
        raise CheckpointMismatchError(
            f"{path} was written by a different run ({details}). Use a fresh log_dir, or delete it to start over."
        )


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_checkpoint(path: str | os.PathLike[str], fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """Load a checkpoint, or None when there is none; refuse one written for another run."""
    path = Path(path)
    if not path.exists():
        return None
    data = read_json_file(path, "checkpoint")
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: a checkpoint must be a JSON object, got {type(data).__name__}")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointMismatchError(f"{path}: checkpoint format {version!r} is not supported (expected {FORMAT_VERSION})")
    _differences(path, data.get("fingerprint", {}), fingerprint)
    return data


def check_identity(log_dir: Path, fingerprint: dict[str, Any], journals: list[Path], has_checkpoint: bool) -> None:
    """Refuse journals written by another run; record this run's identity before it journals anything.

    Journals without an identity file (written before gepa_dspy kept one) are trusted only next to a
    checkpoint, whose own fingerprint is checked; alone, nothing says what they belong to.
    """
    path = log_dir / IDENTITY_FILE
    if path.exists():
        saved = read_json_file(path, "run identity file")
        if not isinstance(saved, dict):
            raise CheckpointError(f"{path}: must be a JSON object, got {type(saved).__name__}")
        _differences(path, saved.get("fingerprint"), fingerprint)
        return
    written = [j for j in journals if j.exists() and j.stat().st_size > 0]
    if written and not has_checkpoint:
        raise CheckpointMismatchError(
            f"{log_dir} holds journal(s) {[j.name for j in written]} but no {IDENTITY_FILE} saying which run wrote them, "
            "so they cannot be matched to this program and dataset. Use a fresh log_dir, or delete it to start over."
        )
    save_json_atomic(path, {"format_version": FORMAT_VERSION, "fingerprint": fingerprint})
