"""The settings of one search (``SearchConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .racing import VAL_POLICIES

PARALLEL_PROPOSAL_MODES = ("independent", "prefetch")
#: Modes that existed once, and why they are gone (the measurements are in docs/orchestration.md).
REMOVED_PARALLEL_PROPOSAL_MODES = {
    "speculative": "it took the same decisions as \"prefetch\" but paid for every discarded child. In the committed "
                   "measurements (docs/orchestration.md) it found worse programs than \"prefetch\" every time (mean "
                   "best val over seeds 0-9: 0.675 against 0.738 at k=2, 0.609 against 0.666 at k=3, 0.394 against "
                   "0.412 with 80% of proposals rejected), and was no faster than \"independent\" beyond run-to-run "
                   "noise (wall time against dspy.GEPA's at k=2: 0.61x against 0.55x; with 80% rejected 0.46x against "
                   "0.47x). Use \"prefetch\" for the sequential loop's decisions, or \"independent\" for speed",
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
    #: Training examples per reflection minibatch (the parent and the child both run on them).
    minibatch_size: int = 3
    #: The score that counts as perfect; with ``skip_perfect_score`` a parent perfect on its minibatch is not
    #: reflected on.
    perfect_score: float = 1.0
    skip_perfect_score: bool = True
    #: Seeds parent selection, minibatches and merges.
    seed: int = 0
    #: This many runs failing in a row with LM errors stop the search (``LMUnavailableError``), state saved.
    max_consecutive_lm_failures: int = 20

    #: Stop rules besides the budget, checked before every iteration (see ``engine.stopping``). Optional ones
    #: (None: off): wall time of this run; iterations since the best validation mean last rose; a best validation
    #: mean to reach. Always on: stop when ``max_stalled_iterations`` iterations in a row tested no new candidate
    #: (the parent was already perfect, every proposal was a duplicate, or the reflection LM kept failing): such a
    #: search has saturated or is stuck, and once its runs are cached it would spin forever without spending budget.
    timeout_seconds: float | None = None
    max_iterations_without_improvement: int | None = None
    score_threshold: float | None = None
    max_stalled_iterations: int = 20

    #: Merges (the paper's Algorithm 4): at most ``max_merge_invocations``, each judged on a validation
    #: subsample of ``merge_subsample_size`` examples (see merge_scheduler.py).
    use_merge: bool = True
    max_merge_invocations: int = 5
    merge_subsample_size: int = 5

    #: Proposals per round (1 = the paper's sequential loop, and the default). With k > 1 (opt-in, parallel.py),
    #: k iterations are drawn in order, run concurrently and committed in that order. The evaluator's own
    #: concurrency limit still applies to all of them.
    num_parallel_proposals: int = 1
    #: How the proposals of a round relate (only with ``num_parallel_proposals`` > 1; see parallel.py):
    #: ``"independent"``: all are drawn from the pool at the start of the round and all winners join it (they do
    #: not see each other's acceptance); ``"prefetch"``: proposal j assumes proposals 1..j-1 are rejected and runs
    #: only its parent minibatch and reflection ahead; its child minibatch waits until proposals 1..j-1 know their
    #: minibatch verdicts, and it is discarded (its draws undone) when one of them won, so the search takes the
    #: sequential loop's decisions. A discarded proposal has paid for its parent runs only (cached, so free if
    #: drawn again).
    parallel_proposal_mode: Literal["independent", "prefetch"] = "independent"

    #: How a child that won its minibatch is scored on the valset: ``"full"`` (the paper: every example) or
    #: ``"racing"`` (informative examples first, in chunks of ``racing_chunk_size``; stopped once the child leads
    #: nowhere and a one-sided sign test at ``racing_significance`` says it lost to its parent; see racing.py).
    val_policy: Literal["full", "racing"] = "full"
    racing_chunk_size: int = 4
    racing_significance: float = 0.05
    #: With held-out selection (the search's ``holdout_ids``), how many of the best candidates by validation
    #: mean are run on the held-out examples at the end; the best there is returned.
    holdout_top_k: int = 3

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
