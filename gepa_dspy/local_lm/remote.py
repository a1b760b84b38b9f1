"""A server that is already running (started by `gepa-dspy serve` or another process), reused by URL."""

from __future__ import annotations

from pathlib import Path

from .endpoint import Endpoint, check_health, require_healthy, served_model_id
from .server_handle import ServerHandle


class RemoteServer(ServerHandle):
    """A server someone else started (``gepa-dspy serve``, another process): we reuse it, never stop it."""

    def __init__(self, url: str, health_timeout: float = 5.0) -> None:
        self.endpoint = Endpoint.parse(url)
        require_healthy(self.endpoint, health_timeout)
        served = served_model_id(self.endpoint)
        self.model_name = Path(served).stem if served else "local"

    @property
    def running(self) -> bool:
        return check_health(self.endpoint).ready

    def start(self) -> "RemoteServer":
        """Does nothing: the server was healthy when we connected, and belongs to whoever started it."""
        return self

    def stop(self) -> None:
        """Does nothing: the server belongs to whoever started it."""

    def __repr__(self) -> str:
        return f"RemoteServer({self.url}, model={self.model_name})"
