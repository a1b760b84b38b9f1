"""System-aware crossover: combine two descendants of a common ancestor, predictor by predictor."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .candidate import Candidate, candidate_key
from .pool import CandidatePool


@dataclass(frozen=True)
class MergePlan:
    """Two pool candidates, their common ancestor, and the crossover of the two."""

    left: int
    right: int
    ancestor: int
    merged: Candidate


def crossover(ancestor: Candidate, left: Candidate, right: Candidate, left_score: float, right_score: float) -> Candidate:
    """Per component, take the side that changed it from the ancestor; when both did, the higher-scoring side
    (ties: left); when neither did, the ancestor's text."""
    merged: Candidate = {}
    for name, base in ancestor.items():
        l_changed, r_changed = left[name] != base, right[name] != base
        if l_changed and r_changed:
            merged[name] = left[name] if left_score >= right_score else right[name]
        elif r_changed:
            merged[name] = right[name]
        else:
            merged[name] = left[name]
    return merged


def find_merge(pool: CandidatePool, rng: random.Random, tried: set[tuple[int, int, int]], max_pairs: int = 20) -> MergePlan | None:
    """Find an untried (left, right, ancestor) triplet among Pareto candidates whose crossover is new.

    Requirements: neither candidate descends from the other, the ancestor is common to both and
    scores no better than either, and the crossover differs from both and from every pool member.
    """
    front = sorted(pool.pareto_set())
    if len(front) < 2:
        return None
    agg = pool.aggregate_scores()
    pairs = [(a, b) for i, a in enumerate(front) for b in front[i + 1 :]]
    rng.shuffle(pairs)
    known = {candidate_key(c) for c in pool.candidates}
    for left, right in pairs[:max_pairs]:
        left_anc, right_anc = pool.ancestors(left), pool.ancestors(right)
        if left in right_anc or right in left_anc:
            continue
        common = sorted(a for a in left_anc & right_anc if agg[a] <= min(agg[left], agg[right]))
        rng.shuffle(common)
        for ancestor in common:
            if (left, right, ancestor) in tried:
                continue
            merged = crossover(pool.candidates[ancestor], pool.candidates[left], pool.candidates[right], agg[left], agg[right])
            if candidate_key(merged) in known:
                tried.add((left, right, ancestor))
                continue
            return MergePlan(left, right, ancestor, merged)
    return None


def stratified_subsample(left_scores: list[float], right_scores: list[float], size: int, rng: random.Random) -> list[int]:
    """Validation positions balanced between where left wins, where right wins, and ties."""
    groups: list[list[int]] = [[], [], []]
    for j, (a, b) in enumerate(zip(left_scores, right_scores)):
        groups[0 if a > b else 1 if b > a else 2].append(j)
    for g in groups:
        rng.shuffle(g)
    chosen: list[int] = []
    while len(chosen) < min(size, len(left_scores)):
        for g in groups:
            if g and len(chosen) < size:
                chosen.append(g.pop())
    return sorted(chosen)
