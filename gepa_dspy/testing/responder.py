"""The responder protocol shared by the scripted HTTP server and the in-process scripted LM, and the one way both
answer with a responder (``answer_like_an_lm``).

A responder is a callable ``responder(messages, model) -> str``: it receives the chat messages
(a list of ``{"role": ..., "content": ...}`` dicts) and the model name the client asked for, and
returns the assistant text. To simulate failures it may raise ``ScriptedHTTPError`` (answered as
that HTTP status), raise ``DropConnection`` (the server closes the socket without answering), or
sleep (to exceed a client timeout).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from gepa_dspy.testing.in_flight import InFlightTracker

Responder = Callable[[list[dict[str, Any]], str], str]


class ScriptedHTTPError(Exception):
    """Raise from a responder to answer the request with an HTTP error.

    Args:
        status: HTTP status code, e.g. 429, 500, 503.
        message: error message placed in the OpenAI-style error body.
        retry_after: optional seconds for a ``Retry-After`` header (DSPy honours it as its retry delay).
    """

    def __init__(self, status: int, message: str = "scripted error", *, retry_after: float | None = None) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code (400-599), got {status}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds")
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class DropConnection(Exception):
    """Raise from a responder to close the connection without any answer (a network fault)."""


def error_type_for_status(status: int) -> str:
    """The OpenAI error ``type`` string conventionally sent with ``status``."""
    if status == 429:
        return "rate_limit_exceeded"
    if status in (401, 403):
        return "authentication_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def normalize_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Plain ``dict`` copies of the messages, so a responder can never mutate a caller's objects."""
    return [dict(m) for m in messages]


def call_responder(responder: Responder, messages: Sequence[Mapping[str, Any]], model: str) -> str:
    """Run the responder and check it returned text; a non-string result is a ``TypeError``."""
    text = responder(normalize_messages(messages), model)
    if not isinstance(text, str):
        raise TypeError(f"the responder must return str, got {type(text).__name__}")
    return text


def count_tokens(text: str) -> int:
    """A deterministic stand-in token count: whitespace-separated words."""
    return len(text.split())


_TOKEN = re.compile(r"\S+")


def cut_at_max_tokens(text: str, max_tokens: int | None) -> tuple[str, str]:
    """``(text, "stop")``, or its first ``max_tokens`` tokens and ``"length"`` when it is longer, as a real LM
    stops at its token cap."""
    if max_tokens is None or count_tokens(text) <= max_tokens:
        return text, "stop"
    if max_tokens <= 0:
        return "", "length"
    last = list(_TOKEN.finditer(text))[max_tokens - 1]
    return text[: last.end()], "length"


def reply_latency(base_s: float, per_token_s: float, text: str) -> float:
    """Seconds a scripted reply takes: ``base_s`` per request plus ``per_token_s`` per generated token."""
    return base_s + per_token_s * count_tokens(text)


@dataclass(frozen=True)
class ScriptedReply:
    """What a scripted LM answers one request with: the text of each choice, why it ended, and the token counts."""

    text: str
    finish_reason: str  # "stop", or "length" when cut at the request's max_tokens
    prompt_tokens: int
    completion_tokens: int  # over all ``n`` choices


def answer_like_an_lm(responder: Responder, messages: Sequence[Mapping[str, Any]], model: str, *,
                      max_tokens: int | None, latency_s: float, per_token_s: float, tracker: "InFlightTracker",
                      n: int = 1) -> ScriptedReply:
    """Answer one request with ``responder`` as a real LM would: the reply cut at ``max_tokens``, its tokens counted in
    ``tracker``, and the request taking ``latency_s + per_token_s * reply tokens`` (``latency_s`` when the responder
    raises; its exception then propagates). The scripted server and the in-process scripted LM both answer here."""
    text = ""
    started = time.perf_counter()
    try:
        text, finish = cut_at_max_tokens(call_responder(responder, messages, model), max_tokens)
        completion_tokens = count_tokens(text) * n
        tracker.add_completion_tokens(model, completion_tokens)
        prompt_tokens = sum(count_tokens(str(m.get("content") or "")) for m in messages)
        return ScriptedReply(text, finish, prompt_tokens, completion_tokens)
    finally:
        delay = reply_latency(latency_s, per_token_s, text) - (time.perf_counter() - started)
        if delay > 0:
            time.sleep(delay)
