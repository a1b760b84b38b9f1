"""Held-out selection: choose the returned candidate on examples the search never saw.

The search ranks candidates by their mean on the validation set, the same set that decided which children
joined the pool, so the best validation mean is biased upwards (the winner's curse). With a selection set,
the ``top_k`` candidates by validation mean (the finalists) are each run on the held-out examples once the
search ends, and the one with the best held-out mean is returned (ties: the better validation mean, then the
earlier candidate). The runs are paid like any other, inside the same budget: the search keeps back the
finalists' worst-case cost from the start (:func:`reserve`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .candidate import Candidate
from .pool import CandidatePool
from .records import Outcome


@dataclass
class HoldoutSelection:
    """The finalists' scores on the selection set and the candidate chosen on them."""

    example_ids: list[str]
    #: Candidate indices in validation rank order (best first).
    finalists: list[int] = field(default_factory=list)
    #: Per finalist that could be paid for, its score on every selection example (in ``example_ids`` order).
    scores: dict[int, list[float]] = field(default_factory=dict)
    #: The candidate returned: the best held-out mean among the scored finalists.
    chosen: int = 0

    def means(self) -> dict[int, float]:
        return {i: sum(row) / len(row) for i, row in self.scores.items() if row}

    def to_dict(self) -> dict:
        return {"example_ids": self.example_ids, "finalists": self.finalists,
                "scores": {str(i): row for i, row in self.scores.items()}, "chosen": self.chosen}


def reserve(top_k: int, num_examples: int) -> int:
    """Metric calls the search keeps back so that every finalist can be run on the selection set."""
    return top_k * num_examples


def finalists(pool: CandidatePool, top_k: int) -> list[int]:
    """The ``top_k`` candidates by validation mean, best first (ties: the earlier candidate)."""
    means = pool.aggregate_scores()
    ranked = sorted(range(len(means)), key=lambda i: (-means[i], i))
    return ranked[:top_k]


def select_on_holdout(
    pool: CandidatePool,
    example_ids: Sequence[str],
    top_k: int,
    evaluate: Callable[[Candidate, Sequence[str]], list[Outcome]],
    cost: Callable[[Candidate, Sequence[str]], int],
    remaining: Callable[[], int],
) -> HoldoutSelection:
    """Run the finalists on ``example_ids`` (best validation rank first) and choose among them.

    ``evaluate`` pays for runs (cached ones are free), ``cost`` says how many runs a candidate still needs and
    ``remaining`` how many metric calls are left. A finalist whose runs no longer fit (only possible when a
    resumed search got a smaller budget) is left out; if none fits, the best validation candidate is chosen.
    """
    selection = HoldoutSelection(example_ids=list(example_ids), finalists=finalists(pool, top_k))
    for index in selection.finalists:
        candidate = pool.candidates[index]
        if cost(candidate, example_ids) > remaining():
            break
        selection.scores[index] = [o.score for o in evaluate(candidate, example_ids)]
    means = selection.means()
    val_means = pool.aggregate_scores()
    if means:
        selection.chosen = max(means, key=lambda i: (means[i], val_means[i], -i))
    else:
        selection.chosen = pool.best_index()
    return selection
