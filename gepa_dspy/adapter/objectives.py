"""Per-objective results, when the metric reports ``objective_scores`` besides its score (as in ``dspy.GEPA``).

A metric may return ``dspy.Prediction(score=..., feedback=..., objective_scores={"accuracy": 1.0, "brevity":
0.4})``. The search selects by ``score`` alone, as ``dspy.GEPA`` does with its default per-example frontier; the
objectives are summarised for every candidate from its validation runs:

- ``val_aggregate_subscores[i]``: candidate i's mean of each objective over the validation examples that
  reported it;
- ``objective_pareto_front``: the best of those means for each objective;
- ``per_objective_best_candidates``: for each objective, the candidates that reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.evaluation_cache import OutcomeLookup
from ..engine.candidate import candidate_key
from ..engine.search_result import SearchResult


@dataclass
class ObjectiveSummary:
    """The per-objective figures ``DetailedResults`` reports (see the module docstring)."""

    val_aggregate_subscores: list[dict[str, float]]
    objective_pareto_front: dict[str, float]
    per_objective_best_candidates: dict[str, set[int]]


def objective_summary(result: SearchResult, lookup: OutcomeLookup) -> ObjectiveSummary | None:
    """The summary over the pool's validation runs, or None when the metric reported no objective."""
    aggregates: list[dict[str, float]] = []
    for candidate in result.pool.candidates:
        key = candidate_key(candidate)
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        for example_id in result.val_ids:
            outcome = lookup(key, example_id)
            for name, value in (outcome.objectives if outcome is not None else {}).items():
                totals[name] = totals.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
        aggregates.append({name: totals[name] / counts[name] for name in totals})
    if not any(aggregates):
        return None
    front: dict[str, float] = {}
    best: dict[str, set[int]] = {}
    for i, means in enumerate(aggregates):
        for name, value in means.items():
            if name not in front or value > front[name]:
                front[name], best[name] = value, {i}
            elif value == front[name]:
                best[name].add(i)
    return ObjectiveSummary(aggregates, front, best)
