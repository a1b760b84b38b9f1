"""The reflection prompt: our meta-prompt, how it shows records, and how it asks for the reply."""

from __future__ import annotations

from typing import Any, Sequence

from .reflective_dataset import ReflectiveRecord

#: Longest text shown per field value in the reflection prompt (longer values are cut in the middle).
MAX_FIELD_CHARS = 2000

#: Section markers of the meta-prompt; a reply holding one echoes the prompt (see ``reply_checks``).
RECORDS_HEADING = "## Records of the step at work"
GUIDANCE_HEADING = "## What to write"
INSTRUCTION_OPEN = "<<<CURRENT INSTRUCTION>>>"
INSTRUCTION_CLOSE = "<<<END>>>"

META_PROMPT = """\
You are tuning one step of a multi-step language-model program. The step is driven by an instruction; \
your job is to write a better one.

<<<CURRENT INSTRUCTION>>>
{instruction}
<<<END>>>

## Records of the step at work
Each record shows the inputs the step received, the outputs it generated, and feedback on the result. \
The feedback may name the correct answer, explain what went wrong, or state facts the step did not know.

{records}

## What to write
Work out why the step succeeded or failed in each record. Then write a new instruction for the step that:
- states the task and the exact form every output must take;
- records the facts, conventions and edge cases the feedback exposes, since the step sees nothing but the \
instruction and its inputs;
- turns what worked into explicit strategies and names the mistakes to avoid, phrased so they carry over to \
new inputs rather than memorising these records.
The instruction must be self-contained. Write it in plain English prose addressed to the step, not as code, \
JSON or a template: it is read by a language model, never executed. {reply}"""

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


def render_reflection_prompt(instruction: str, records: Sequence[ReflectiveRecord], reply_format: str = "fenced") -> str:
    """Our meta-prompt for ``instruction`` and its ``records``, asking for a reply in ``reply_format``."""
    body = "\n\n".join(render_record(i + 1, r) for i, r in enumerate(records))
    return META_PROMPT.format(instruction=instruction, records=body, reply=REPLY_FORMATS[reply_format])
