"""A ``llama-server`` child process: command line, start, health wait, stop (on exit too)."""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .binary import find_server_binary
from .cache_dir import cache_root, logs_dir
from .endpoint import Endpoint, check_health
from .errors import ServerStartError
from .ports import find_free_port, require_free_port
from .process import log_tail, parent_death_signal_hook, stop_process
from .server_handle import ServerHandle
from .start_failure import startup_exit_hint

logger = logging.getLogger(__name__)

#: How often an auto-picked port may be lost to another process between picking and binding.
_PORT_RACE_RETRIES = 3


def usable_cpu_count() -> int:
    """CPUs this process may run on (affinity-aware where the OS supports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServerOptions:
    """llama-server settings. ``ctx_size`` is shared by the ``parallel`` slots (32768 / 4 = 8192 tokens each).

    ``cache_ram_mib`` bounds the server's prompt cache (without it the cache can grow to 8 GiB).
    ``threads=None`` uses every CPU this process may run on. ``extra_args`` are appended verbatim.
    """

    threads: int | None = None
    ctx_size: int = 32768
    parallel: int = 4
    cache_ram_mib: int = 512
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("ctx_size", "parallel"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")
        if self.cache_ram_mib < 0:
            raise ValueError(f"cache_ram_mib must be >= 0, got {self.cache_ram_mib}")


def build_command(binary: Path, model_path: Path, host: str, port: int, options: ServerOptions) -> list[str]:
    """The llama-server argv for one model on ``host:port``."""
    threads = options.threads or usable_cpu_count()
    return [
        str(binary),
        "-m", str(model_path),
        "--host", host,
        "--port", str(port),
        "-t", str(threads),
        "-c", str(options.ctx_size),
        "-np", str(options.parallel),
        "--no-webui",
        "--cache-ram", str(options.cache_ram_mib),
        *options.extra_args,
    ]


def _looks_like_bind_failure(log_text: str) -> bool:
    text = log_text.lower()
    return "bind" in text and ("address already in use" in text or "couldn't bind" in text or "failed" in text)


class LlamaServer(ServerHandle):
    """A llama-server child process serving one GGUF model on 127.0.0.1.

    Use as a context manager (stopped on exit) or call ``start()``/``stop()``; it is also stopped at
    interpreter exit. ``port=None`` picks a free port.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        options: ServerOptions | None = None,
        binary: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        self.model_path = Path(model_path)
        self.host = host
        self.requested_port = port
        self.options = options or ServerOptions()
        self.binary = binary
        self.cache_dir = cache_dir
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.log_path: Path | None = None
        self.command: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._log_file: IO[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "LlamaServer":
        """Start the process and block until ``/health`` is ok. Raises ServerStartError with the log tail."""
        if self.running:
            return self
        binary = find_server_binary(self.binary)
        attempts = 1 if self.requested_port is not None else _PORT_RACE_RETRIES
        for attempt in range(1, attempts + 1):
            if self.requested_port is not None:
                port = require_free_port(self.host, self.requested_port)
            else:
                port = find_free_port(self.host)
            try:
                self._launch(binary, port)
                self._wait_until_healthy()
                return self
            except ServerStartError as exc:
                lost_port_race = self.requested_port is None and _looks_like_bind_failure(str(exc))
                if not lost_port_race or attempt == attempts:
                    raise
                logger.warning("Port %d was taken before llama-server bound it; retrying on another port.", port)
        raise AssertionError("unreachable")

    def _launch(self, binary: Path, port: int) -> None:
        self.port = port
        self.command = build_command(binary, self.model_path, self.host, port, self.options)
        log_dir = logs_dir(cache_root(self.cache_dir))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"llama-server-{port}.log"
        self._log_file = open(self.log_path, "wb")
        logger.info("Starting %s (log: %s)", " ".join(self.command), self.log_path)
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C in the terminal reaches only us, and we stop the server cleanly.
                start_new_session=True,
                preexec_fn=parent_death_signal_hook(),
            )
        except OSError as exc:
            self._close_log()
            raise ServerStartError(f"Cannot run {binary}: {exc}") from exc
        atexit.register(self.stop)

    def _wait_until_healthy(self) -> None:
        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + self.startup_timeout
        detail = "not probed yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                self.stop()
                tail = log_tail(self.log_path)
                raise ServerStartError(
                    f"llama-server exited with code {code} before becoming healthy.\n"
                    f"Command: {' '.join(self.command)}\nLast lines of {self.log_path}:\n{tail}"
                    f"{startup_exit_hint(code, log_text=tail)}",
                    exit_code=code,
                )
            report = check_health(self.endpoint, timeout=2.0)
            if report.ready:
                logger.info("llama-server ready at %s (pid %d)", self.url, self._proc.pid)
                return
            detail = report.detail
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"llama-server did not become healthy within {self.startup_timeout:.0f} s ({detail}).\n"
                    f"Command: {' '.join(self.command)}\nLast lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the server (no-op if it is not running)."""
        atexit.unregister(self.stop)
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- state ------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def endpoint(self) -> Endpoint:
        if self.port is None:
            raise RuntimeError("server not started")
        return Endpoint(f"http://{self.host}:{self.port}")

    @property
    def model_name(self) -> str:
        """The name the ``dspy.LM`` gets: the GGUF file's stem."""
        return self.model_path.stem

    def dead_log_tail(self) -> str | None:
        """If the process died after starting, its exit code and log tail; else None."""
        if self._proc is None or self._proc.poll() is None or self.log_path is None:
            return None
        return f"llama-server exited with code {self._proc.returncode}:\n{log_tail(self.log_path)}"

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"LlamaServer({self.model_path.name}, {state})"
