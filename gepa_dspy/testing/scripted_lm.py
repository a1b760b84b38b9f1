"""A deterministic in-process ``dspy.BaseLM`` driven by a responder, for the fastest unit tests.

``ScriptedLM(responder)`` answers every call with ``responder(messages, model)`` without any HTTP.
It follows the DSPy 3.4 custom-LM contract the same way ``dspy.utils.DummyLM`` does: the LM owns a
canonical engine (``complete(Request) -> Response``), so DSPy's own execution path (history,
usage tracking, retries on retryable errors) runs unchanged and no deprecation warning is raised.
``forward`` returns the OpenAI-shaped provider response (``.choices[0].message.content``,
``.usage``, ``.model``) for code that calls it directly.

A responder raising ``ScriptedHTTPError`` surfaces as the matching DSPy LM error (429 ->
``LMRateLimitError``, 5xx -> ``LMServerError``, ...), retried by DSPy like a real provider error.
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy.lm15 import Message, Request, Response, TextPart, Usage
from dspy.lm15 import TransportError

from gepa_dspy.adapter.compat import execute_lm_call, install_lm_engine, map_http_error
from gepa_dspy.testing.in_flight import InFlightTracker, LMTrafficStats
from gepa_dspy.testing.responder import DropConnection, Responder, ScriptedHTTPError, answer_like_an_lm


def request_to_messages(request: Request) -> list[dict[str, Any]]:
    """OpenAI-style message dicts (system first) for a canonical DSPy request."""
    messages: list[dict[str, Any]] = []
    if request.system is not None:
        system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system)
        messages.append({"role": "system", "content": system})
    messages.extend({"role": m.role, "content": m.text or ""} for m in request.messages)
    return messages


def _provider_error(exc: ScriptedHTTPError) -> Exception:
    return map_http_error(exc.status, exc.message, provider="scripted", retry_after=exc.retry_after)


class ScriptedEngine:
    """Canonical DSPy engine answering with the owner's responder (one attempt per call)."""

    def __init__(self, owner: "ScriptedLM") -> None:
        self.owner = owner

    def complete(self, request: Request) -> Response:
        owner = self.owner
        messages = request_to_messages(request)
        owner.tracker.begin(owner.model)
        status: int | None = None
        try:
            reply = answer_like_an_lm(owner.responder, messages, owner.model, max_tokens=owner.kwargs.get("max_tokens"),
                                      latency_s=owner.latency_s, per_token_s=owner.per_token_s, tracker=owner.tracker)
        except ScriptedHTTPError as exc:
            status = exc.status
            raise _provider_error(exc) from exc
        except DropConnection as exc:
            status = 0
            raise TransportError("scripted dropped connection", provider="scripted") from exc
        finally:
            owner.tracker.end(status)
        return Response(
            id=None,
            model=owner.model,
            message=Message.assistant([TextPart(reply.text)]),
            finish_reason=reply.finish_reason,
            usage=Usage(input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens,
                        total_tokens=reply.prompt_tokens + reply.completion_tokens),
        )

    def stream(self, request: Request):  # noqa: ANN201 - DSPy's stream event iterator
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        return None


class AsyncScriptedEngine:
    """Async counterpart of ``ScriptedEngine`` (runs the responder inline)."""

    def __init__(self, sync: ScriptedEngine) -> None:
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        return self.sync.complete(request)

    async def stream(self, request: Request):  # noqa: ANN201
        for event in self.sync.stream(request):
            yield event

    async def aclose(self) -> None:
        return None


class ScriptedLM(dspy.BaseLM):
    """Deterministic in-process LM: every call returns ``responder(messages, model)``.

    Args:
        responder: ``responder(messages, model) -> str``; see ``gepa_dspy.testing.responder``.
        model: the model name passed to the responder and reported in responses.
        latency_s: fixed artificial latency per call (``time.sleep``).
        per_token_s: latency per generated token of the reply, added to ``latency_s``.
        max_tokens: the LM's token cap: longer replies are cut there (``finish_reason="length"``).
        num_retries: DSPy's retries for retryable scripted errors (default 0 here so failures are
            visible at once; DSPy's own default is 3).

    Responses are never cached (every call reaches the responder), so call counts are exact.
    Counts and concurrency are in ``stats()``; copies made by ``copy()`` share them.
    """

    def __init__(
        self,
        responder: Responder,
        *,
        model: str = "scripted",
        latency_s: float = 0.0,
        per_token_s: float = 0.0,
        max_tokens: int | None = None,
        num_retries: int = 0,
        tracker: InFlightTracker | None = None,
    ) -> None:
        if latency_s < 0 or per_token_s < 0:
            raise ValueError("latency_s and per_token_s must be >= 0")
        super().__init__(model=model, model_type="chat", temperature=0.0, max_tokens=max_tokens, cache=False,
                         num_retries=num_retries)
        self.responder = responder
        self.latency_s = float(latency_s)
        self.per_token_s = float(per_token_s)
        self.tracker = tracker or InFlightTracker()
        engine = ScriptedEngine(self)
        install_lm_engine(self, engine, AsyncScriptedEngine(engine))

    def forward(self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> Any:
        """One call through DSPy's execution path; returns the OpenAI-shaped provider response."""
        return execute_lm_call(self, prompt, messages, kwargs)

    async def aforward(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> Any:
        """Async ``forward`` (the responder runs inline)."""
        return self.forward(prompt=prompt, messages=messages, **kwargs)

    def copy(self, **kwargs: Any) -> "ScriptedLM":
        copied = super().copy(**kwargs)
        engine = ScriptedEngine(copied)
        install_lm_engine(copied, engine, AsyncScriptedEngine(engine))
        return copied

    def dump_state(self) -> dict[str, Any]:
        """Only the model name and latency are saved; the responder is code and is not serialized."""
        return {"model": self.model, "latency_s": self.latency_s, "per_token_s": self.per_token_s}

    def stats(self) -> LMTrafficStats:
        """Call counts and concurrency since creation or ``reset_stats``."""
        return self.tracker.snapshot()

    def reset_stats(self) -> None:
        """Start a new measurement window."""
        self.tracker.reset()
