"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, built on the standard library.

Usage::

    def responder(messages, model):
        return format_chat_adapter_reply({"answer": "42"})

    with ScriptedOpenAIServer(responder, latency_s=0.2) as server:
        lm = dspy.LM("openai/scripted", api_base=server.url, api_key="x", cache=False)
        ...
        print(server.stats().mean_in_flight)

Endpoints: ``POST /v1/chat/completions`` (non-streaming), ``GET /v1/models``, ``GET /health``
(the ``/v1`` prefix is optional on every path).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Sequence

from gepa_dspy.testing.in_flight import InFlightTracker, LMTrafficStats
from gepa_dspy.testing.responder import (
    DropConnection,
    Responder,
    ScriptedHTTPError,
    ScriptedReply,
    answer_like_an_lm,
    error_type_for_status,
)


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RecordedRequest:
    """One chat-completion request as the server saw it (kept when ``record_requests=True``)."""

    model: str
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    status: int  # 200, an HTTP error code, or 0 for a dropped connection


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads may sit on idle keep-alive sockets; closing must not wait for them.
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: "ScriptedOpenAIServer") -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
            self.connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server; every reply sets Content-Length
    timeout = 60  # seconds an idle keep-alive connection is kept
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for the client's
    # delayed ACK of the headers (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        return  # quiet: tests and benchmarks read the recorded statistics instead

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[len("/v1"):] if path.startswith("/v1/") or path == "/v1" else path

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired while the responder slept).
            self.close_connection = True

    def _send_error_json(self, status: int, message: str, retry_after: float | None = None) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        payload = {"error": {"message": message, "type": error_type_for_status(status), "code": status}}
        self._send_json(status, payload, headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self._path()
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/models":
            data = [{"id": name, "object": "model", "created": 0, "owned_by": "scripted"}
                    for name in self.server.owner.models]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error_json(404, f"no route for GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self._path() != "/chat/completions":
            self._send_error_json(404, f"no route for POST {self.path}")
            return
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            self._send_error_json(400, f"request body is not JSON: {exc}")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error_json(400, "request body must be a JSON object with a 'messages' list")
            return
        if body.get("stream"):
            self._send_error_json(400, "the scripted server does not support stream=true")
            return
        self.server.owner._serve_chat(self, body)


class ScriptedOpenAIServer:
    """A scripted OpenAI-compatible server in a background thread; use it as a context manager.

    Args:
        responder: ``responder(messages, model) -> str``; see ``gepa_dspy.testing.responder``.
        latency_s: fixed artificial latency added to every chat-completion request (``time.sleep``).
        per_token_s: latency added per generated token of the reply (a real LM's cost grows with its reply),
            so a request takes ``latency_s + per_token_s * reply tokens``. A request's ``max_tokens`` (or
            ``max_completion_tokens``) cuts the reply there, with ``finish_reason="length"``.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        models: names listed by ``GET /v1/models``.
        record_requests: keep every request in ``requests`` (memory grows with the run).
    """

    def __init__(
        self,
        responder: Responder,
        *,
        latency_s: float = 0.0,
        per_token_s: float = 0.0,
        port: int = 0,
        models: Sequence[str] = ("scripted",),
        record_requests: bool = False,
    ) -> None:
        if latency_s < 0 or per_token_s < 0:
            raise ValueError("latency_s and per_token_s must be >= 0")
        self.responder = responder
        self.latency_s = float(latency_s)
        self.per_token_s = float(per_token_s)
        self.models = list(models)
        self.record_requests = record_requests
        self.requests: list[RecordedRequest] = []
        self.responder_errors: list[str] = []
        self._requested_port = port
        self._tracker = InFlightTracker()
        self._ids = itertools.count(1)
        self._record_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "ScriptedOpenAIServer":
        """Bind and serve in a daemon thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = _Server(("127.0.0.1", self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-openai-server", daemon=True
        )
        self._thread.start()
        self._tracker.reset()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "ScriptedOpenAIServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL for OpenAI clients, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- statistics ------------------------------------------------------------------------------

    def stats(self) -> LMTrafficStats:
        """Traffic statistics since start or the last ``reset_stats``."""
        return self._tracker.snapshot()

    def reset_stats(self) -> None:
        """Begin a new measurement window (also clears recorded requests and responder errors)."""
        self._tracker.reset()
        with self._record_lock:
            self.requests.clear()
            self.responder_errors.clear()

    # -- request handling ------------------------------------------------------------------------

    def _record(self, model: str, messages: list[dict[str, Any]], body: dict[str, Any], status: int) -> None:
        if self.record_requests:
            with self._record_lock:
                self.requests.append(RecordedRequest(model, messages, body, status))

    def _serve_chat(self, handler: _Handler, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        messages = body["messages"]
        n = int(body.get("n") or 1)
        self._tracker.begin(model)
        status: int | None = None  # None: success
        responder_failed = False
        error: tuple[str, float | None] = ("", None)
        try:
            reply = answer_like_an_lm(self.responder, messages, model, max_tokens=_max_tokens(body),
                                      latency_s=self.latency_s, per_token_s=self.per_token_s, tracker=self._tracker, n=n)
        except ScriptedHTTPError as exc:
            status, error = exc.status, (exc.message, exc.retry_after)
        except DropConnection:
            status = 0
        except Exception as exc:  # a bug in the test's responder: answer 500 and keep the traceback
            status, responder_failed = 500, True
            error = (f"responder raised {type(exc).__name__}: {exc}", None)
            with self._record_lock:
                self.responder_errors.append(traceback.format_exc())
        finally:
            # Account before answering, so a client that has its answer also sees it in stats().
            self._record(model, messages, body, 200 if status is None else status)
            self._tracker.end(status, responder_failed=responder_failed)
        if status is None:
            handler._send_json(200, self._completion(model, reply, n))
        elif status == 0:
            handler.close_connection = True
        else:
            handler._send_error_json(status, *error)

    def _completion(self, model: str, reply: ScriptedReply, n: int) -> dict[str, Any]:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": reply.text}, "finish_reason": reply.finish_reason,
             "logprobs": None}
            for i in range(n)
        ]
        return {
            "id": f"chatcmpl-scripted-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }
