"""Reflection: from a predictor's runs and the metric's feedback to a new instruction.

``build_reflective_records`` collects, for one predictor, what it received, what it generated and
what the metric said; ``render_reflection_prompt`` turns them into our meta-prompt; ``extract_instruction``
reads the reply's fenced block (``extract_json_instruction`` the JSON object of ``reply_format="json_schema"``)
and rejects replies that are empty, truncated or an echo of the prompt; ``copied_share`` catches replies that
copy a record or the prompt's guidance instead of writing an instruction.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import dspy

from ..engine.candidate import Candidate, candidate_key
from ..engine.protocols import ProposalResult
from ..engine.records import Outcome
from .evaluation import DSPyEvaluator, LiveRun
from .feedback import MetricReturnError, normalize_metric_result

logger = logging.getLogger("gepa_dspy")

#: Longest text shown per field value in the reflection prompt (longer values are cut in the middle).
MAX_FIELD_CHARS = 2000
#: At most this many calls of the predictor are shown per example.
MAX_CALLS_PER_EXAMPLE = 2

# Lines of the meta-prompt that a real instruction would never contain; a reply holding them echoes the prompt.
_ECHO_MARKERS = ("## Records of the step at work", "## What to write", "<<<CURRENT INSTRUCTION>>>")
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


@dataclass
class ReflectiveRecord:
    """One call of a predictor with the feedback on it."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]
    feedback: str
    #: The call's inputs as DSPy objects (e.g. ``dspy.Image``) when the run is still in memory; ``inputs``
    #: holds their JSON snapshots, which is all a run restored from a checkpoint has.
    raw_inputs: dict[str, Any] | None = None


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


_FENCE = re.compile(r"^[ \t]*```([^\n`]*)$", re.MULTILINE)


def _fences_balance(fences: Sequence[re.Match[str]]) -> bool:
    """Whether fence lines pair up: one with a language tag always opens, a bare one closes the innermost open one."""
    depth = 0
    for fence in fences:
        depth += 1 if fence.group(1).strip() or depth == 0 else -1
    return depth == 0


def extract_instruction(reply: str) -> tuple[str | None, str]:
    """The instruction inside the reply's fenced block, or (None, reason) for a reply to reject.

    Takes the text between the first fence line and the last one (so fences nested inside survive), after any
    prose on the opening fence line itself.
    Reasons: ``empty``, ``no_fence``, ``truncated`` (no closing fence), ``unbalanced`` (fences inside the
    block that do not pair up, e.g. several blocks or blocks opened and never closed), ``blank`` (empty
    block), ``echo``, ``preamble`` (one short line announcing an instruction instead of giving one).
    """
    if not reply or not reply.strip():
        return None, "empty"
    fences = list(_FENCE.finditer(reply))
    if not fences:
        return None, "no_fence"
    if len(fences) == 1:
        return None, "truncated"
    if not _fences_balance(fences[1:-1]):
        # Seen from a 0.5B reflection LM: "```text / notes / ```text / more notes / ```text / ```". Everything
        # between the outer fences would be adopted as one instruction.
        return None, "unbalanced"
    body = reply[fences[0].end() : fences[-1].start()].strip("\n")
    return _check_text((_text_on_fence_line(fences[0]) + "\n" + body).strip())


def _text_on_fence_line(fence: re.Match[str]) -> str:
    """What follows the language tag on the opening fence line when it is prose, not a tag's attributes.

    A 0.5B reflection LM writes "```text Extract the total amount ..." with its instruction on the fence line;
    a real info string is one word, perhaps with an attribute ("```python {linenos}").
    """
    parts = fence.group(1).strip().split(None, 1)
    return parts[1] if len(parts) == 2 and len(parts[1].split()) >= 2 else ""


def _check_text(text: str) -> tuple[str | None, str]:
    """``text`` if it can be an instruction, else (None, ``blank`` / ``echo`` / ``preamble``)."""
    if not text:
        return None, "blank"
    if any(marker in text for marker in _ECHO_MARKERS) or _ECHOED_RECORD.search(text):
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
    return _check_text(data["instruction"].strip())


def _lm_text(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("text") or "")
    return "" if output is None else str(output)


