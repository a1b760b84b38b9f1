"""Racing validation: score a new child on the valset in an informative order and stop once it has lost.

In the paper's loop every child that wins its minibatch is scored on the whole valset. With
``val_policy="racing"`` the child is scored in chunks, most informative examples first, and the scoring stops
early (the child is *raced out* and does not join the pool) when both hold:

1. **It leads nowhere.** On no example seen so far is it strictly better than every candidate in the pool, so
   it has not shown that it would add anything to the Pareto front.
2. **It has lost to its parent, by a one-sided sign test.** Over the examples seen where child and parent
   differ (``m`` of them), the child won ``k``. If the child were at least as likely as its parent to win such
   an example, seeing ``k`` or fewer wins would have probability ``P(Binomial(m, 1/2) <= k)``; the child is
   raced out when that is at most ``significance`` (default 0.05). Ties carry no evidence and are left out.

A child that keeps either door open is scored on every validation example, so the pool only ever holds fully
scored candidates: Pareto selection, merge and the best-candidate choice work exactly as without racing.
A raced-out child's runs stay paid and cached (and journaled), so a resumed search decides the same way.

The order: first the examples where the parent is furthest below the best score in the pool (where the child
can show progress), then those whose best score is held by the fewest candidates (where leading counts most),
then the rest in valset order.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Callable, Sequence

from .pareto import per_instance_fronts

#: The policies for scoring a child that won its minibatch on the valset.
VAL_POLICIES = ("full", "racing")


@dataclass
class RaceResult:
    """The child's validation scores (in valset order) if it stayed in the race, else where it stopped."""

    scores: list[float] | None
    examples_seen: int
    child_wins: int
    child_losses: int
    p_value: float

    @property
    def raced_out(self) -> bool:
        return self.scores is None


def racing_order(score_table: Sequence[Sequence[float]], parent: int) -> list[int]:
    """Validation positions in the order a child of ``parent`` is scored on them."""
    fronts = per_instance_fronts(score_table)
    parent_row = score_table[parent]
    best = [max(row[j] for row in score_table) for j in range(len(parent_row))]
    return sorted(range(len(parent_row)), key=lambda j: (-(best[j] - parent_row[j]), len(fronts[j]), j))


def sign_test_p_value(wins: int, losses: int) -> float:
    """``P(Binomial(wins + losses, 1/2) <= wins)``: how surprising so few wins are for a child as good as its parent."""
    m = wins + losses
    if m == 0:
        return 1.0
    return sum(comb(m, i) for i in range(wins + 1)) / 2 ** m


def race(
    score_table: Sequence[Sequence[float]],
    parent: int,
    evaluate: Callable[[list[int]], list[float]],
    chunk_size: int,
    significance: float,
) -> RaceResult:
    """Score a child of ``parent`` chunk by chunk; ``evaluate(positions)`` pays for and returns its scores there."""
    order = racing_order(score_table, parent)
    parent_row = score_table[parent]
    pool_best = [max(row[j] for row in score_table) for j in range(len(parent_row))]
    seen: dict[int, float] = {}
    wins = losses = 0
    leads = False
    p_value = 1.0
    for start in range(0, len(order), chunk_size):
        chunk = order[start:start + chunk_size]
        for j, score in zip(chunk, evaluate(chunk)):
            seen[j] = score
            wins += score > parent_row[j]
            losses += score < parent_row[j]
            leads = leads or score > pool_best[j]
        p_value = sign_test_p_value(wins, losses)
        if len(seen) < len(order) and not leads and p_value <= significance:
            return RaceResult(None, len(seen), wins, losses, p_value)
    return RaceResult([seen[j] for j in range(len(order))], len(seen), wins, losses, p_value)
