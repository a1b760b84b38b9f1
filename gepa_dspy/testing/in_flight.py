"""Thread-safe accounting of LM requests in flight, for scripted servers and LMs.

The tracker integrates the number of requests in flight over time, so it can report the
time-averaged concurrency, the peak, and how long no request at all was in flight (the time the
client spent on anything but waiting for the LM).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class LMTrafficStats:
    """A snapshot of LM traffic over one measurement window (since start or the last reset).

    Attributes:
        total_requests: chat-completion requests received (successful or not).
        ok_requests: requests answered with a completion.
        error_requests: requests answered with an HTTP error or dropped.
        requests_by_model: requests per model name as sent by the client.
        errors_by_status: error answers per HTTP status (0 for dropped connections).
        responder_failures: requests where the responder raised an unexpected exception (a test bug).
        max_in_flight: the most requests in flight at the same moment.
        in_flight_now: requests in flight when the snapshot was taken.
        window_s: length of the window in seconds.
        request_s: integral of the in-flight count over the window (request-seconds).
        busy_s: time with at least one request in flight.
        idle_s: time with no request in flight (``window_s - busy_s``).
        mean_in_flight: ``request_s / window_s``, the time-averaged number of requests in flight.
        mean_in_flight_when_busy: ``request_s / busy_s``, the concurrency while the LM had work.
        completion_tokens_by_model: tokens generated per model name (the scripted count: words).
    """

    total_requests: int
    ok_requests: int
    error_requests: int
    requests_by_model: dict[str, int]
    errors_by_status: dict[int, int]
    responder_failures: int
    max_in_flight: int
    in_flight_now: int
    window_s: float
    request_s: float
    busy_s: float
    idle_s: float
    mean_in_flight: float
    mean_in_flight_when_busy: float
    completion_tokens_by_model: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (status codes become strings)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["requests_by_model"] = dict(self.requests_by_model)
        data["completion_tokens_by_model"] = dict(self.completion_tokens_by_model)
        data["errors_by_status"] = {str(k): v for k, v in self.errors_by_status.items()}
        return data


@dataclass
class _Window:
    """The running counts of one measurement window, under the names ``LMTrafficStats`` gives them."""

    started: float
    last_change: float
    request_s: float = 0.0
    busy_s: float = 0.0
    max_in_flight: int = 0
    total_requests: int = 0
    ok_requests: int = 0
    error_requests: int = 0
    responder_failures: int = 0
    requests_by_model: Counter = field(default_factory=Counter)
    errors_by_status: Counter = field(default_factory=Counter)
    completion_tokens_by_model: Counter = field(default_factory=Counter)

    def counts(self) -> dict[str, object]:
        """Every count, as ``LMTrafficStats`` fields (counters copied into plain dicts)."""
        return {name: dict(value) if isinstance(value, Counter) else value
                for name, value in vars(self).items() if name not in ("started", "last_change")}


class InFlightTracker:
    """Counts requests and integrates the in-flight count over time; safe across threads."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        now = clock()
        self._window = _Window(started=now, last_change=now)

    def _advance(self, now: float) -> None:
        # Caller holds the lock. Accumulate the interval since the last change at the old count.
        window = self._window
        elapsed = now - window.last_change
        if elapsed > 0:
            window.request_s += self._in_flight * elapsed
            if self._in_flight > 0:
                window.busy_s += elapsed
        window.last_change = now

    def begin(self, model: str) -> None:
        """Record that a request for ``model`` started."""
        with self._lock:
            self._advance(self._clock())
            self._in_flight += 1
            window = self._window
            window.total_requests += 1
            window.requests_by_model[model] += 1
            window.max_in_flight = max(window.max_in_flight, self._in_flight)

    def end(self, status: int | None = None, *, responder_failed: bool = False) -> None:
        """Record that a request ended: ``status`` None means success, else the HTTP error code."""
        with self._lock:
            self._advance(self._clock())
            self._in_flight -= 1
            window = self._window
            if status is None:
                window.ok_requests += 1
            else:
                window.error_requests += 1
                window.errors_by_status[status] += 1
            if responder_failed:
                window.responder_failures += 1

    def add_completion_tokens(self, model: str, tokens: int) -> None:
        """Record ``tokens`` generated for ``model``."""
        with self._lock:
            self._window.completion_tokens_by_model[model] += tokens

    def reset(self) -> None:
        """Start a new measurement window now (requests still in flight carry over)."""
        with self._lock:
            now = self._clock()
            self._window = _Window(started=now, last_change=now, max_in_flight=self._in_flight)

    def snapshot(self) -> LMTrafficStats:
        """The statistics of the current window up to now."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            w = self._window
            window_s = now - w.started
            return LMTrafficStats(
                **w.counts(),
                in_flight_now=self._in_flight,
                window_s=window_s,
                idle_s=max(0.0, window_s - w.busy_s),
                mean_in_flight=w.request_s / window_s if window_s > 0 else 0.0,
                mean_in_flight_when_busy=w.request_s / w.busy_s if w.busy_s > 0 else 0.0,
            )
