"""When the search tries a merge, and which one (the paper's Algorithm 4 schedule).

Every reflection child that joins the pool makes one merge due, up to ``max_invocations`` merges in all; a due
merge is tried before the next reflection, if the pool holds a pair worth merging (``merge.find_merge``). The
schedule is part of the search state: it is saved in checkpoints and restored on resume.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from .merge import MergePlan, find_merge, stratified_subsample
from .pool import CandidatePool


@dataclass
class MergeScheduler:
    """How many merges are due and tried, and which (left, right, ancestor) triplets were already tried."""

    enabled: bool
    max_invocations: int
    subsample_size: int
    due: int = 0
    attempts: int = 0
    tried: set[tuple[int, int, int]] = field(default_factory=set)

    def draw(self, pool: CandidatePool, rng: random.Random) -> tuple[MergePlan, list[int]] | None:
        """The merge to try now and the validation positions it is judged on, or None when no merge is due or
        the pool holds no untried pair (then the iteration is a reflection and the merge stays due)."""
        if not (self.enabled and self.due > 0 and self.attempts < self.max_invocations):
            return None
        plan = find_merge(pool, rng, self.tried)
        if plan is None:
            return None
        positions = stratified_subsample(pool.val_scores[plan.left], pool.val_scores[plan.right], self.subsample_size, rng)
        return plan, positions

    def started(self, plan: MergePlan) -> None:
        """The drawn merge became an iteration: it is no longer due, and its triplet is never tried again."""
        self.due -= 1
        self.attempts += 1
        self.tried.add((plan.left, plan.right, plan.ancestor))

    def reflection_child_added(self) -> None:
        """A reflection child joined the pool: one more merge is due, while the invocation limit allows it."""
        if self.enabled and self.attempts + self.due < self.max_invocations:
            self.due += 1

    def state_dict(self) -> dict[str, Any]:
        return {"due": self.due, "attempts": self.attempts, "tried": sorted(self.tried)}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        self.due, self.attempts = int(data["due"]), int(data["attempts"])
        self.tried = {_triplet(t) for t in data["tried"]}


def _triplet(values: Sequence[Any]) -> tuple[int, int, int]:
    left, right, ancestor = values
    return int(left), int(right), int(ancestor)
