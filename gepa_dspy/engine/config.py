"""The settings of one search (``SearchConfig``)."""

from __future__ import annotations

from dataclasses import dataclass

from .racing import VAL_POLICIES

PARALLEL_MODES = ("independent", "speculative", "prefetch")
#: The modes whose rounds take exactly the sequential loop's decisions (later proposals assume earlier ones lose).
SEQUENTIAL_DECISION_MODES = ("speculative", "prefetch")


@dataclass
class SearchConfig:
    """Settings of one search. ``max_metric_calls`` counts paid program runs (cache hits are free)."""

    max_metric_calls: int
    minibatch_size: int = 3
    perfect_score: float = 1.0
    skip_perfect_score: bool = True
    use_merge: bool = True
    max_merge_invocations: int = 5
    merge_subsample_size: int = 5
    seed: int = 0
    max_consecutive_lm_failures: int = 20
    #: Stop when this many iterations in a row tested no new candidate (the parent was already perfect,
    #: every proposal was a duplicate, or the reflection LM kept failing): such a search has saturated or
    #: is stuck, and once its runs are cached it would spin forever without spending budget.
    max_stalled_iterations: int = 20
    #: Proposals per round (1 = the paper's sequential loop). With k > 1, k parents and minibatches are drawn
    #: in order, the k proposals run concurrently and are accepted in that order; proposals of one round do
    #: not see each other's acceptance. The evaluator's own concurrency limit still applies to all of them.
    num_parallel_proposals: int = 1
    #: How the proposals of a round relate (only with ``num_parallel_proposals`` > 1):
    #: ``"independent"``: all are drawn from the pool at the start of the round and all winners join it;
    #: ``"speculative"``: proposal j assumes proposals 1..j-1 are rejected. The round keeps the proposals up to
    #: the first accepted one and discards the rest (their draws are undone, their paid runs stay paid and
    #: cached), so the search takes exactly the sequential loop's decisions, at the price of discarded runs;
    #: ``"prefetch"``: as ``"speculative"``, but proposal j runs only its parent minibatch and reflection ahead;
    #: its child minibatch waits until proposals 1..j-1 know their minibatch verdicts, and is never run when one
    #: of them won. A discarded proposal has paid for its parent runs only (cached, so free if drawn again).
    parallel_mode: str = "independent"
    #: With held-out selection (the search's ``holdout_ids``), how many of the best candidates by validation
    #: mean are run on the held-out examples at the end; the best there is returned.
    holdout_top_k: int = 3
    #: How a child that won its minibatch is scored on the valset: ``"full"`` (the paper: every example) or
    #: ``"racing"`` (informative examples first, in chunks of ``racing_chunk_size``; stopped once the child leads
    #: nowhere and a one-sided sign test at ``racing_significance`` says it lost to its parent; see racing.py).
    val_policy: str = "full"
    racing_chunk_size: int = 4
    racing_significance: float = 0.05

    def __post_init__(self) -> None:
        if self.num_parallel_proposals < 1:
            raise ValueError(f"num_parallel_proposals must be >= 1, got {self.num_parallel_proposals}")
        if self.parallel_mode not in PARALLEL_MODES:
            raise ValueError(f"parallel_mode must be one of {PARALLEL_MODES}, got {self.parallel_mode!r}")
        if self.val_policy not in VAL_POLICIES:
            raise ValueError(f"val_policy must be one of {VAL_POLICIES}, got {self.val_policy!r}")
        if self.racing_chunk_size < 1 or not 0 < self.racing_significance < 1:
            raise ValueError("racing_chunk_size must be >= 1 and racing_significance in (0, 1)")
        if self.holdout_top_k < 1:
            raise ValueError(f"holdout_top_k must be >= 1, got {self.holdout_top_k}")
