"""A server that is already running (started by `gepa-dspy serve` or another process), reused by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .endpoint import Endpoint, check_health, require_healthy, served_model_id
from .lm import make_dspy_lm


class RemoteServer:
    """A server someone else started (``gepa-dspy serve``, another process): we reuse it, never stop it."""

    def __init__(self, url: str, health_timeout: float = 5.0) -> None:
        self.endpoint = Endpoint.parse(url)
        require_healthy(self.endpoint, health_timeout)
        served = served_model_id(self.endpoint)
        self.model_name = Path(served).stem if served else "local"

    @property
    def url(self) -> str:
        return self.endpoint.root

    @property
    def api_base(self) -> str:
        return self.endpoint.api_base

    @property
    def running(self) -> bool:
        return check_health(self.endpoint).ready

    def lm(self, **lm_kwargs: Any) -> Any:
        """A ``dspy.LM`` for the reused server."""
        return make_dspy_lm(self.endpoint, model_name=self.model_name, **lm_kwargs)

    def stop(self) -> None:
        """Does nothing: the server belongs to whoever started it."""

    def __enter__(self) -> "RemoteServer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def __repr__(self) -> str:
        return f"RemoteServer({self.url}, model={self.model_name})"
