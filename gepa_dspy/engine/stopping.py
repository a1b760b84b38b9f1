"""Stop rules besides the budget (``SearchConfig``'s ``timeout_seconds``, ``max_iterations_without_improvement``,
``score_threshold``): asked before every round, each gives the reason it stops the search, or None.

They are computed from the persisted search state (iteration count, history, pool), so a resumed search decides
exactly as an uninterrupted one; only the timeout counts from the start of this ``run`` call.
"""

from __future__ import annotations

from typing import Sequence

from .config import SearchConfig
from .pool import CandidatePool
from .records import IterationRecord


def iterations_without_improvement(iteration: int, history: Sequence[IterationRecord], pool: CandidatePool) -> int:
    """Iterations since the best mean validation score last rose (the seed's score counts as iteration 0)."""
    aggregate = pool.aggregate_scores()
    if not aggregate:
        return 0
    best, improved_at = aggregate[0], 0
    for record in history:
        new = record.new_candidate_id
        if new is not None and new < len(aggregate) and aggregate[new] > best:
            best, improved_at = aggregate[new], record.iteration
    return iteration - improved_at


def stop_rule_reason(config: SearchConfig, elapsed_seconds: float, iteration: int,
                     history: Sequence[IterationRecord], pool: CandidatePool) -> str | None:
    if config.timeout_seconds is not None and elapsed_seconds >= config.timeout_seconds:
        return f"timeout: {elapsed_seconds:.1f} s >= timeout_seconds={config.timeout_seconds:g}"
    if config.score_threshold is not None and pool.candidates:
        best = max(pool.aggregate_scores())
        if best >= config.score_threshold:
            return f"score threshold reached: best validation mean {best:.4f} >= {config.score_threshold:g}"
    if config.max_iterations_without_improvement is not None:
        stale = iterations_without_improvement(iteration, history, pool)
        if stale >= config.max_iterations_without_improvement:
            return (f"no improvement: the best validation mean has not risen for {stale} iterations "
                    f"(max_iterations_without_improvement={config.max_iterations_without_improvement})")
    return None
