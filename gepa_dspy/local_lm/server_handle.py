"""What every LM server we hand out offers, whether we started it or reuse it: its URLs and a ``dspy.LM``."""

from __future__ import annotations

from typing import Any

from .endpoint import Endpoint
from .lm import make_dspy_lm


class ServerHandle:
    """Base of ``LlamaServer`` (started here) and ``RemoteServer`` (reused by URL).

    A subclass provides ``endpoint``, ``model_name``, ``start()`` and ``stop()``; the URLs, the ``dspy.LM`` and the
    ``with`` block (start on entry, stop on exit) are the same for both.
    """

    endpoint: Endpoint
    model_name: str

    def start(self) -> "ServerHandle":
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8089``."""
        return self.endpoint.root

    @property
    def api_base(self) -> str:
        """OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8089/v1``."""
        return self.endpoint.api_base

    def lm(self, **lm_kwargs: Any) -> Any:
        """A ``dspy.LM`` for this server; ``lm_kwargs`` go to ``dspy.LM`` (e.g. temperature, cache)."""
        return make_dspy_lm(self.endpoint, model_name=self.model_name, **lm_kwargs)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
