"""Reading the reflection LM's reply: the instruction it holds, or the reason to reject it.

``extract_instruction`` reads a fenced reply, ``extract_json_instruction`` the JSON object of
``reply_format="json_schema"``; both reject replies that are empty, truncated or an echo of the prompt.
``copied_share`` measures how much of a reply is lifted from the prompt instead of written.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from .prompt import GUIDANCE_HEADING, INSTRUCTION_OPEN, RECORDS_HEADING
from .reflective_dataset import ReflectiveRecord

# Lines of the meta-prompt that a real instruction would never contain; a reply holding them echoes the prompt
# (also without their "## ": a 1.5B model's adopted instruction began "Records of the step at work: - Input: ...").
_ECHO_MARKERS = tuple(m.lstrip("# ").lower() for m in (RECORDS_HEADING, GUIDANCE_HEADING, INSTRUCTION_OPEN))
# A record's header line as ``render_record`` writes it: small reflection LMs copy whole records back.
_ECHOED_RECORD = re.compile(r"^#+ Record \d+[ \t]*$", re.MULTILINE)
# A short block that only announces an instruction ("Now, I'm ready to write a new instruction for the step."),
# seen from a 0.5B reflection LM; an instruction addresses the step, it does not talk about writing one.
_PREAMBLE = re.compile(
    r"^(?:(?:now|ok|okay|sure|alright|great)[,.!:]?\s+)?(?:i'?m|i am|i will|i'll|i can|let me|let's|here is|here's|"
    r"below is)\b[^\n]*\binstructions?\b[^\n]*$",
    re.IGNORECASE,
)
_PREAMBLE_MAX_WORDS = 20

#: A reply is rejected as ``copy`` when at least this share of its new text (word 4-grams not already in the
#: current instruction) is lifted from the prompt's records or guidance rather than from the feedback: a 0.5B
#: reflection LM often answers with one record's input (a training prompt) or our own "What to write" list.
MAX_COPIED_SHARE = 0.5
_COPY_NGRAM = 4
# Below this many new 4-grams a reply adds too little text to judge (a short rule quoting one input is fine).
_COPY_MIN_NEW_NGRAMS = 6
_WORD = re.compile(r"\w+")

_FENCE = re.compile(r"^[ \t]*```([^\n`]*)$", re.MULTILINE)


def _fences_balance(fences: Sequence[re.Match[str]]) -> bool:
    """Whether fence lines pair up: one with a language tag always opens, a bare one closes the innermost open one."""
    depth = 0
    for fence in fences:
        depth += 1 if fence.group(1).strip() or depth == 0 else -1
    return depth == 0


def extract_instruction(reply: str) -> tuple[str | None, str]:
    """The instruction inside the reply's fenced block (or the whole reply when it has no fence line), or
    (None, reason) for a reply to reject.

    Takes the text between the first fence line and the last one (so fences nested inside survive), after any
    prose on the opening fence line itself.
    Reasons: ``empty``, ``truncated`` (no closing fence), ``unbalanced`` (fences inside the
    block that do not pair up, e.g. several blocks or blocks opened and never closed), ``blank`` (empty
    block), ``echo``, ``preamble`` (one short line announcing an instruction instead of giving one).
    """
    if not reply or not reply.strip():
        return None, "empty"
    fences = list(_FENCE.finditer(reply))
    if not fences:
        # Taken whole, as upstream GEPA takes an unfenced reply: many LMs drop the fence for a one-paragraph
        # answer. A reply cut off at the token cap is caught by the proposer (its length), not here.
        return check_text(reply.strip())
    if len(fences) == 1:
        return None, "truncated"
    if not _fences_balance(fences[1:-1]):
        # Seen from a 0.5B reflection LM: "```text / notes / ```text / more notes / ```text / ```". Everything
        # between the outer fences would be adopted as one instruction.
        return None, "unbalanced"
    body = reply[fences[0].end() : fences[-1].start()].strip("\n")
    return check_text((_text_on_fence_line(fences[0]) + "\n" + body).strip())


def extract_unclosed_instruction(reply: str) -> tuple[str | None, str]:
    """The instruction of a reply with a single fence line that the LM ended on its own (not at its token cap).

    A 1.5B reflection LM sometimes opens the block and stops without closing it (issue 32: 2 of 20 replies in the
    fast benchmark's side by side, each then paid again as a "truncated" retry). Ended on its own, the reply is
    complete: the instruction is the text after the fence (or before it, when the fence only closes). The caller
    knows whether the LM ended on its own; this function does not."""
    fences = list(_FENCE.finditer(reply or ""))
    if len(fences) != 1:
        return extract_instruction(reply)
    fence = fences[0]
    after = (_text_on_fence_line(fence) + "\n" + reply[fence.end():].strip("\n")).strip()
    if after or fence.group(1).strip():  # a fence with a language tag opens a block: only what follows it counts
        return check_text(after)
    return check_text(reply[: fence.start()].strip())  # a bare fence at the end closes the block before it


def _text_on_fence_line(fence: re.Match[str]) -> str:
    """What follows the language tag on the opening fence line when it is prose, not a tag's attributes.

    A 0.5B reflection LM writes "```text Extract the total amount ..." with its instruction on the fence line;
    a real info string is one word, perhaps with an attribute ("```python {linenos}").
    """
    parts = fence.group(1).strip().split(None, 1)
    return parts[1] if len(parts) == 2 and len(parts[1].split()) >= 2 else ""


def check_text(text: str) -> tuple[str | None, str]:
    """``text`` if it can be an instruction, else (None, ``blank`` / ``echo`` / ``preamble``)."""
    if not text:
        return None, "blank"
    lowered = text.lower()
    if any(marker in lowered for marker in _ECHO_MARKERS) or _ECHOED_RECORD.search(text):
        return None, "echo"
    if len(text.split()) <= _PREAMBLE_MAX_WORDS and (_PREAMBLE.match(text) or _announces_only(text)):
        return None, "preamble"
    return text, "ok"


def _announces_only(text: str) -> bool:
    """One line ending in a colon ("The step succeeded in the following ways:"): it introduces what never came."""
    return "\n" not in text and text.endswith(":")


def _word_ngrams(text: str) -> list[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return [tuple(words[i : i + _COPY_NGRAM]) for i in range(len(words) - _COPY_NGRAM + 1)]


def copied_share(text: str, prompt: str, instruction: str = "", quotable: Sequence[str] = ()) -> float | None:
    """Share of ``text``'s new word 4-grams that also occur in ``prompt`` but in none of ``quotable``.

    "New" means not in ``instruction`` (the current one, which a child may keep). ``quotable`` texts (the
    feedback) may be copied freely: they state the facts an instruction should record. None when ``text`` adds
    fewer than ``_COPY_MIN_NEW_NGRAMS`` new 4-grams (about nine words), too little to judge.
    """
    current = set(_word_ngrams(instruction))
    new = [g for g in _word_ngrams(text) if g not in current]
    if len(new) < _COPY_MIN_NEW_NGRAMS:
        return None
    lifted = set(_word_ngrams(prompt)) - {g for source in quotable for g in _word_ngrams(source)}
    return sum(g in lifted for g in new) / len(new)


#: A run of this many words lifted from one record's inputs or outputs (and found in neither the current
#: instruction nor any feedback) is a pasted record, however much new text surrounds it. Long enough that quoting
#: one constraint sentence of an input (IFBench prompts share them) is not.
PASTED_RUN_WORDS = 20
#: Record fields shorter than this many words ("I do not know.") are too common to count as pasted.
_PASTED_FIELD_MIN_WORDS = 5


def _words(value: Any) -> list[str]:
    return _WORD.findall((value if isinstance(value, str) else str(value)).lower())


def _contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    first = needle[0]
    return any(haystack[i] == first and list(haystack[i : i + n]) == list(needle) for i in range(len(haystack) - n + 1))


def pasted_records(text: str, records: Sequence[ReflectiveRecord], instruction: str = "") -> bool:
    """Whether ``text`` carries records of the reflection prompt instead of rules drawn from them.

    A record counts as pasted when two of its fields (an input, an output, the feedback) appear verbatim in
    ``text`` (fields of at least five words; a quoted feedback alone is fine, it states facts to record), or when
    ``PASTED_RUN_WORDS`` consecutive words of an input or output do. Text the current ``instruction`` already
    holds is never counted. The share of the reply that is pasted does not matter (issue 31: new text plus pasted
    records passed the 4-gram share check).
    """
    words = _words(text)
    kept = _words(instruction)
    feedback_runs = {tuple(w[i : i + PASTED_RUN_WORDS]) for r in records for w in [_words(r.feedback)]
                     for i in range(len(w) - PASTED_RUN_WORDS + 1)}
    text_runs = {tuple(words[i : i + PASTED_RUN_WORDS]) for i in range(len(words) - PASTED_RUN_WORDS + 1)}
    kept_runs = {tuple(kept[i : i + PASTED_RUN_WORDS]) for i in range(len(kept) - PASTED_RUN_WORDS + 1)}
    for record in records:
        values = [*record.inputs.values(), *record.outputs.values()]
        for value in values:
            field_words = _words(value)
            runs = {tuple(field_words[i : i + PASTED_RUN_WORDS]) for i in range(len(field_words) - PASTED_RUN_WORDS + 1)}
            if (runs & text_runs) - kept_runs - feedback_runs:
                return True
        fields = {tuple(_words(value)) for value in [*values, record.feedback]}
        shown = [f for f in fields if len(f) >= _PASTED_FIELD_MIN_WORDS and _contains_run(words, f)
                 and not _contains_run(kept, f)]
        if len(shown) >= 2:
            return True
    return False


def extract_json_instruction(reply: str) -> tuple[str | None, str]:
    """The ``instruction`` of a JSON reply (``reply_format="json_schema"``), or (None, reason) to reject it.

    Reasons: ``empty``, ``truncated`` (the object never closes: the LM hit its token cap), ``not_json`` (no
    object with a string ``instruction``), then the checks of ``extract_instruction`` on the text (``blank``,
    ``echo``, ``preamble``). A schema-enforcing server never sends ``not_json``; other LMs may wrap the object
    in a fenced block, which is accepted.
    """
    if not reply or not reply.strip():
        return None, "empty"
    text = reply.strip()
    fenced = re.fullmatch(r"```[^\n`]*\n(.*?)\n?```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return None, ("truncated" if text.startswith("{") and not text.endswith("}") else "not_json")
    if not isinstance(data, dict) or not isinstance(data.get("instruction"), str):
        return None, "not_json"
    return check_text(data["instruction"].strip())
