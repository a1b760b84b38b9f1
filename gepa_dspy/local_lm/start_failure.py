"""Why a ``llama-server`` died before it became healthy, and what to run next.

Every such death gets a likely cause (from the exit code or signal, the CPU's flags and the server log) and the
exact rebuild command: a wrong build is the cause we cannot rule out from here, and the rebuild is cheap next to
a user left without advice (issue 31: a SIGSEGV on an AMX-advertising VM printed nothing).
"""

from __future__ import annotations

import signal

from .install_hints import (
    PORTABLE_CMAKE_ARGS,
    build_cmake_args,
    cpu_flags,
    is_x86_64,
    server_rebuild_command,
)

#: /proc/cpuinfo flags of the instruction sets a ``-march=native`` build picks up and some VMs do not run.
_RISKY_FLAGS = ("amx_tile", "amx_int8", "amx_bf16", "avx512f")


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _risky_flags_text(machine: str | None, flags: frozenset[str] | None) -> str:
    if not is_x86_64(machine) or not flags:
        return ""
    risky = [f for f in _RISKY_FLAGS if f in flags]
    return f" This CPU advertises {', '.join(risky)}." if risky else ""


def _likely_cause(code: int, machine: str | None, flags: frozenset[str] | None, log_text: str) -> str:
    log = log_text.lower()
    risky = _risky_flags_text(machine, flags)
    if code == -signal.SIGILL:
        where = (
            "a -march=native build on a VM that advertises Intel AMX or AVX-512 without running it, or a build "
            "from another machine"
            if is_x86_64(machine)
            else "a build from another machine"
        )
        return f"illegal instruction: llama-server was compiled for instructions this CPU cannot run ({where}).{risky}"
    if code == -signal.SIGSEGV:
        return (
            "segmentation fault. Seen right after 'llama threadpool init' on x86-64 VMs that advertise Intel AMX, "
            f"with llama.cpp's default -march=native build.{risky} A damaged model file is the other usual cause."
        )
    if code == -signal.SIGKILL:
        return (
            "killed (SIGKILL), usually by the kernel's out-of-memory killer: lower ctx_size or parallel, or use a "
            "smaller model. If memory was not short, a wrong build is the next suspect."
        )
    if code == -signal.SIGBUS:
        return "bus error: the memory-mapped model file is damaged or was changed while loading, or the disk is full."
    if code == -signal.SIGABRT:
        return "an assertion in llama.cpp failed (see the log above): a model file or option this build cannot handle."
    if code < 0:
        return f"killed by {_signal_name(code)}."
    if "bind" in log and ("address already in use" in log or "couldn't bind" in log):
        return "it could not bind its port: another process took it."
    if "unknown argument" in log or "invalid argument" in log or "error while handling argument" in log:
        return "it rejected an argument: the installed llama-server is not the pinned version, or extra_args are wrong."
    if "failed to load model" in log or "gguf" in log and "error" in log:
        return "it could not load the model file (see the log above)."
    return f"it exited with code {code} (see the log above)."


def startup_exit_hint(
    code: int, machine: str | None = None, flags: frozenset[str] | None = None, log_text: str = ""
) -> str:
    """The likely cause of a server death before health, and the exact rebuild command; never empty.

    ``machine`` and ``flags`` default to this machine's (tests pass them). The rebuild is portable
    (:data:`~gepa_dspy.local_lm.install_hints.PORTABLE_CMAKE_ARGS`) on x86-64 CPUs with the AVX2 baseline.
    """
    if flags is None and machine is None:
        flags = cpu_flags()
    cause = _likely_cause(code, machine, flags, log_text)
    cmake_args = build_cmake_args(machine, flags)
    portable = cmake_args == PORTABLE_CMAKE_ARGS
    build = "a portable build (no -march=native, AVX2 baseline, no AMX)" if portable else "a fresh build"
    return (
        f"\nLikely cause: {cause}\n"
        f"If the log does not point elsewhere, rebuild llama-server as {build} (about 10 minutes on 2 cores):\n"
        f"  {server_rebuild_command(cmake_args)}"
    )
