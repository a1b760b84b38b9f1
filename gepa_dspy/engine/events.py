"""Typed events the search emits while it runs, and the dispatcher that hands them to user callbacks.

Pass callbacks as ``GEPA(..., callbacks=[fn, ...])`` (or ``GEPASearch(callbacks=...)``): each is called as
``fn(event)`` with one of the dataclasses below, in the order the search does things. Pick the events you
want with ``isinstance`` (or ``match``). Events of evaluation batches and proposals can come from worker
threads when several proposals or examples run at once; the dispatcher calls one callback at a time.

A callback that raises does not stop the search and loses no work: the error is logged (with its
traceback the first time) and counted in ``counters["callback_errors"]``. Only ``KeyboardInterrupt`` and
other ``BaseException``s that are not ``Exception``s pass through, as they would anywhere else.

Pure Python, no DSPy: the events carry indices, ids, scores and texts only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .candidate import Candidate, candidate_key
from .protocols import Evaluator, OutcomeSink
from .records import IterationRecord, Outcome

logger = logging.getLogger("gepa_dspy")


@dataclass(frozen=True)
class SearchEvent:
    """Base class of every event."""


@dataclass(frozen=True)
class RunStarted(SearchEvent):
    """``compile``/``run`` began (``resumed``: from a checkpoint in ``log_dir``, with ``metric_calls`` already paid)."""

    budget: int
    metric_calls: int
    resumed: bool
    num_train: int
    num_val: int
    log_dir: str | None


@dataclass(frozen=True)
class RunEnded(SearchEvent):
    """The search stopped; the pool is final."""

    stop_reason: str
    metric_calls: int
    budget: int
    num_candidates: int
    best_index: int
    best_score: float


@dataclass(frozen=True)
class IterationEvent(SearchEvent):
    """Base class of the events about one iteration: its number, kind ("reflection" | "merge") and parent(s)."""

    iteration: int
    kind: str
    parent_ids: tuple[int, ...]


@dataclass(frozen=True)
class IterationStarted(IterationEvent):
    """An iteration was drawn: its parent(s) and minibatch (or, for a merge, the subsample)."""

    example_ids: tuple[str, ...]


@dataclass(frozen=True)
class ProposalEvent(SearchEvent):
    """Base class of the events about the proposal for one component in one iteration."""

    iteration: int
    component: str


@dataclass(frozen=True)
class ProposalMade(ProposalEvent):
    """The proposer wrote a new instruction for ``component`` of the parent."""

    text: str
    rejected_attempts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProposalRejected(ProposalEvent):
    """Every attempt to write an instruction for ``component`` was rejected (reasons as counted)."""

    reasons: tuple[str, ...]


@dataclass(frozen=True)
class IterationVerdict(IterationEvent):
    """What a finished iteration's child did on its minibatch (for a merge: the parents' subsample sums)."""

    parent_scores: tuple[float, ...]
    child_scores: tuple[float, ...]
    note: str


@dataclass(frozen=True)
class ChildAccepted(IterationVerdict):
    """The child beat its parent(s) on the minibatch and was scored on the valset; ``CandidateAdded`` follows."""


@dataclass(frozen=True)
class ChildRejected(IterationVerdict):
    """The iteration added no candidate: ``status`` says why ("rejected", "duplicate", "no_proposal", ...)."""

    status: str


@dataclass(frozen=True)
class CandidateAdded(SearchEvent):
    """A candidate joined the pool (index 0 is the seed) with its mean validation score."""

    index: int
    parent_ids: tuple[int, ...]
    origin: str  # "seed" | "reflection" | "merge"
    val_score: float
    metric_calls: int
    best_index: int
    best_score: float


@dataclass(frozen=True)
class MergeAttempted(SearchEvent):
    """A merge of two candidates over a common ancestor was tried; ``status`` is its verdict."""

    iteration: int
    left: int
    right: int
    ancestor: int | None
    status: str


@dataclass(frozen=True)
class EvaluationBatchDone(SearchEvent):
    """Paid runs of one candidate on examples finished (cached runs are free and emit nothing)."""

    candidate_key: str
    example_ids: tuple[str, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class BudgetUpdate(SearchEvent):
    """Metric calls paid so far out of the budget (after every paid batch)."""

    metric_calls: int
    budget: int

    @property
    def remaining(self) -> int:
        return self.budget - self.metric_calls


@dataclass(frozen=True)
class CheckpointSaved(SearchEvent):
    """The search state was written to ``path`` (before every round, with ``log_dir``)."""

    path: str
    iteration: int
    metric_calls: int


Callback = Callable[[SearchEvent], object]


@dataclass
class EventDispatcher:
    """Calls every callback with every event; a failing callback is logged and counted, never fatal."""

    callbacks: Sequence[Callback] = ()
    #: Called once per failed callback call (the search counts it in ``counters["callback_errors"]``).
    on_error: Callable[[], None] | None = None
    errors: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _reported: set[int] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.callbacks = list(self.callbacks)
        for callback in self.callbacks:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables taking one event, got {type(callback).__name__}")

    def __bool__(self) -> bool:
        return bool(self.callbacks)

    def emit(self, event: SearchEvent) -> None:
        if not self.callbacks:
            return
        with self._lock:
            for callback in self.callbacks:
                try:
                    callback(event)
                except Exception:
                    self.errors += 1
                    if self.on_error is not None:
                        self.on_error()
                    first = id(callback) not in self._reported
                    self._reported.add(id(callback))
                    logger.warning(
                        "GEPA: callback %r raised on %s (the search goes on; %d callback error(s) so far)",
                        callback, type(event).__name__, self.errors, exc_info=first,
                    )


def iteration_outcome_events(record: IterationRecord, ancestor: int | None = None) -> list[SearchEvent]:
    """The events that report a finished iteration: the child's verdict, and the merge for a merge."""
    parents, parent_scores, child_scores = tuple(record.parent_ids), tuple(record.parent_scores), tuple(record.child_scores)
    events: list[SearchEvent] = []
    if record.kind == "merge" and len(record.parent_ids) == 2:
        events.append(MergeAttempted(record.iteration, record.parent_ids[0], record.parent_ids[1], ancestor, record.status))
    verdict = dict(iteration=record.iteration, kind=record.kind, parent_ids=parents, parent_scores=parent_scores,
                   child_scores=child_scores, note=record.note)
    if record.status == "accepted":
        events.append(ChildAccepted(**verdict))
    else:
        events.append(ChildRejected(**verdict, status=record.status))
    return events


class ObservedEvaluator:
    """An ``Evaluator`` that emits ``EvaluationBatchDone`` and ``BudgetUpdate`` after every paid batch.

    ``budget_state()`` returns (metric calls paid, budget) once the batch is stored. Emitted even when the
    batch ends with an error, for the runs that finished: they were paid for.
    """

    def __init__(self, inner: Evaluator, events: EventDispatcher, budget_state: Callable[[], tuple[int, int]]) -> None:
        self.inner = inner
        self.events = events
        self.budget_state = budget_state

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        done: list[tuple[str, float]] = []

        def observed_sink(example_id: str, outcome: Outcome) -> None:
            sink(example_id, outcome)
            done.append((example_id, outcome.score))

        try:
            self.inner.evaluate(candidate, example_ids, observed_sink)
        finally:
            if done:
                self.events.emit(EvaluationBatchDone(
                    candidate_key(candidate), tuple(e for e, _ in done), tuple(s for _, s in done)))
                self.events.emit(BudgetUpdate(*self.budget_state()))
