"""The reflection prompt: our meta-prompt, how it shows records, and how it asks for the reply."""

from __future__ import annotations

from typing import Any, Sequence

from .reflective_dataset import ReflectiveRecord
from .reply_budget import MAX_WORDS

#: Longest text shown per field value in the reflection prompt (longer values are cut in the middle).
MAX_FIELD_CHARS = 2000

#: Section markers of the meta-prompt; a reply holding one echoes the prompt (see ``reply_checks``).
RECORDS_HEADING = "## Records of the step at work"
GUIDANCE_HEADING = "## What to write"
INSTRUCTION_OPEN = "<<<CURRENT INSTRUCTION>>>"
INSTRUCTION_CLOSE = "<<<END>>>"

META_PROMPT = """\
You are improving the instruction that drives one step of a multi-step language-model program.

<<<CURRENT INSTRUCTION>>>
{instruction}
<<<END>>>

## Records of the step at work
Each record shows what the step received, what it produced, and feedback on the result. The feedback may give \
the right answer, say what went wrong, or state facts the step could not have known.

{records}

## What to write
Find out why the step got each record right or wrong. Then write a new instruction for the step that:
- says what the task is and the exact form every output must take;
- states as general rules the facts, conventions and edge cases the feedback reveals, since the step sees \
nothing but its instruction and its inputs;
- keeps what worked and warns against the mistakes made, in terms that carry over to new inputs.
Keep it short: at most {word_limit} words of plain English prose, or a brief list, with no headings or \
sections. Do not copy the records, their inputs or their feedback into it: state the rules they teach. The \
instruction must be self-contained; it is read by a language model, never executed, so it is not code, JSON or a \
template. {reply}"""

#: Appended to the prompt of a retry, saying what was wrong with the reply before (by rejection reason).
RETRY_NOTES: dict[str, str] = {
    "truncated": "Your previous answer was cut off at the length limit. Write a shorter instruction: at most "
                 "{word_limit} words, and end the reply as asked.",
    "pasted_records": "Your previous answer pasted records from above into the instruction. Write only the rules "
                      "they teach, in your own words.",
    "copy": "Your previous answer repeated text from this prompt instead of writing a new instruction. Write the "
            "instruction in your own words.",
    "echo": "Your previous answer repeated this prompt's headings or records. Reply with the instruction alone.",
}


#: How the reflection LM is asked to reply (``ReflectionProposer(reply_format=...)``), and the sentence that asks.
REPLY_FORMATS: dict[str, str] = {
    # The paper's form; capable LMs follow it, and it lets them think before the block.
    "fenced": "Reply with the new instruction alone inside a single fenced block: a line with ```text before it "
              "and a line with ``` after it.",
    # For small LMs that cannot keep to a fence (a 0.5B model's fenced replies were all rejected in one run: cut
    # off at the token cap, fences that do not pair up, echoed records): the request's response_format makes a
    # server that enforces schemas (llama.cpp, OpenAI) emit only this object.
    "json_schema": 'Reply with a JSON object whose one key, "instruction", holds the new instruction.',
}


def check_reply_format(value: str, name: str = "reply_format") -> None:
    """Raise ``ValueError`` naming the parameter ``name`` unless ``value`` is one of ``REPLY_FORMATS``."""
    if value not in REPLY_FORMATS:
        raise ValueError(f"{name} must be one of {sorted(REPLY_FORMATS)}, got {value!r}")


INSTRUCTION_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "new_instruction",
        "strict": True,
        "schema": {"type": "object", "properties": {"instruction": {"type": "string"}}, "required": ["instruction"],
                   "additionalProperties": False},
    },
}


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= MAX_FIELD_CHARS:
        return text
    half = MAX_FIELD_CHARS // 2
    return f"{text[:half]} [... {len(text) - MAX_FIELD_CHARS} characters cut ...] {text[-half:]}"


def render_record(index: int, record: ReflectiveRecord) -> str:
    lines = [f"### Record {index}", "Inputs:"]
    lines += [f"- {k}: {_clip(v)}" for k, v in record.inputs.items()] or ["- (none)"]
    lines.append("Generated outputs:")
    lines += [f"- {k}: {_clip(v)}" for k, v in record.outputs.items()] or ["- (none)"]
    lines.append(f"Feedback: {_clip(record.feedback)}")
    return "\n".join(lines)


def render_reflection_prompt(instruction: str, records: Sequence[ReflectiveRecord], reply_format: str = "fenced",
                             word_limit: int = MAX_WORDS) -> str:
    """Our meta-prompt for ``instruction`` and its ``records``, asking for at most ``word_limit`` words in
    ``reply_format``."""
    body = "\n\n".join(render_record(i + 1, r) for i, r in enumerate(records))
    return META_PROMPT.format(instruction=instruction, records=body, reply=REPLY_FORMATS[reply_format],
                              word_limit=word_limit)


def with_retry_note(prompt: str, reason: str, word_limit: int) -> str:
    """``prompt`` followed by the note for a retry after a reply rejected for ``reason`` (unchanged if none)."""
    note = RETRY_NOTES.get(reason)
    return prompt if note is None else f"{prompt}\n\n{note.format(word_limit=word_limit)}"
