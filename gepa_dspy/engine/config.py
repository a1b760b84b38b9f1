"""The settings of one search (``SearchConfig``)."""

from __future__ import annotations

from dataclasses import dataclass

from .racing import VAL_POLICIES

PARALLEL_PROPOSAL_MODES = ("independent", "prefetch")
#: Modes that existed once, and why they are gone (the measurements are in docs/orchestration.md).
REMOVED_PARALLEL_PROPOSAL_MODES = {
    "speculative": "it took the same decisions as \"prefetch\" but paid for every discarded child, and the committed "
                   "measurements found it no faster than \"independent\" and worse in quality than both (mean best val "
                   "over seeds 0-9 at k=2: 0.675 against 0.738 for prefetch; with 80% rejected proposals 0.394 against "
                   "0.412 for prefetch and 0.422 for independent); use \"prefetch\" for the sequential loop's decisions",
}


def check_parallel_proposal_mode(mode: str) -> None:
    """Refuse an unknown mode, and say why a removed one is gone and what to use instead."""
    if mode in REMOVED_PARALLEL_PROPOSAL_MODES:
        raise ValueError(f"parallel_proposal_mode={mode!r} was removed: {REMOVED_PARALLEL_PROPOSAL_MODES[mode]}")
    if mode not in PARALLEL_PROPOSAL_MODES:
        raise ValueError(f"parallel_proposal_mode must be one of {PARALLEL_PROPOSAL_MODES}, got {mode!r}")


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
    #: How the proposals of a round relate (only with ``num_parallel_proposals`` > 1; see parallel.py):
    #: ``"independent"``: all are drawn from the pool at the start of the round and all winners join it;
    #: ``"prefetch"``: proposal j assumes proposals 1..j-1 are rejected and runs only its parent minibatch and
    #: reflection ahead; its child minibatch waits until proposals 1..j-1 know their minibatch verdicts, and it is
    #: discarded (its draws undone) when one of them won, so the search takes the sequential loop's decisions.
    #: A discarded proposal has paid for its parent runs only (cached, so free if drawn again).
    parallel_proposal_mode: str = "independent"
    #: With held-out selection (the search's ``holdout_ids``), how many of the best candidates by validation
    #: mean are run on the held-out examples at the end; the best there is returned.
    holdout_top_k: int = 3
    #: How a child that won its minibatch is scored on the valset: ``"full"`` (the paper: every example) or
    #: ``"racing"`` (informative examples first, in chunks of ``racing_chunk_size``; stopped once the child leads
    #: nowhere and a one-sided sign test at ``racing_significance`` says it lost to its parent; see racing.py).
    val_policy: str = "full"
    racing_chunk_size: int = 4
    racing_significance: float = 0.05
    #: Stop rules besides the budget (None: off), checked before every round (see ``engine.stopping``): wall time
    #: of this run; iterations since the best validation mean last rose; a best validation mean to reach.
    timeout_seconds: float | None = None
    max_iterations_without_improvement: int | None = None
    score_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.num_parallel_proposals < 1:
            raise ValueError(f"num_parallel_proposals must be >= 1, got {self.num_parallel_proposals}")
        check_parallel_proposal_mode(self.parallel_proposal_mode)
        if self.val_policy not in VAL_POLICIES:
            raise ValueError(f"val_policy must be one of {VAL_POLICIES}, got {self.val_policy!r}")
        if self.racing_chunk_size < 1 or not 0 < self.racing_significance < 1:
            raise ValueError("racing_chunk_size must be >= 1 and racing_significance in (0, 1)")
        if self.holdout_top_k < 1:
            raise ValueError(f"holdout_top_k must be >= 1, got {self.holdout_top_k}")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, got {self.timeout_seconds}")
        if self.max_iterations_without_improvement is not None and self.max_iterations_without_improvement < 1:
            raise ValueError(f"max_iterations_without_improvement must be >= 1, got {self.max_iterations_without_improvement}")
