"""Pareto bookkeeping over per-example validation scores.

For every validation example, the *front* is the set of candidates that reach the best score on it.
A candidate is dominated when every front it belongs to also contains some other surviving
candidate; dominated candidates are removed one at a time until none is left, and the survivors are
sampled in proportion to the number of examples on which they lead.
"""

from __future__ import annotations

import random
from typing import Sequence


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


def selection_probabilities(score_table: Sequence[Sequence[float]], aggregate: Sequence[float]) -> dict[int, float]:
    """Probability of each candidate being picked as parent by Pareto selection."""
    fronts = per_instance_fronts(score_table)
    survivors = non_dominated(fronts, aggregate)
    counts = leader_counts(fronts, survivors)
    total = sum(counts.values())
    return {c: n / total for c, n in sorted(counts.items())} if total else {}


def sample_pareto_parent(score_table: Sequence[Sequence[float]], aggregate: Sequence[float], rng: random.Random) -> int:
    """Draw one parent index with probability proportional to its number of led examples."""
    probs = selection_probabilities(score_table, aggregate)
    ids = list(probs)
    return rng.choices(ids, weights=[probs[i] for i in ids], k=1)[0]
