"""Read DSPy ChatAdapter prompts and write ChatAdapter-shaped replies, for scripted LMs.

DSPy's ``ChatAdapter`` renders a signature as a system message (field lists, a structure template
and ``In adhering to this structure, your objective is:`` followed by the instructions indented by
eight spaces) and one user message per call whose input fields are ``[[ ## name ## ]]`` sections.
It parses the assistant text by the same ``[[ ## name ## ]]`` headers and needs every output field
present; ``[[ ## completed ## ]]`` closes the reply. ``JSONAdapter`` prompts share the system-message
layout but expect a JSON object as the reply. The helpers here read those prompts back so a
scripted responder can answer as a real model would.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any, Mapping, Sequence

FIELD_HEADER = re.compile(r"^\[\[ ## (\w+) ## \]\]\s*$")
_NUMBERED_FIELD = re.compile(r"^\d+\. `(\w+)`")
_REMINDER_FIELD = re.compile(r"`\[\[ ## (\w+) ## \]\]`")
_OUTPUT_BLOCK_START = "Your output fields are:"
_STRUCTURE_START = "All interactions will be structured in the following way"
_OBJECTIVE_MARKER = "In adhering to this structure, your objective is:"
_REMINDER_START = "Respond with the corresponding output fields"
_JSON_REMINDER_START = "Respond with a JSON object"
_JSON_STRUCTURE_MARKER = "Outputs will be a JSON object"
COMPLETED_MARKER = "[[ ## completed ## ]]"

Message = Mapping[str, Any]


class ChatPromptError(ValueError):
    """Raised when messages do not look like a DSPy ChatAdapter prompt."""


def message_text(message: Message) -> str:
    """The text of one chat message; content given as a list of parts is joined."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    raise ChatPromptError(f"unsupported message content of type {type(content).__name__}")


def system_text(messages: Sequence[Message]) -> str:
    """The concatenated text of the system (or developer) messages."""
    return "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))


def last_user_text(messages: Sequence[Message]) -> str:
    """The text of the last user message (the current request; earlier ones are demos or history)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    raise ChatPromptError("the messages contain no user message")


def parse_requested_output_fields(messages: Sequence[Message]) -> list[str]:
    """Output field names the DSPy ChatAdapter prompt asks for, in order.

    Reads the ``Your output fields are:`` list of the system message; falls back to the
    ``Respond with the corresponding output fields ...`` reminder of the last user message.
    Raises ``ChatPromptError`` when neither is present.
    """
    system = system_text(messages)
    if _OUTPUT_BLOCK_START in system:
        block = system.split(_OUTPUT_BLOCK_START, 1)[1].split(_STRUCTURE_START, 1)[0]
        names = [m.group(1) for line in block.splitlines() if (m := _NUMBERED_FIELD.match(line.strip()))]
        if names:
            return names
    for line in last_user_text(messages).splitlines():
        if line.startswith(_REMINDER_START):
            names = [n for n in _REMINDER_FIELD.findall(line) if n != "completed"]
            if names:
                return names
        if line.startswith(_JSON_REMINDER_START):
            names = re.findall(r"`(\w+)`", line)
            if names:
                return names
    raise ChatPromptError("no DSPy ChatAdapter output-field list found in the system or last user message")


def is_json_adapter_prompt(messages: Sequence[Message]) -> bool:
    """Whether the prompt comes from DSPy's ``JSONAdapter`` (the reply must then be a JSON object)."""
    if _JSON_STRUCTURE_MARKER in system_text(messages):
        return True
    try:
        return any(line.startswith(_JSON_REMINDER_START) for line in last_user_text(messages).splitlines())
    except ChatPromptError:
        return False


def parse_instructions(messages: Sequence[Message]) -> str:
    """The signature instructions from the system message (the text after ``your objective is:``)."""
    system = system_text(messages)
    if _OBJECTIVE_MARKER not in system:
        raise ChatPromptError("the system message has no 'your objective is:' section")
    objective = system.split(_OBJECTIVE_MARKER, 1)[1]
    return textwrap.dedent(objective.strip("\n")).strip()


def parse_sections(text: str) -> dict[str, str]:
    """``[[ ## name ## ]]`` sections of a ChatAdapter-formatted text, name -> stripped value.

    Text before the first header is dropped; a repeated header keeps its first value, as the
    ChatAdapter parser does. ``completed`` is not returned.
    """
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = FIELD_HEADER.match(line.strip())
        if match:
            current = match.group(1)
            if current in sections:
                current = None  # ignore a repeated header's body
            else:
                sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items() if name != "completed"}


def parse_input_fields(messages: Sequence[Message]) -> dict[str, str]:
    """Input field values of the current request (last user message), name -> raw text.

    The trailing ``Respond with the corresponding output fields ...`` reminder is removed.
    """
    text = last_user_text(messages)
    kept = [line for line in text.splitlines() if not line.startswith((_REMINDER_START, _JSON_REMINDER_START))]
    return parse_sections("\n".join(kept))


def format_chat_adapter_reply(fields: Mapping[str, Any]) -> str:
    """An assistant reply DSPy's ChatAdapter parses into ``fields``.

    Each field becomes a ``[[ ## name ## ]]`` section with ``str(value)`` as its body, followed by
    ``[[ ## completed ## ]]``. Field names must be identifiers (as DSPy field names are).
    """
    if not fields:
        raise ValueError("a ChatAdapter reply needs at least one output field")
    parts = []
    for name, value in fields.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"invalid output field name {name!r}")
        parts.append(f"[[ ## {name} ## ]]\n{value}")
    parts.append(COMPLETED_MARKER)
    return "\n\n".join(parts) + "\n"


def format_json_adapter_reply(fields: Mapping[str, Any]) -> str:
    """An assistant reply DSPy's ``JSONAdapter`` parses into ``fields`` (a JSON object)."""
    if not fields:
        raise ValueError("a JSONAdapter reply needs at least one output field")
    return json.dumps(dict(fields), ensure_ascii=False)


def reply_for_prompt(messages: Sequence[Message], values: Mapping[str, Any], default: Any = "") -> str:
    """A reply filling every requested output field from ``values`` (else ``default``).

    Answers in the format the prompt's adapter parses: a JSON object for ``JSONAdapter`` prompts,
    ``[[ ## field ## ]]`` sections otherwise.
    """
    fields = {name: values.get(name, default) for name in parse_requested_output_fields(messages)}
    if is_json_adapter_prompt(messages):
        return format_json_adapter_reply(fields)
    return format_chat_adapter_reply(fields)
