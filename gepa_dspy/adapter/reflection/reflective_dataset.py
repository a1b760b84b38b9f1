"""The reflective dataset: what one predictor saw, said and was told, built from stored run outcomes only.

A run's ``Outcome`` keeps each predictor call's inputs and outputs as typed JSON (``typed_json``), so the
records and the metric call that gives predictor-level feedback are rebuilt from the outcome alone: a run
fresh from the evaluator and one read back from the journal after a restart give the same dataset.

The predictor-level feedback comes from ``metric(gold, pred, trace, pred_name, pred_trace)`` as in
``dspy.GEPA``, where ``pred`` is the run's prediction, ``trace`` the run's predictor calls as
``(predictor, inputs, dspy.Prediction(outputs))`` with the candidate's own predictor objects, and
``pred_trace`` the calls of the predictor reflected on. A metric that raises falls back to the run's feedback
(counted); its score never replaces the run's (a different one is counted as a mismatch).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import dspy

from ...engine.candidate import Candidate
from ...engine.records import Outcome
from ..feedback import MetricReturnError, normalize_metric_result
from ..snapshot import to_jsonable
from ..typed_json import decode
from .usage import Tally

logger = logging.getLogger("gepa_dspy")

#: At most this many calls of the predictor are shown per example in our reflection prompt.
MAX_CALLS_PER_EXAMPLE = 2


@dataclass
class ReflectiveRecord:
    """One call of a predictor with the feedback on it."""

    #: JSON values as DSPy serialises them (``to_jsonable``): what the prompt shows.
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    feedback: str
    #: The call's inputs as the objects the program passed (``dspy.Image``, ``dspy.History``, ...), rebuilt from
    #: the stored run; None for records made by hand.
    raw_inputs: dict[str, Any] | None = None
    raw_outputs: dict[str, Any] | None = None
    #: The call's output could not be parsed (shown only with ``add_format_failure_as_feedback``).
    failed: bool = False


#: What building datasets had to work around, counted in ``ReflectiveDatasetBuilder.counters``:
#: ``feedback_fallbacks`` (the metric raised for a predictor), ``score_mismatches`` (its predictor-level score
#: differed from the run's), ``untyped_values`` (stored values whose type could not be rebuilt, given as plain JSON).
DATASET_COUNTER_NAMES = ("feedback_fallbacks", "score_mismatches", "untyped_values")


def format_failure_feedback(call: Mapping[str, Any]) -> str:
    expected = ", ".join(call.get("expected_fields") or [])
    return (
        "This call's output could not be parsed, so the program failed. "
        f"Every output field must be produced in the required format (expected fields: {expected or 'see signature'}). "
        f"The raw reply was: {call.get('raw_response', '(unavailable)')}"
    )


class ReflectiveDatasetBuilder:
    """Builds reflective records from stored outcomes; the metric supplies predictor-level feedback.

    ``predictors_for(candidate)`` returns the candidate's program predictors by name (used as the first element
    of each trace entry handed to the metric); ``examples`` maps example ids to ``dspy.Example``.
    """

    def __init__(self, metric: Callable[..., Any], examples: Mapping[str, dspy.Example], perfect_score: float,
                 predictors_for: Callable[[Candidate], Mapping[str, Any]], *,
                 add_format_failure_as_feedback: bool = False, warn_on_score_mismatch: bool = True) -> None:
        self.metric = metric
        self.examples = examples
        self.perfect_score = perfect_score
        self.predictors_for = predictors_for
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.counters = Tally(DATASET_COUNTER_NAMES)
        self._warn_lock = threading.Lock()

    def build(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]],
              max_calls_per_example: int = MAX_CALLS_PER_EXAMPLE) -> list[ReflectiveRecord]:
        """Records of ``component``'s calls on each run, at most ``max_calls_per_example`` per run."""
        predictors = self.predictors_for(candidate)
        records: list[ReflectiveRecord] = []
        for example_id, outcome in runs:
            calls = [entry for entry in outcome.trace if entry.get("predictor") == component]
            if not self.add_format_failure_as_feedback:
                calls = [c for c in calls if "error" not in c]
            # Kept when there are more calls than room: failed calls first (a failure is what broke the run),
            # then the latest (in a loop such as ReAct the last call carries the whole trajectory and produced
            # the final output); shown in the order they ran.
            kept = sorted(range(len(calls)), key=lambda i: ("error" not in calls[i], -i))[:max_calls_per_example]
            calls = [calls[i] for i in sorted(kept)]
            if not calls:
                continue
            feedback: str | None = None
            if any("error" not in c for c in calls):
                feedback = self._predictor_feedback(predictors, example_id, component, outcome)
            for call in calls:
                failed = "error" in call
                raw_inputs = self._decode(call.get("inputs") or {})
                raw_outputs = self._decode(call.get("outputs") or {})
                records.append(ReflectiveRecord(
                    # The prompt shows each value as DSPy serialises it (a dspy.Image as its content part).
                    inputs=to_jsonable(raw_inputs), outputs=to_jsonable(raw_outputs),
                    feedback=format_failure_feedback(call) if failed else str(feedback),
                    raw_inputs=raw_inputs, raw_outputs=raw_outputs, failed=failed,
                ))
        return records

    # ---------------------------------------------------------------- internals
    def _decode(self, value: Any) -> Any:
        return decode(value, lambda name: self.counters.add("untyped_values"))

    def _metric_arguments(self, predictors: Mapping[str, Any], component: str,
                          outcome: Outcome) -> tuple[dspy.Prediction, list[tuple[Any, Any, Any]], list[tuple[Any, Any, Any]]]:
        """(prediction, trace, pred_trace) rebuilt from the stored outcome."""
        trace = []
        for entry in outcome.trace:
            if "error" in entry or entry.get("predictor") not in predictors:
                continue
            outputs = self._decode(entry.get("outputs") or {})
            trace.append((entry["predictor"], predictors[entry["predictor"]], self._decode(entry.get("inputs") or {}),
                          dspy.Prediction(**outputs)))
        # The program's prediction is stored as plain JSON; a field equal to some call's output gets that
        # output's typed value back (the last call that produced it).
        typed: dict[str, Any] = {}
        for _, _, _, out in trace:
            for key, value in out.items():
                if key in outcome.output and to_jsonable(value) == outcome.output[key]:
                    typed[key] = value
        prediction = dspy.Prediction(**{k: typed.get(k, v) for k, v in outcome.output.items()})
        full = [(pred, inputs, out) for _, pred, inputs, out in trace]
        mine = [(pred, inputs, out) for name, pred, inputs, out in trace if name == component]
        return prediction, full, mine

    def _predictor_feedback(self, predictors: Mapping[str, Any], example_id: str, component: str,
                            outcome: Outcome) -> str:
        """Feedback from ``metric(..., pred_name=component, pred_trace=...)``, else the run's own feedback."""
        if outcome.failure:
            return outcome.feedback
        example = self.examples[example_id]
        prediction, trace, pred_trace = self._metric_arguments(predictors, component, outcome)
        try:
            result = self.metric(example, prediction, trace, component, pred_trace)
            score, feedback = normalize_metric_result(result, self.perfect_score, f"for example {example_id!r}")
        except MetricReturnError:
            raise
        except Exception as exc:  # noqa: BLE001 - predictor-level feedback is optional; fall back and count
            self.counters.add("feedback_fallbacks")
            logger.warning("GEPA: metric raised for pred_name=%r on example %s (%s); using the run's feedback",
                           component, example_id, exc)
            return outcome.feedback
        if score != outcome.score:
            self._note_score_mismatch(component, example_id, score, outcome.score)
        return feedback or outcome.feedback

    def _note_score_mismatch(self, component: str, example_id: str, score: float, run_score: float) -> None:
        self.counters.add("score_mismatches")
        with self._warn_lock:
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
