"""Paying for program runs exactly once: the cache in front of the evaluator, shared by concurrent proposals.

Every (candidate, example) run goes through ``BudgetedEvaluator.evaluate``: a cached outcome is free, a run another
proposal is paying for right now is waited for, and only the rest reach the ``Evaluator``. The number of
cache entries is therefore the number of metric calls paid. It also watches for an LM that looks down
(too many consecutive LM errors) and carries the abort flag that stops the other proposals of a round
when one fails.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

from .evaluation_cache import EvaluationCache
from .candidate import Candidate, candidate_key
from .protocols import Evaluator
from .records import Outcome


class LMUnavailableError(RuntimeError):
    """Too many consecutive runs failed with LM errors: the LM looks down. State is saved; fix and resume."""


class ProgramFailedError(RuntimeError):
    """Every run of the search failed because the program raised (or the LM was down): nothing can be learned."""


class AbortEvaluation(Exception):
    """Raised inside a sink (or before an LM call) to stop a proposal early because another one failed."""


class PeerRunFailed(RuntimeError):
    """A run this proposal waited for was being paid for by another proposal, which failed."""


class BudgetedEvaluator:
    """Outcomes of candidates on examples, each paid for at most once within ``budget()`` metric calls.

    ``budget`` is a callable so the search can read its configured limit lazily; ``max_consecutive_lm_failures``
    consecutive runs failing with ``Outcome.failure == "lm_error"`` raise ``LMUnavailableError``.
    """

    def __init__(self, evaluator: Evaluator, cache: EvaluationCache, budget: Callable[[], int],
                 max_consecutive_lm_failures: int) -> None:
        self.evaluator = evaluator
        self.cache = cache
        self._budget = budget
        self._max_lm_failures = max_consecutive_lm_failures
        self._consecutive_lm_failures = 0
        self._failure_lock = threading.Lock()
        #: Runs being paid for right now, so concurrent proposals never pay twice for one (candidate, example).
        self._pending: dict[tuple[str, str], threading.Event] = {}
        self._pending_lock = threading.Lock()
        self.abort = threading.Event()

    @property
    def consecutive_lm_failures(self) -> int:
        """How many of the latest paid runs failed in a row with LM errors (0 after any other outcome)."""
        return self._consecutive_lm_failures

    @property
    def metric_calls(self) -> int:
        """Paid runs so far: every cache entry was paid exactly once."""
        return len(self.cache)

    @property
    def remaining(self) -> int:
        return self._budget() - self.metric_calls

    def cost(self, candidate: Candidate, example_ids: Sequence[str]) -> int:
        """The metric calls running ``candidate`` on ``example_ids`` would pay now (runs not cached yet)."""
        key = candidate_key(candidate)
        return sum(1 for e in example_ids if self.cache.get(key, e) is None)

    def check_abort(self) -> None:
        if self.abort.is_set():
            raise AbortEvaluation("another proposal of this round failed")

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str]) -> list[Outcome]:
        """Outcomes for ``example_ids`` in order: cached ones for free, the rest paid for and cached.

        A run that another proposal is paying for right now is waited for, not paid again.
        """
        self.check_abort()
        key = candidate_key(candidate)
        mine: list[str] = []
        theirs: list[threading.Event] = []
        with self._pending_lock:
            for e in dict.fromkeys(example_ids):
                if self.cache.get(key, e) is not None:
                    continue
                event = self._pending.get((key, e))
                if event is None:
                    mine.append(e)
                else:
                    theirs.append(event)
            if len(mine) > self.remaining - len(self._pending):
                raise RuntimeError(
                    f"internal error: {len(mine)} runs requested with {self.remaining - len(self._pending)} left in the budget"
                )
            for e in mine:
                self._pending[(key, e)] = threading.Event()
        if mine:
            try:
                self.evaluator.evaluate(candidate, mine, lambda e, o: self._store(key, e, o))
            finally:
                with self._pending_lock:
                    for e in mine:
                        event = self._pending.pop((key, e), None)
                        if event is not None:
                            event.set()
        for event in theirs:
            event.wait()
        for e in example_ids:
            if e not in mine:
                self.cache.lookup(key, e)
        outcomes = [self.cache.get(key, e) for e in example_ids]
        lost = [e for e, o in zip(example_ids, outcomes) if o is None]
        if lost:
            if theirs:
                raise PeerRunFailed(f"runs on example(s) {lost} were being paid for by another proposal, which failed")
            raise RuntimeError(f"the evaluator returned without results for example(s) {lost}")
        return outcomes  # type: ignore[return-value]

    def _store(self, cand_key: str, example_id: str, outcome: Outcome) -> None:
        self.cache.put(cand_key, example_id, outcome)
        with self._pending_lock:
            event = self._pending.pop((cand_key, example_id), None)
        if event is not None:
            event.set()
        with self._failure_lock:
            if outcome.failure == "lm_error":
                self._consecutive_lm_failures += 1
            else:
                self._consecutive_lm_failures = 0
            if self._consecutive_lm_failures >= self._max_lm_failures:
                raise LMUnavailableError(
                    f"{self._consecutive_lm_failures} consecutive runs failed with LM errors; last error: "
                    f"{outcome.feedback[:500]}. The search state is saved; fix the LM and call compile again to resume."
                )
        self.check_abort()
