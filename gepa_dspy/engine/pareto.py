"""Pareto bookkeeping over per-example validation scores.

For every validation example, the *front* is the set of candidates that reach the best score on it.
A candidate is dominated when every front it belongs to also contains some other surviving
candidate; dominated candidates are removed one at a time until none is left, and the survivors are
sampled in proportion to the number of examples on which they lead.
"""

from __future__ import annotations

import random
from typing import Mapping, Sequence

#: What a Pareto front is kept over (``frontier_type``, as in dspy.GEPA): ``instance``, one front per validation
#: example (the paper's); ``objective``, one per objective the metric reports (the candidates with the best mean
#: of it); ``hybrid``, both; ``cartesian``, one per (validation example, objective) pair.
FRONTIER_TYPES = ("instance", "objective", "hybrid", "cartesian")


def per_instance_fronts(score_table: Sequence[Sequence[float]]) -> list[set[int]]:
    """For each example (column) the set of candidate indices (rows) with the best score there."""
    if not score_table:
        return []
    n_examples = len(score_table[0])
    fronts: list[set[int]] = []
    for j in range(n_examples):
        best = max(row[j] for row in score_table)
        fronts.append({i for i, row in enumerate(score_table) if row[j] == best})
    return fronts


def objective_fronts(objective_table: Sequence[Sequence[Mapping[str, float]]]) -> list[set[int]]:
    """Per objective, the candidates with the best mean of it over the validation examples that reported it
    (``objective_table[i][j]``: candidate i's objectives on example j). Sorted by objective name."""
    means: dict[str, dict[int, float]] = {}
    for i, row in enumerate(objective_table):
        totals: dict[str, list[float]] = {}
        for scores in row:
            for name, value in scores.items():
                totals.setdefault(name, []).append(value)
        for name, values in totals.items():
            means.setdefault(name, {})[i] = sum(values) / len(values)
    fronts = []
    for name in sorted(means):
        best = max(means[name].values())
        fronts.append({i for i, m in means[name].items() if m == best})
    return fronts


def cartesian_fronts(objective_table: Sequence[Sequence[Mapping[str, float]]]) -> list[set[int]]:
    """Per (validation example, objective) pair, the candidates with the best value there."""
    best: dict[tuple[int, str], tuple[float, set[int]]] = {}
    for i, row in enumerate(objective_table):
        for j, scores in enumerate(row):
            for name, value in scores.items():
                key = (j, name)
                if key not in best or value > best[key][0]:
                    best[key] = (value, {i})
                elif value == best[key][0]:
                    best[key][1].add(i)
    return [best[key][1] for key in sorted(best)]


def frontier_fronts(frontier_type: str, score_table: Sequence[Sequence[float]],
                    objective_table: Sequence[Sequence[Mapping[str, float]]] | None = None) -> list[set[int]]:
    """The fronts parent selection samples from, for a ``frontier_type`` (see ``FRONTIER_TYPES``)."""
    if frontier_type not in FRONTIER_TYPES:
        raise ValueError(f"frontier_type must be one of {FRONTIER_TYPES}, got {frontier_type!r}")
    if frontier_type == "instance":
        return per_instance_fronts(score_table)
    if not objective_table or not any(scores for row in objective_table for scores in row):
        raise ValueError(f"frontier_type={frontier_type!r} needs a metric that returns objective_scores "
                         f"(dspy.Prediction(score=..., objective_scores={{name: value}})); none were reported. "
                         f"Use frontier_type='instance' otherwise.")
    if frontier_type == "objective":
        return objective_fronts(objective_table)
    if frontier_type == "hybrid":
        return per_instance_fronts(score_table) + objective_fronts(objective_table)
    return cartesian_fronts(objective_table)


def _is_dominated(candidate: int, survivors: set[int], fronts: Sequence[set[int]]) -> bool:
    """True when every front holding ``candidate`` also holds another survivor."""
    held = [front for front in fronts if candidate in front]
    if not held:
        return True
    return all(any(other != candidate and other in survivors for other in front) for front in held)


def non_dominated(fronts: Sequence[set[int]], aggregate: Sequence[float]) -> set[int]:
    """Candidates left after iteratively removing dominated ones.

    Removal goes from the lowest aggregate score up (ties: the later candidate first), so when two
    candidates lead on exactly the same examples the stronger, older one is the one that stays.
    """
    survivors = set().union(*fronts) if fronts else set()
    changed = True
    while changed:
        changed = False
        for cand in sorted(survivors, key=lambda c: (aggregate[c], -c)):
            if len(survivors) > 1 and _is_dominated(cand, survivors, fronts):
                survivors.discard(cand)
                changed = True
                break
    return survivors


def leader_counts(fronts: Sequence[set[int]], survivors: set[int]) -> dict[int, int]:
    """How many examples each survivor leads on (belongs to the front of)."""
    counts = {c: 0 for c in survivors}
    for front in fronts:
        for c in front:
            if c in counts:
                counts[c] += 1
    return counts


def selection_probabilities(score_table: Sequence[Sequence[float]], aggregate: Sequence[float],
                            fronts: Sequence[set[int]] | None = None) -> dict[int, float]:
    """Probability of each candidate being picked as parent by Pareto selection (over ``fronts``; by default the
    per-example fronts of ``score_table``)."""
    fronts = per_instance_fronts(score_table) if fronts is None else fronts
    survivors = non_dominated(fronts, aggregate)
    counts = leader_counts(fronts, survivors)
    total = sum(counts.values())
    return {c: n / total for c, n in sorted(counts.items())} if total else {}


def sample_pareto_parent(score_table: Sequence[Sequence[float]], aggregate: Sequence[float], rng: random.Random,
                         fronts: Sequence[set[int]] | None = None) -> int:
    """Draw one parent index with probability proportional to its number of led fronts."""
    probs = selection_probabilities(score_table, aggregate, fronts)
    ids = list(probs)
    return rng.choices(ids, weights=[probs[i] for i in ids], k=1)[0]
