"""Child-process plumbing for the server: tie its life to ours, stop it, read its log tail."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

_PR_SET_PDEATHSIG = 1


def parent_death_signal_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes Linux send SIGTERM to the child when this process dies, or None.

    Only used from the main thread: the kernel fires the signal when the *thread* that forked the child
    exits, so a child started from a worker thread would be killed when that thread ends.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    term = int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, term, 0, 0, 0)

    return hook


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code (None if unknown)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def log_tail(path: Path, max_lines: int = 30) -> str:
    """The last lines of a log file, or a note that it cannot be read."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read log {path}: {exc})"
    if not lines:
        return f"(log {path} is empty)"
    return "\n".join(lines[-max_lines:])
