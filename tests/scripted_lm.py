"""A deterministic in-process LM for tests: a responder function maps chat messages to reply text."""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

import dspy

Responder = Callable[[list[dict[str, Any]]], str]


class ScriptedLM(dspy.BaseLM):
    """``dspy.BaseLM`` whose replies come from ``responder(messages)``; counts calls, never caches."""

    def __init__(self, responder: Responder, model: str = "scripted") -> None:
        super().__init__(model=model, cache=False)
        self.responder = responder
        self.calls = 0
        self._lock = threading.Lock()

    def forward(self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
        msgs = messages or [{"role": "user", "content": prompt or ""}]
        text = self.responder(msgs)
        return _Reply({
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })


class _Reply(dict):
    """The OpenAI-shaped reply as a dict whose keys also read as attributes (``reply.choices[0].message``): DSPy
    3.4 takes dicts, DSPy 3.0-3.3 read attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        if isinstance(value, dict):
            return _Reply(value)
        if isinstance(value, list):
            return [_Reply(v) if isinstance(v, dict) else v for v in value]
        return value


def chat_reply(**fields: str) -> str:
    """A ChatAdapter-formatted reply with the given output fields."""
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"


def instruction_of(messages: list[dict[str, Any]]) -> str:
    """The signature instruction DSPy's ChatAdapter put at the end of the system message."""
    system = messages[0]["content"]
    return system.split("your objective is:", 1)[-1].strip()


def output_fields_of(messages: list[dict[str, Any]]) -> list[str]:
    system = messages[0]["content"]
    block = system.split("Your output fields are:", 1)[-1].split("All interactions", 1)[0]
    return re.findall(r"`(\w+)`", block)


def input_value(messages: list[dict[str, Any]], field: str) -> str:
    user = messages[-1]["content"]
    m = re.search(rf"\[\[ ## {field} ## \]\]\n(.*?)(?:\n\n\[\[ ## |\n\nRespond with|$)", user, re.S)
    return m.group(1).strip() if m else ""
