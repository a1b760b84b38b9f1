"""What a finished search returns (``SearchResult``)."""

from __future__ import annotations

from dataclasses import dataclass

from .candidate import Candidate
from .holdout_selection import HoldoutSelection
from .pool import CandidatePool
from .records import IterationRecord


@dataclass
class SearchResult:
    """Everything the search produced."""

    pool: CandidatePool
    history: list[IterationRecord]
    metric_calls: int
    cache_hits: int
    num_full_val_evals: int
    stop_reason: str
    counters: dict[str, int]
    curve: list[tuple[int, float]]
    val_ids: list[str]
    #: Held-out selection's finalists and scores, when the search had held-out examples.
    holdout: HoldoutSelection | None = None

    @property
    def best_index(self) -> int:
        """The returned candidate: chosen on the held-out examples if there were any, else the best val mean."""
        return self.holdout.chosen if self.holdout is not None else self.pool.best_index()

    @property
    def best_candidate(self) -> Candidate:
        return self.pool.candidates[self.best_index]
