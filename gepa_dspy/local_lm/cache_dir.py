"""The local LM's cache directory and its folders: assembled GGUF models and server logs, never inside the repo."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "gepa-dspy"


def cache_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: ``override``, else ``$XDG_CACHE_HOME/gepa-dspy``, else ``~/.cache/gepa-dspy``."""
    if override is not None:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / APP_DIR_NAME).resolve()


def models_dir(root: Path) -> Path:
    """Folder for assembled GGUF files."""
    return root / "models"


def logs_dir(root: Path) -> Path:
    """Folder for ``llama-server`` log files."""
    return root / "logs"
