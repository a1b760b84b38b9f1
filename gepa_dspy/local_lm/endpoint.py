"""Talking to a running OpenAI-compatible llama-server over HTTP: URL normalisation, health, served model."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ServerUnreachableError


@dataclass(frozen=True)
class Endpoint:
    """A server's root URL (``http://host:port``); ``api_base`` is what litellm/DSPy need."""

    root: str

    @classmethod
    def parse(cls, url: str) -> "Endpoint":
        """Accept ``http://host:port``, ``.../`` or ``.../v1`` and keep only the root."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Server URL must look like http://127.0.0.1:8089 (optionally ending in /v1), got {url!r}")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        return cls(f"{parts.scheme}://{parts.netloc}{path}")

    @property
    def api_base(self) -> str:
        return f"{self.root}/v1"


@dataclass(frozen=True)
class HealthReport:
    """Result of one ``GET /health``: ``ready`` only when the server answered 200 with status ok."""

    ready: bool
    detail: str


def check_health(endpoint: Endpoint, timeout: float = 2.0) -> HealthReport:
    """One health probe. Never raises: connection problems become a not-ready report."""
    try:
        with urllib.request.urlopen(f"{endpoint.root}/health", timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:  # 503 while the model loads
        return HealthReport(False, f"HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')[:200]}")
    except (urllib.error.URLError, OSError) as exc:
        return HealthReport(False, f"no answer ({exc})")
    if status != 200:
        return HealthReport(False, f"HTTP {status}: {body[:200]}")
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        return HealthReport(False, f"health answer is not JSON: {body[:200]!r}")
    if isinstance(payload, dict) and payload.get("status") == "ok":
        return HealthReport(True, "ok")
    return HealthReport(False, f"health answer {body[:200]!r}")


def require_healthy(endpoint: Endpoint, timeout: float = 5.0) -> None:
    """Raise ServerUnreachableError unless a healthy server answers at ``endpoint``."""
    report = check_health(endpoint, timeout)
    if not report.ready:
        raise ServerUnreachableError(
            f"No healthy LM server at {endpoint.root}: {report.detail}. Start one with `gepa-dspy serve` "
            "(or local_lm() without url=...)."
        )


def served_model_id(endpoint: Endpoint, timeout: float = 5.0) -> str | None:
    """The model id the server reports at ``/v1/models`` (llama-server: the GGUF file name), if any."""
    try:
        with urllib.request.urlopen(f"{endpoint.api_base}/models", timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8", "replace"))
        return str(payload["data"][0]["id"])
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError):
        return None
