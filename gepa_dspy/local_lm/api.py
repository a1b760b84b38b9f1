"""The friendly entry points: start a server for a model, reuse one by URL, or just get a ``dspy.LM``."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Sequence

from .models import MODELS
from .remote import RemoteServer
from .server import LlamaServer, ServerOptions
from .weights import resolve_model_file

# Servers started by local_lm(), keyed by what was asked for, so repeated calls share one process.
_shared_servers: dict[tuple[Any, ...], LlamaServer] = {}
_shared_lock = threading.Lock()


def start_server(
    model: str | os.PathLike[str] = "default",
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    threads: int | None = None,
    ctx_size: int = 32768,
    parallel: int = 4,
    cache_ram_mib: int = 512,
    extra_server_args: Sequence[str] = (),
    binary: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    startup_timeout: float = 180.0,
) -> LlamaServer:
    """Start a llama-server for ``model`` and return it once healthy.

    ``model`` is ``"default"`` (Qwen2.5-Coder-1.5B-Instruct), ``"fast"`` (the 0.5B) or a path to a GGUF file.
    The server stops when you call ``.stop()``, leave a ``with`` block, or the interpreter exits.
    """
    model_path = resolve_model_file(model, cache_dir)
    options = ServerOptions(threads, ctx_size, parallel, cache_ram_mib, tuple(extra_server_args))
    server = LlamaServer(
        model_path,
        host=host,
        port=port,
        options=options,
        binary=binary,
        cache_dir=cache_dir,
        startup_timeout=startup_timeout,
    )
    return server.start()


def connect(url: str, health_timeout: float = 5.0) -> RemoteServer:
    """Reuse a server already running at ``url`` (``http://host:port`` or ``.../v1``); checks ``/health``."""
    return RemoteServer(url, health_timeout)


def local_lm(
    model: str | os.PathLike[str] = "default",
    url: str | None = None,
    *,
    port: int | None = None,
    threads: int | None = None,
    ctx_size: int = 32768,
    parallel: int = 4,
    cache_ram_mib: int = 512,
    extra_server_args: Sequence[str] = (),
    binary: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    startup_timeout: float = 180.0,
    **lm_kwargs: Any,
) -> Any:
    """A ``dspy.LM`` backed by a local llama.cpp server.

    With ``url`` the server running there is reused (``model`` and server settings are ignored). Without
    it, a server for ``model`` is started on a free port (or ``port``) and shared by later calls with the
    same arguments; it stops at interpreter exit. Remaining keyword arguments go to ``dspy.LM``.
    """
    if url is not None:
        return connect(url).lm(**lm_kwargs)
    key = (
        model if isinstance(model, str) and model in MODELS else str(Path(model).expanduser().resolve()),
        port, threads, ctx_size, parallel, cache_ram_mib, tuple(extra_server_args), binary, cache_dir,
    )
    with _shared_lock:
        server = _shared_servers.get(key)
        if server is None or not server.running:
            server = start_server(
                model,
                port=port,
                threads=threads,
                ctx_size=ctx_size,
                parallel=parallel,
                cache_ram_mib=cache_ram_mib,
                extra_server_args=extra_server_args,
                binary=binary,
                cache_dir=cache_dir,
                startup_timeout=startup_timeout,
            )
            _shared_servers[key] = server
    return server.lm(**lm_kwargs)


def stop_shared_servers() -> None:
    """Stop every server that ``local_lm()`` started in this process."""
    with _shared_lock:
        for server in _shared_servers.values():
            server.stop()
        _shared_servers.clear()
