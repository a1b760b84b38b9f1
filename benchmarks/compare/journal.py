"""An LM reply journal for one comparison run, so an interrupted run catches up without paying twice.

MIPROv2 has no checkpoint, and dspy.GEPA saves only between iterations, so a run killed after an hour
would otherwise buy that hour of LM calls again. With ``--lm-journal`` every run talks to its
OpenAI-compatible endpoints through a ``JournalingProxy`` on 127.0.0.1. The proxy appends each
successful chat reply to ``lm_journal.jsonl`` in the run folder. When the run is started again, a request
whose exact body was answered by an earlier attempt gets that earlier reply back from the journal, in
the order the replies were recorded. Requests repeated within one attempt still reach the LM, as they
would without a journal. Since the optimizers draw from seeded RNGs and every request is rebuilt from
earlier replies, the new attempt asks the same questions in the same order and gets the same answers up
to the point where the old attempt stopped. From there on it calls the LM as usual.

The journal holds prompts and replies in plain text; it stays in ``runs/`` and is never exported.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import threading
import urllib.parse
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Sequence

from .lms import LMFactory, LMSpec, spec_factory

logger = logging.getLogger(__name__)

JOURNAL = "lm_journal.jsonl"
#: A failed attempt's journal, set aside so the next attempt does not replay it: ``FAILED_JOURNAL.format(n)``.
FAILED_JOURNAL = "lm_journal.failed{}.jsonl"
#: Every journal in a run folder: the current one and the ones set aside.
ALL_JOURNALS = (JOURNAL, FAILED_JOURNAL.format("*"))

#: Seconds the proxy waits for the upstream LM. The client (litellm) enforces its own, shorter timeout.
UPSTREAM_TIMEOUT_S = 3600.0

_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding"}


@dataclass
class JournalStats:
    """What a run's journal did during one attempt."""

    loaded: int = 0  # replies recorded by earlier attempts
    unreadable_lines: int = 0  # e.g. the last line of an attempt killed while writing it
    replayed: int = 0  # requests answered from the journal
    forwarded: int = 0  # requests sent to the LM
    recorded: int = 0  # replies appended for later attempts

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def request_key(method: str, path: str, body: bytes) -> str:
    """A digest of a request: JSON bodies are compared by content, not by key order or spacing."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def reply_text(body: str) -> str | None:
    """The message text of a recorded chat-completion body, or None when it has none."""
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def set_aside_reply(path: Path, reply: str, aside: Path) -> tuple[int, int]:
    """Move the journal lines whose reply text is ``reply`` to ``aside``; returns (moved, kept).

    Used when an attempt died on one unparsable reply: the next attempt replays everything else and asks
    the LM that one question again. The rewritten journal replaces the old one atomically.
    """
    keep: list[str] = []
    drop: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                text = reply_text(json.loads(line)["body"])
            except (ValueError, KeyError, TypeError):
                text = None
            (drop if text is not None and text.strip() == reply.strip() else keep).append(line)
    if drop:
        with aside.open("a", encoding="utf-8") as fh:
            fh.writelines(drop)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(keep)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return len(drop), len(keep)


class LMJournal:
    """The replies of earlier attempts (to replay, each once) and an append-only file for this attempt's."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.stats = JournalStats()
        self._earlier: dict[str, deque[str]] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    entry = json.loads(line)
                    key, body = entry["key"], entry["body"]
                    if not isinstance(key, str) or not isinstance(body, str):
                        raise TypeError("key and body must be strings")
                except (ValueError, KeyError, TypeError) as exc:
                    self.stats.unreadable_lines += 1
                    logger.warning("LM journal %s line %d skipped: %s", self.path, number, exc)
                    continue
                self._earlier.setdefault(key, deque()).append(body)
                self.stats.loaded += 1

    def describe_loaded(self) -> str | None:
        """A line about what earlier attempts left (None when they left nothing)."""
        if not (self.stats.loaded or self.stats.unreadable_lines):
            return None
        skipped = f" ({self.stats.unreadable_lines} unreadable lines skipped)" if self.stats.unreadable_lines else ""
        return f"LM journal holds {self.stats.loaded} replies from earlier attempts{skipped}"

    def take(self, key: str) -> str | None:
        """The next unreplayed earlier reply to this request, or None."""
        with self._lock:
            replies = self._earlier.get(key)
            if not replies:
                return None
            self.stats.replayed += 1
            return replies.popleft()

    def record(self, key: str, body: str) -> None:
        """Append a reply for later attempts (flushed at once, so a killed process keeps it)."""
        line = json.dumps({"key": key, "body": body}, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            self.stats.recorded += 1

    def count_forwarded(self) -> None:
        with self._lock:
            self.stats.forwarded += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


class JournalingProxy:
    """An HTTP proxy on 127.0.0.1 in front of one OpenAI-compatible base URL; a context manager.

    ``url`` is the base URL clients use instead of ``upstream`` (same path, so ``.../v1`` stays
    ``.../v1``). POST requests are journaled as described in the module docstring; GET requests
    (health checks, model lists) and streamed requests pass through unrecorded. An upstream error status is
    passed back unrecorded; an unreachable upstream gives 502, which the client's retries handle.
    """

    def __init__(self, upstream: str, journal: LMJournal) -> None:
        parsed = urllib.parse.urlsplit(upstream.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the LM journal needs an http(s) base URL, got {upstream!r}")
        self.upstream = parsed
        self.journal = journal
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.upstream.path}"

    def __enter__(self) -> "JournalingProxy":
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="lm-journal-proxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, str, bytes]:
        """Send one request upstream; returns (status, content type, body)."""
        connection_class = http.client.HTTPSConnection if self.upstream.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(self.upstream.netloc, timeout=UPSTREAM_TIMEOUT_S)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", "application/json"), response.read()
        finally:
            connection.close()


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: JournalingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # requests are not worth a log line each
        pass

    def do_GET(self) -> None:
        self._pass_through(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if _is_streamed(body):
            self._pass_through(body)
            return
        journal = self.owner.journal
        key = request_key("POST", self.path, body)
        earlier = journal.take(key)
        if earlier is not None:
            self._reply(200, "application/json", earlier.encode("utf-8"))
            return
        status, content_type, reply = self._upstream(body)
        if status == 200:
            journal.record(key, reply.decode("utf-8", errors="replace"))
        self._reply(status, content_type, reply)

    def _pass_through(self, body: bytes | None) -> None:
        status, content_type, reply = self._upstream(body)
        self._reply(status, content_type, reply)

    def _upstream(self, body: bytes | None) -> tuple[int, str, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body is not None:
            self.owner.journal.count_forwarded()
        try:
            return self.owner.forward(self.command, self.path, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            message = json.dumps({"error": {"message": f"LM journal proxy: upstream unreachable: {exc}",
                                            "type": "upstream_error"}})
            return 502, "application/json", message.encode()

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _is_streamed(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("stream"))
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False


def require_base_urls(specs: Sequence[tuple[LMSpec, str]]) -> None:
    """Raise ValueError naming the first (spec, label) whose requests have no base URL to journal."""
    for spec, label in specs:
        if spec.endpoint is None:
            raise ValueError(f"--lm-journal needs a base URL for {label} {spec.model}: use local:http://HOST:PORT "
                             "or --api-base / --reflection-api-base")


@contextmanager
def journaled_factory(task: LMSpec, reflection: LMSpec, path: Path) -> Iterator[tuple[LMFactory, LMJournal]]:
    """An ``LMFactory`` whose LMs reach their endpoints through journaling proxies writing to ``path``.

    One proxy per distinct endpoint, one journal for the run. Raises ValueError for a spec without a
    base URL (a provider's default endpoint): name it with ``--api-base``.
    """
    require_base_urls([(task, "task LM"), (reflection, "reflection LM")])
    journal = LMJournal(path)
    with ExitStack() as stack:
        stack.callback(journal.close)
        proxies: dict[str, JournalingProxy] = {}
        for spec in (task, reflection):
            if spec.endpoint not in proxies:
                proxies[spec.endpoint] = stack.enter_context(JournalingProxy(spec.endpoint, journal))
        routed = [spec.routed_to(proxies[spec.endpoint].url) for spec in (task, reflection)]  # type: ignore[index]
        yield spec_factory(routed[0], routed[1]), journal
