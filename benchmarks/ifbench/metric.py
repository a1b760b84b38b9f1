"""The IFBench metric: the fraction of a prompt's constraints the response follows, with feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from benchmarks.ifbench.following import ConstraintResult, evaluate
from benchmarks.ifbench.registry import get_checker


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"  # the data stores counts as floats: show 2.0 as 2
    return str(value)


def describe_constraint(instruction_id: str, kwargs: dict[str, Any] | None) -> str:
    """The id, its checker's description and its kwargs, e.g. "count:numbers (include exactly N numbers; N=2)"."""
    description = get_checker(instruction_id).description
    params = ", ".join(f"{k}={_show(v)}" for k, v in (kwargs or {}).items() if v is not None)
    return f"{instruction_id} ({description}{'; ' + params if params else ''})"


def constraint_lines(results: Sequence[ConstraintResult], kwargs: Sequence[dict[str, Any] | None]) -> list[str]:
    """One line per constraint: followed / NOT followed, and what was measured for failed ones."""
    lines = []
    for result, kw in zip(results, kwargs):
        name = describe_constraint(result.instruction_id, kw)
        if result.followed:
            lines.append(f"- followed: {name}")
        else:
            lines.append(f"- NOT followed: {name}: {result.measured}")
    return lines


@dataclass(frozen=True)
class IFBenchMetric:
    """Score = fraction of the prompt's constraints followed (loose or strict rule), with feedback.

    With ``pred_name`` (a name from ``program.named_predictors()``) the feedback addresses that stage:
    for ``answer`` it judges the draft (taken from ``pred_trace``'s last entry when given, else
    ``pred.draft_response``) and shows the final response's result next to it; for ``rewrite`` (and
    for the whole program) it judges the final response. The score is always the final response's.
    """

    loose: bool = True

    @property
    def rule(self) -> str:
        return "loose" if self.loose else "strict"

    def __call__(self, gold: Any, pred: Any, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Sequence[Any] | None = None) -> dspy.Prediction:
        ids = list(gold.instruction_id_list)
        kwargs = list(gold.kwargs)
        response = _field(pred, "response")
        if not isinstance(response, str) or not response.strip():
            feedback = (f"The program returned no response, so none of the {len(ids)} constraints was followed:\n"
                        + "\n".join(f"- NOT followed: {describe_constraint(i, k)}" for i, k in zip(ids, kwargs)))
            return dspy.Prediction(score=0.0, feedback=feedback)
        results = evaluate(response, ids, kwargs, gold.prompt, loose=self.loose)
        followed = sum(r.followed for r in results)
        score = followed / len(results) if results else 1.0
        if "answer" in (pred_name or "").split("."):
            feedback = self._draft_feedback(gold, pred, pred_trace, ids, kwargs, results)
        else:
            feedback = self._final_feedback(ids, kwargs, results, followed)
        return dspy.Prediction(score=score, feedback=feedback)

    def _final_feedback(self, ids: list[str], kwargs: list[Any], results: list[ConstraintResult], followed: int) -> str:
        head = f"The response followed {followed} of {len(ids)} constraints ({self.rule} check)."
        tail = ("" if followed == len(ids) else
                "\nRevise the response so that every constraint holds exactly as stated, while it still answers the prompt.")
        return "\n".join([head, *constraint_lines(results, kwargs)]) + tail

    def _draft_feedback(self, gold: Any, pred: Any, pred_trace: Any, ids: list[str], kwargs: list[Any],
                        final: list[ConstraintResult]) -> str:
        draft = self._stage_output(pred_trace)
        if draft is None:
            draft = _field(pred, "draft_response")
        final_followed = sum(r.followed for r in final)
        lines = []
        if isinstance(draft, str) and draft.strip():
            drafted = evaluate(draft, ids, kwargs, gold.prompt, loose=self.loose)
            lines.append(f"Your draft followed {sum(r.followed for r in drafted)} of {len(ids)} constraints "
                         f"({self.rule} check):")
            lines += constraint_lines(drafted, kwargs)
        else:
            lines.append("Your draft was empty.")
        lines.append(f"After the rewrite stage, the final response followed {final_followed} of {len(ids)}.")
        lines.append("A draft that already answers correctly in the required form makes the rewrite's job easy.")
        return "\n".join(lines)

    @staticmethod
    def _stage_output(pred_trace: Sequence[Any] | None) -> str | None:
        if not pred_trace:
            return None
        entry = pred_trace[-1]
        outputs = entry[2] if isinstance(entry, (tuple, list)) and len(entry) >= 3 else None
        value = _field(outputs, "response")
        return value if isinstance(value, str) else None


def make_metric(loose: bool = True) -> IFBenchMetric:
    """The IFBench metric with the loose (default) or strict rule."""
    return IFBenchMetric(loose=loose)


#: The default metric (loose rule).
metric = make_metric(loose=True)
