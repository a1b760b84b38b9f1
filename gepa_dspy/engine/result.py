"""What a finished search returns (``SearchResult``)."""

from __future__ import annotations

from dataclasses import dataclass

from .candidate import Candidate
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

    @property
    def best_index(self) -> int:
        return self.pool.best_index()

    @property
    def best_candidate(self) -> Candidate:
        return self.pool.candidates[self.best_index]
