"""The friendly entry points: start a server for a model, reuse one by URL, or just get a ``dspy.LM``."""

from __future__ import annotations

import inspect
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
    options = ServerOptions(threads, ctx_size, parallel, cache_ram_mib, tuple(extra_server_args))
    server = LlamaServer(resolve_model_file(model, cache_dir), host=host, port=port, options=options, binary=binary,
                         cache_dir=cache_dir, startup_timeout=startup_timeout)
    return server.start()


def connect(url: str, health_timeout: float = 5.0) -> RemoteServer:
    """Reuse a server already running at ``url`` (``http://host:port`` or ``.../v1``); checks ``/health``."""
    return RemoteServer(url, health_timeout)


#: In ``local_lm()``, the keyword arguments that ``start_server`` takes configure the server.
_SERVER_SIGNATURE = inspect.signature(start_server)

#: Settings that do not make another server: a call that only waits longer for the start shares the running one.
_NOT_IN_SHARING_KEY = frozenset({"startup_timeout"})


def local_lm(model: str | os.PathLike[str] = "default", url: str | None = None, **kwargs: Any) -> Any:
    """A ``dspy.LM`` backed by a local llama.cpp server.

    Keyword arguments ``start_server`` takes (``port``, ``threads``, ``ctx_size``, ``parallel``, ``cache_ram_mib``,
    ``extra_server_args``, ``binary``, ``cache_dir``, ``startup_timeout``, ``host``) configure the server; the rest
    go to ``dspy.LM`` (e.g. ``temperature``, ``cache``, ``max_tokens``).

    With ``url`` the server running there is reused (``model`` and server settings are ignored). Without
    it, a server for ``model`` is started on a free port (or ``port``) and shared by later calls with the
    same settings; it stops at interpreter exit.
    """
    server_kwargs = {name: kwargs.pop(name) for name in list(kwargs) if name in _SERVER_SIGNATURE.parameters}
    if url is not None:
        return connect(url).lm(**kwargs)
    settings = _SERVER_SIGNATURE.bind(model, **server_kwargs)
    settings.apply_defaults()
    key = _sharing_key(settings.arguments)
    with _shared_lock:
        server = _shared_servers.get(key)
        if server is None or not server.running:
            server = start_server(*settings.args, **settings.kwargs)
            _shared_servers[key] = server
    return server.lm(**kwargs)


def _sharing_key(arguments: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two ``local_lm()`` calls want the same server: the model file and every server setting."""
    model = arguments["model"]
    key: list[Any] = [model if isinstance(model, str) and model in MODELS else str(Path(model).expanduser().resolve())]
    for name, value in arguments.items():
        if name != "model" and name not in _NOT_IN_SHARING_KEY:
            key.append((name, tuple(value) if name == "extra_server_args" else value))
    return tuple(key)


def stop_shared_servers() -> None:
    """Stop every server that ``local_lm()`` started in this process."""
    with _shared_lock:
        for server in _shared_servers.values():
            server.stop()
        _shared_servers.clear()