class ReflectionProposer:
    """Implements the engine's ``Proposer`` with a reflection LM and the DSPy metric's feedback."""

    def __init__(
        self,
        reflection_lm: dspy.BaseLM,
        evaluator: DSPyEvaluator,
        *,
        add_format_failure_as_feedback: bool = False,
        max_attempts: int = 3,
        retry_temperature: float = 0.7,
        prompt_renderer: Callable[[str, Sequence[ReflectiveRecord]], str] | None = None,
        warn_on_score_mismatch: bool = True,
        reply_format: str = "fenced",
    ) -> None:
        """``reply_format``: ``"fenced"`` (the instruction in a fenced block) or ``"json_schema"`` (a JSON object
        ``{"instruction": ...}``, requested with an OpenAI-style ``response_format``). ``prompt_renderer``
        replaces our meta-prompt; it must then ask for a reply in ``reply_format`` itself."""
        check_reply_format(reply_format)
        self.lm = reflection_lm
        self.evaluator = evaluator
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.max_attempts = max(1, int(max_attempts))
        self.retry_temperature = retry_temperature
        self.reply_format = reply_format
        self.prompt_renderer = prompt_renderer or (
            lambda instruction, records: render_reflection_prompt(instruction, records, reply_format))
        json_reply = reply_format == "json_schema"
        self._read_reply = extract_json_instruction if json_reply else extract_instruction
        self._request_options: dict[str, Any] = {"response_format": INSTRUCTION_RESPONSE_FORMAT} if json_reply else {}
        self.feedback_fallbacks = 0
        self.warn_on_score_mismatch = warn_on_score_mismatch
        #: Predictor-level metric calls whose score differed from the run's score (the run's score is kept).
        self.score_mismatches = 0
        self._mismatch_lock = threading.Lock()

    # -------------------------------------------------------------- records
    def build_reflective_records(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> list[ReflectiveRecord]:
        """What ``component`` saw, said and was told on each run of the minibatch."""
        cand_key = candidate_key(candidate)
        records: list[ReflectiveRecord] = []
        for example_id, outcome in runs:
            calls = [entry for entry in outcome.trace if entry.get("predictor") == component]
            ok_calls = [c for c in calls if "error" not in c]
            # A run's snapshot lists the successful calls first, in the order of the live trace's entries.
            live = self.evaluator.live_run(cand_key, example_id)
            live_calls = live.by_predictor.get(component, []) if live is not None else []
            raw_by_call = ({id(c): dict(inputs) for c, (_, inputs, _) in zip(ok_calls, live_calls)}
                           if len(live_calls) == len(ok_calls) else {})
            if not self.add_format_failure_as_feedback:
                calls = ok_calls
            for call in calls[:MAX_CALLS_PER_EXAMPLE]:
                if "error" in call:
                    feedback = self._format_failure_feedback(call)
                else:
                    feedback = self._predictor_feedback(live, example_id, component, outcome)
                records.append(ReflectiveRecord(inputs=call["inputs"], outputs=call["outputs"], feedback=feedback,
                                                raw_inputs=raw_by_call.get(id(call))))
        return records

    def _format_failure_feedback(self, call: Mapping[str, Any]) -> str:
        expected = ", ".join(call.get("expected_fields") or [])
        return (
            "This call's output could not be parsed, so the program failed. "
            f"Every output field must be produced in the required format (expected fields: {expected or 'see signature'}). "
            f"The raw reply was: {call.get('raw_response', '(unavailable)')}"
        )

    def _predictor_feedback(self, live: LiveRun | None, example_id: str, component: str, outcome: Outcome) -> str:
        """Feedback from ``metric(..., pred_name=component, pred_trace=...)``, else the run's own feedback.

        ``live`` is the run still in memory (real prediction and trace), or None for one restored from a checkpoint.
        """
        if outcome.failure:
            return outcome.feedback
        example = self.evaluator.examples[example_id]
        if live is not None:
            prediction, trace = live.prediction, live.trace
            pred_trace = live.by_predictor.get(component, [])
        else:
            prediction = dspy.Prediction(**outcome.output)
            trace = []
            pred_trace = [(None, e["inputs"], dspy.Prediction(**e["outputs"])) for e in outcome.trace if e.get("predictor") == component and "error" not in e]
        try:
            result = self.evaluator.metric(example, prediction, trace, component, pred_trace)
            score, feedback = normalize_metric_result(result, self.evaluator.perfect_score, f"for example {example_id!r}")
        except MetricReturnError:
            raise
        except Exception as exc:  # noqa: BLE001 - predictor-level feedback is optional; fall back and count
            self.feedback_fallbacks += 1
            logger.warning("GEPA: metric raised for pred_name=%r on example %s (%s); using the run's feedback", component, example_id, exc)
            return outcome.feedback
        if score != outcome.score:
            self._note_score_mismatch(component, example_id, score, outcome.score)
        return feedback or outcome.feedback

    def _note_score_mismatch(self, component: str, example_id: str, score: float, run_score: float) -> None:
        with self._mismatch_lock:
            self.score_mismatches += 1
            warn, self.warn_on_score_mismatch = self.warn_on_score_mismatch, False
        if warn:  # once per run; every case is counted
            logger.warning(
                "GEPA: with pred_name=%r the metric scored example %s %.4g, but %.4g without it. Only its feedback is "
                "used there; scores always come from metric(gold, pred) for the whole program. Expected for a "
                "non-deterministic metric (e.g. an LM judge); otherwise return the program-level score from every "
                "call. Counted in detailed_results.counters['predictor_feedback_score_mismatches']; pass "
                "warn_on_score_mismatch=False to silence this warning.",
                component, example_id, score, run_score,
            )

    # ------------------------------------------------------------- proposal
    @staticmethod
    def _copies_prompt(text: str, prompt: str, instruction: str, records: Sequence[ReflectiveRecord]) -> bool:
        share = copied_share(text, prompt, instruction, [r.feedback for r in records])
        return share is not None and share >= MAX_COPIED_SHARE

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult:
        records = self.build_reflective_records(candidate, component, runs)
        if not records:
            return ProposalResult(text=None, rejections=["no_records"])
        prompt = self.prompt_renderer(candidate[component], records)
        rejections: list[str] = []
        for attempt in range(self.max_attempts):
            kwargs = dict(self._request_options)
            if attempt > 0:
                # A retry with the same prompt would hit DSPy's cache (and a greedy LM would repeat itself).
                kwargs.update(rollout_id=attempt, temperature=self.retry_temperature)
            try:
                outputs = self.lm(prompt, **kwargs)
                reply = _lm_text(outputs[0]) if outputs else ""
            except Exception as exc:  # noqa: BLE001 - a failed reflection call is retried, then counted
                logger.warning("GEPA: reflection LM call failed (%s)", exc)
                rejections.append("lm_error")
                continue
            text, reason = self._read_reply(reply)
            if text is not None and text.strip() == candidate[component].strip():
                text, reason = None, "unchanged"
            elif text is not None and self._copies_prompt(text, prompt, candidate[component], records):
                text, reason = None, "copy"
            if text is None:
                logger.info("GEPA: rejected reflection reply (%s): %.200r", reason, reply)
                rejections.append(reason)
                continue
            return ProposalResult(text=text, rejections=rejections)
        return ProposalResult(text=None, rejections=rejections)

