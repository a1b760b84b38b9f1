"""The feedback-metric protocol: normalise whatever a metric returns into (score, feedback)."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Mapping

import dspy


class ScoreWithFeedback(dspy.Prediction):
    """What a feedback metric returns: ``ScoreWithFeedback(score=0.5, feedback="...")``.

    A ``dspy.Prediction``, so DSPy's ``Evaluate`` and other optimizers can read ``.score`` too.
    """

    def __init__(self, score: float, feedback: str | None = None, **kwargs: Any) -> None:
        super().__init__(score=score, feedback=feedback, **kwargs)


class MetricReturnError(TypeError):
    """The metric returned something that is not a score (a programming mistake in the metric)."""


def normalize_metric_result(result: Any, perfect_score: float, where: str) -> tuple[float, str | None]:
    """(score, feedback or None) from a metric's return value, or a clear error naming the example.

    Accepted: any finite real number (Python or numpy, negative too) or bool; a ``dspy.Prediction`` / object with ``.score`` (and optionally
    ``.feedback``); a dict with ``"score"`` (and optionally ``"feedback"``).
    """
    feedback: Any = None
    raw = result
    if isinstance(result, dict):
        if "score" not in result:
            raise MetricReturnError(f"metric returned a dict without a 'score' key {where}: {result!r}")
        raw, feedback = result["score"], result.get("feedback")
    elif not isinstance(result, (Real, bool)) and hasattr(result, "score"):
        raw, feedback = result.score, getattr(result, "feedback", None)
    if type(raw).__module__ == "numpy" and hasattr(raw, "item") and getattr(raw, "ndim", 1) == 0:
        raw = raw.item()  # numpy scalars (np.bool_, np.float32, np.int64, 0-d arrays) as Python numbers
    if isinstance(raw, bool):
        raw = float(raw)
    if not isinstance(raw, Real) or isinstance(raw, complex):
        raise MetricReturnError(
            f"metric must return a number or dspy.Prediction(score=..., feedback=...); got {type(result).__name__} "
            f"{result!r:.200} {where}"
        )
    score = float(raw)
    if math.isnan(score) or math.isinf(score):
        raise MetricReturnError(f"metric returned a non-finite score {score} {where}")
    # Any finite number is a score, as in dspy.GEPA (negative rewards included); perfect_score only marks the
    # minibatches reflection may skip.
    if feedback is not None and not isinstance(feedback, str):
        feedback = str(feedback)
    return score, (feedback or None)


def objective_scores_of(result: Any, where: str) -> dict[str, float]:
    """The ``objective_scores`` a metric result carries (``{name: number}``, as ``dspy.GEPA`` reads them), or {}.

    They are reported per candidate in ``detailed_results``; the search itself uses ``score`` only.
    """
    if isinstance(result, dict):
        raw = result.get("objective_scores")
    elif isinstance(result, (Real, bool)):
        return {}
    else:
        raw = getattr(result, "objective_scores", None)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise MetricReturnError(f"metric returned objective_scores of type {type(raw).__name__}, not a dict "
                                f"{{name: number}}, {where}")
    objectives: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
            raise MetricReturnError(f"metric returned objective_scores[{name!r}] = {value!r}, not a finite number, {where}")
        objectives[str(name)] = float(value)
    return objectives


def generic_feedback(score: float, perfect_score: float) -> str:
    """The sentence used when a metric gives a score but no feedback."""
    return f"This run scored {score:g} out of {perfect_score:g}."
