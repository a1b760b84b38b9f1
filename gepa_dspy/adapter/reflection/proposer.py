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
from .prompt import INSTRUCTION_RESPONSE_FORMAT, check_reply_format, render_reflection_prompt
from .reflective_dataset import ReflectiveDatasetBuilder, ReflectiveRecord
from .reply_checks import (MAX_COPIED_SHARE, copied_share, extract_instruction, extract_json_instruction,
                           pasted_records)

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
        self.dataset = dataset_builder_for(evaluator, add_format_failure_as_feedback=add_format_failure_as_feedback,
                                           warn_on_score_mismatch=warn_on_score_mismatch)
        self.max_attempts = max(1, int(max_attempts))
        self.retry_temperature = retry_temperature
        self.reply_format = reply_format
        self.prompt_renderer = prompt_renderer or (
            lambda instruction, records: render_reflection_prompt(instruction, records, reply_format))
        json_reply = reply_format == "json_schema"
        self._read_reply = extract_json_instruction if json_reply else extract_instruction
        self._request_options: dict[str, Any] = {"response_format": INSTRUCTION_RESPONSE_FORMAT} if json_reply else {}

    @property
    def feedback_fallbacks(self) -> int:
        return self.dataset.counters.feedback_fallbacks

    @property
    def score_mismatches(self) -> int:
        """Predictor-level metric calls whose score differed from the run's score (the run's score is kept)."""
        return self.dataset.counters.score_mismatches

    def build_reflective_records(self, candidate: Candidate, component: str,
                                 runs: Sequence[tuple[str, Outcome]]) -> list[ReflectiveRecord]:
        """What ``component`` saw, said and was told on each run of the minibatch (from the stored runs only)."""
        return self.dataset.build(candidate, component, runs)

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
            elif text is not None and pasted_records(text, records, candidate[component]):
                text, reason = None, "pasted_records"
            if text is None:
                logger.info("GEPA: rejected reflection reply (%s): %.200r", reason, reply)
                rejections.append(reason)
                continue
            return ProposalResult(text=text, rejections=rejections)
        return ProposalResult(text=None, rejections=rejections)
