"""The reflection proposer: from a parent's stored runs to a new instruction, through the reflection LM."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import dspy

from ...engine.candidate import Candidate
from ...engine.protocols import ProposalResult
from ...engine.records import Outcome
from ..evaluation import DSPyEvaluator
from ..program import named_predictors
from .prompt import (INSTRUCTION_RESPONSE_FORMAT, RETRY_NOTES, check_reply_format, render_reflection_prompt,
                     with_retry_note)
from .reply_budget import MIN_WORDS, instruction_word_limit, proposal_token_budget, reply_token_cap
from .reflective_dataset import ReflectiveDatasetBuilder, ReflectiveRecord
from .usage import ReflectionUsage
from .reply_checks import (MAX_COPIED_SHARE, copied_share, extract_instruction, extract_json_instruction,
                           extract_unclosed_instruction, pasted_records)

logger = logging.getLogger("gepa_dspy")


def _lm_text(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("text") or "")
    return "" if output is None else str(output)


def dataset_builder_for(evaluator: DSPyEvaluator, *, add_format_failure_as_feedback: bool = False,
                        warn_on_score_mismatch: bool = True) -> ReflectiveDatasetBuilder:
    """A ``ReflectiveDatasetBuilder`` reading the evaluator's metric, examples and candidate programs."""
    return ReflectiveDatasetBuilder(
        evaluator.metric, evaluator.examples, evaluator.perfect_score,
        lambda candidate: dict(named_predictors(evaluator.program_for(candidate))),
        add_format_failure_as_feedback=add_format_failure_as_feedback, warn_on_score_mismatch=warn_on_score_mismatch,
    )


