"""Scripted, deterministic LMs for tests and benchmarks (no network, no model weights).

- ``ScriptedOpenAIServer``: an OpenAI-compatible chat-completions server on 127.0.0.1 (stdlib only)
  that answers with a responder, adds a fixed latency and measures requests in flight.
- ``ScriptedLM``: the same responder interface as an in-process ``dspy.BaseLM``.
- ``format_chat_adapter_reply`` / ``parse_requested_output_fields`` / ``parse_input_fields`` /
  ``parse_instructions``: read DSPy ChatAdapter prompts and write replies it parses.

A responder is ``responder(messages: list[dict], model: str) -> str``; raise ``ScriptedHTTPError``
for an HTTP error answer or ``DropConnection`` for a dropped connection.
"""

from gepa_dspy.testing.chat_format import (
    ChatPromptError,
    format_chat_adapter_reply,
    format_json_adapter_reply,
    is_json_adapter_prompt,
    last_user_text,
    parse_input_fields,
    parse_instructions,
    parse_requested_output_fields,
    parse_sections,
    reply_for_prompt,
    system_text,
)
from gepa_dspy.testing.in_flight import InFlightTracker, LMTrafficStats
from gepa_dspy.testing.responder import DropConnection, Responder, ScriptedHTTPError
from gepa_dspy.testing.scripted_lm import ScriptedLM
from gepa_dspy.testing.server import RecordedRequest, ScriptedOpenAIServer

__all__ = [
    "ChatPromptError",
    "DropConnection",
    "InFlightTracker",
    "LMTrafficStats",
    "RecordedRequest",
    "Responder",
    "ScriptedHTTPError",
    "ScriptedLM",
    "ScriptedOpenAIServer",
    "format_chat_adapter_reply",
    "format_json_adapter_reply",
    "is_json_adapter_prompt",
    "last_user_text",
    "parse_input_fields",
    "parse_instructions",
    "parse_requested_output_fields",
    "parse_sections",
    "reply_for_prompt",
    "system_text",
]