class ReflectionProposer:
    """Implements the engine's ``Proposer`` with a reflection LM and the DSPy metric's feedback.

    Cheap on real LMs (issue 32): the prompt asks for an instruction of about half the LM's ``max_tokens``
    (``reply_budget``); a reply cut off at the cap is retried once asking for half as many words, never re-rolled
    as it was; a reply that gives back the parent's instruction ends the proposal at once (a free rejection: the
    LM would answer the same again); a reply rejected for copying, pasting records or echoing is retried with a
    note saying so; other bad replies are re-rolled at ``retry_temperature``. One proposal spends at most
    ``max_tokens_per_proposal`` generated tokens (default: twice the reply cap). Every call and token is counted
    (``reflection_counters``).
    """

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
        max_tokens_per_proposal: int | None = None,
    ) -> None:
        """``reply_format``: ``"fenced"`` (the instruction in a fenced block) or ``"json_schema"`` (a JSON object
        ``{"instruction": ...}``, requested with an OpenAI-style ``response_format``). ``prompt_renderer``
        replaces our meta-prompt; it must then ask for a reply in ``reply_format`` itself."""
        check_reply_format(reply_format)
        self.lm = reflection_lm
        self.evaluator = evaluator
        self.dataset = dataset_builder_for(evaluator, add_format_failure_as_feedback=add_format_failure_as_feedback,
                                           warn_on_score_mismatch=warn_on_score_mismatch)
        self.max_attempts = max(1, int(max_attempts))
        self.retry_temperature = retry_temperature
        self.reply_format = reply_format
        self.custom_renderer = prompt_renderer
        self.reply_cap = reply_token_cap(reflection_lm)
        self.word_limit = instruction_word_limit(self.reply_cap)
        self.max_tokens_per_proposal = (proposal_token_budget(self.reply_cap) if max_tokens_per_proposal is None
                                        else int(max_tokens_per_proposal))
        json_reply = reply_format == "json_schema"
        self._read_reply = extract_json_instruction if json_reply else extract_instruction
        self._request_options: dict[str, Any] = {"response_format": INSTRUCTION_RESPONSE_FORMAT} if json_reply else {}
        self.usage = ReflectionUsage()

    @property
    def feedback_fallbacks(self) -> int:
        return self.dataset.counters["feedback_fallbacks"]

    @property
    def score_mismatches(self) -> int:
        """Predictor-level metric calls whose score differed from the run's score (the run's score is kept)."""
        return self.dataset.counters["score_mismatches"]

    def reflection_counters(self) -> dict[str, int]:
        """Reflection LM calls, tokens, retries and stops, for ``detailed_results.counters``."""
        return {**self.usage.as_counters(), "reflection_untyped_values": self.dataset.counters["untyped_values"]}

    def build_reflective_records(self, candidate: Candidate, component: str,
                                 runs: Sequence[tuple[str, Outcome]]) -> list[ReflectiveRecord]:
        """What ``component`` saw, said and was told on each run of the minibatch (from the stored runs only)."""
        return self.dataset.build(candidate, component, runs)

    def render_prompt(self, instruction: str, records: Sequence[ReflectiveRecord], word_limit: int | None = None) -> str:
        if self.custom_renderer is not None:
            return self.custom_renderer(instruction, records)
        return render_reflection_prompt(instruction, records, self.reply_format, word_limit or self.word_limit)

    # ------------------------------------------------------------- proposal
    @staticmethod
    def _copies_prompt(text: str, prompt: str, instruction: str, records: Sequence[ReflectiveRecord]) -> bool:
        share = copied_share(text, prompt, instruction, [r.feedback for r in records])
        return share is not None and share >= MAX_COPIED_SHARE

    def _ask(self, prompt: str, reroll: int) -> tuple[str, int, bool | None]:
        """One reflection call: (reply, tokens generated, cut off at the cap: None when unknown, i.e. the LM reported
        no usage or sets no cap). Raises what the LM raises."""
        kwargs = dict(self._request_options)
        if reroll:
            # The same prompt again would hit DSPy's cache (and a greedy LM would repeat itself).
            kwargs.update(rollout_id=reroll, temperature=self.retry_temperature)
        with self.usage.measure() as usage:
            outputs = self.lm(prompt, **kwargs)
        reply = _lm_text(outputs[0]) if outputs else ""
        if not usage.measured:
            return reply, self.usage.note_unmeasured(reply), None
        if self.reply_cap is None:
            return reply, usage.completion_tokens, None
        return reply, usage.completion_tokens, usage.completion_tokens >= self.reply_cap

    def _check(self, reply: str, cut: bool | None, prompt: str, current: str,
               records: Sequence[ReflectiveRecord]) -> tuple[str | None, str]:
        if cut:  # even a reply that parses: its end is missing (an unfenced reply would otherwise pass whole)
            return None, "truncated"
        text, reason = self._read_reply(reply)
        if reason == "truncated" and cut is False and self.reply_format == "fenced":
            # A block opened and never closed, but the LM ended below its cap: the reply is whole (issue 32).
            text, reason = extract_unclosed_instruction(reply)
            if text is not None:
                self.usage.add("unclosed_fences_read")
                logger.info("GEPA: read a reflection reply whose fenced block was never closed (it ended below the "
                            "token cap)")
        if text is None:
            return None, reason
        if text.strip() == current.strip():
            return None, "unchanged"
        if self._copies_prompt(text, prompt, current, records):
            return None, "copy"
        if pasted_records(text, records, current):
            return None, "pasted_records"
        return text, "ok"

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult:
        records = self.build_reflective_records(candidate, component, runs)
        if not records:
            return ProposalResult(text=None, rejections=["no_records"])
        current = candidate[component]
        words = self.word_limit
        prompt = self.render_prompt(current, records, words)
        rejections: list[str] = []
        spent = 0
        sent: dict[str, int] = {}  # times each prompt was sent: a prompt sent again is a re-roll
        for attempt in range(self.max_attempts):
            if attempt and spent >= self.max_tokens_per_proposal:
                self.usage.add("token_budget_stops")
                logger.info("GEPA: reflection for %r stopped after %d generated tokens (budget %d)", component, spent,
                            self.max_tokens_per_proposal)
                break
            reroll = sent.get(prompt, 0)
            sent[prompt] = reroll + 1
            try:
                reply, generated, cut = self._ask(prompt, reroll)
            except Exception as exc:  # noqa: BLE001 - a failed reflection call is retried, then counted
                logger.warning("GEPA: reflection LM call failed (%s)", exc)
                rejections.append("lm_error")
                continue
            spent += generated
            text, reason = self._check(reply, cut, prompt, current, records)
            if text is not None:
                return ProposalResult(text=text, rejections=rejections)
            logger.info("GEPA: rejected reflection reply (%s): %.200r", reason, reply)
            rejections.append(reason)
            if reason == "unchanged":
                break  # a free rejection: asked again, the LM keeps its answer (issue 32)
            if reason == "truncated":
                if "truncated" in rejections[:-1]:
                    break  # asked for a shorter answer once already: the same failure is not paid for again
                words = max(MIN_WORDS, words // 2)
                self.usage.add("shorter_retries")
                prompt = with_retry_note(self.render_prompt(current, records, words), reason, words)
            elif reason in RETRY_NOTES:
                self.usage.add("noted_retries")
                prompt = with_retry_note(self.render_prompt(current, records, words), reason, words)
            # Any other reason (empty, blank, preamble, unbalanced, not_json): the same prompt is re-rolled.
        return ProposalResult(text=None, rejections=rejections)
