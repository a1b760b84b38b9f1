"""The GEPA search loop (the paper's Algorithm 1, with merge as in Algorithm 4): pure Python, no DSPy.

The loop owns the search state (pool, sampler, RNG, merge bookkeeping, counters) and asks an
``Evaluator`` to run candidates and a ``Proposer`` to write instructions. With a ``log_dir`` the
state is checkpointed atomically at the start of every iteration and every paid run is journaled as
it completes, so a killed run resumes exactly where it was, paying for nothing twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .cache import EvaluationCache
from .candidate import Candidate, candidate_key
from .checkpoint import FORMAT_VERSION, load_checkpoint, save_json_atomic
from .journal import JsonlJournal
from .merge import find_merge, stratified_subsample
from .pool import CandidatePool
from .protocols import Evaluator, Proposer, StopCondition
from .records import IterationRecord, Outcome
from .sampler import EpochMinibatchSampler, rng_state_from_json, rng_state_to_json
from .strategies import AcceptanceCriterion, ComponentSelector, ParentSelector, StrictImprovement

logger = logging.getLogger("gepa_dspy")

CHECKPOINT_FILE = "gepa_state.json"
EVAL_JOURNAL_FILE = "evaluations.jsonl"
PROPOSAL_JOURNAL_FILE = "proposals.jsonl"
STOP_FILE = "stop"


class BudgetTooSmallError(ValueError):
    """The metric-call budget cannot even pay for evaluating the seed program."""


class LMUnavailableError(RuntimeError):
    """Too many consecutive runs failed with LM errors: the LM looks down. State is saved; fix and resume."""


class _AbortEvaluation(Exception):
    """Raised inside a sink to stop an evaluation early."""


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


@dataclass
class _MergeState:
    due: int = 0
    attempts: int = 0
    tried: set[tuple[int, int, int]] = field(default_factory=set)


class GEPASearch:
    """Reflective evolution over candidates with Pareto parent selection."""

    def __init__(
        self,
        seed_candidate: Candidate,
        train_ids: Sequence[str],
        val_ids: Sequence[str],
        evaluator: Evaluator,
        proposer: Proposer,
        config: SearchConfig,
        parent_selector: ParentSelector,
        component_selector: ComponentSelector,
        acceptance: AcceptanceCriterion | None = None,
        stop_conditions: Sequence[StopCondition] = (),
        log_dir: str | Path | None = None,
        fingerprint: dict[str, Any] | None = None,
    ) -> None:
        if not seed_candidate:
            raise ValueError("the seed candidate has no components")
        if not train_ids:
            raise ValueError("trainset is empty")
        if not val_ids:
            raise ValueError("valset is empty")
        self.seed_candidate = dict(seed_candidate)
        self.train_ids = list(train_ids)
        self.val_ids = list(val_ids)
        self.evaluator = evaluator
        self.proposer = proposer
        self.config = config
        self.parent_selector = parent_selector
        self.component_selector = component_selector
        self.acceptance = acceptance or StrictImprovement()
        self.stop_conditions = list(stop_conditions)
        self.log_dir = Path(log_dir) if log_dir else None
        self.fingerprint = dict(fingerprint or {})

        self.pool = CandidatePool(component_names=list(self.seed_candidate))
        self.sampler = EpochMinibatchSampler(self.train_ids, config.minibatch_size, seed=config.seed)
        self.rng = random.Random(config.seed)
        self.merge = _MergeState()
        self.iteration = 0
        self.history: list[IterationRecord] = []
        self.counters: dict[str, int] = {}
        self.curve: list[tuple[int, float]] = []
        self.num_full_val_evals = 0

        self._eval_journal = JsonlJournal(self.log_dir / EVAL_JOURNAL_FILE) if self.log_dir else None
        self._proposal_journal = JsonlJournal(self.log_dir / PROPOSAL_JOURNAL_FILE) if self.log_dir else None
        self._proposals: dict[str, str | None] = {}
        self.cache = EvaluationCache(self._eval_journal)
        self._consecutive_lm_failures = 0
        self._stalled = 0
        self._failure_lock = threading.Lock()

    # ----------------------------------------------------------------- budget
    @property
    def metric_calls(self) -> int:
        """Paid runs so far: every cache entry was paid exactly once."""
        return len(self.cache)

    @property
    def remaining(self) -> int:
        return self.config.max_metric_calls - self.metric_calls

    def _misses(self, candidate: Candidate, example_ids: Sequence[str]) -> int:
        key = candidate_key(candidate)
        return sum(1 for e in example_ids if self.cache.get(key, e) is None)

    # ------------------------------------------------------------- evaluation
    def _evaluate(self, candidate: Candidate, example_ids: Sequence[str]) -> list[Outcome]:
        """Outcomes for ``example_ids`` in order: cached ones for free, the rest paid for and cached."""
        key = candidate_key(candidate)
        missing = [e for e in dict.fromkeys(example_ids) if self.cache.get(key, e) is None]
        for e in example_ids:
            if e not in missing:
                self.cache.lookup(key, e)
        if len(missing) > self.remaining:
            raise RuntimeError(f"internal error: {len(missing)} runs requested with {self.remaining} left in the budget")
        if missing:
            self.evaluator.evaluate(candidate, missing, lambda e, o: self._store(key, e, o))
        outcomes = [self.cache.get(key, e) for e in example_ids]
        lost = [e for e, o in zip(example_ids, outcomes) if o is None]
        if lost:
            raise RuntimeError(f"the evaluator returned without results for example(s) {lost}")
        return outcomes  # type: ignore[return-value]

    def _store(self, cand_key: str, example_id: str, outcome: Outcome) -> None:
        self.cache.put(cand_key, example_id, outcome)
        with self._failure_lock:
            if outcome.failure == "lm_error":
                self._consecutive_lm_failures += 1
            else:
                self._consecutive_lm_failures = 0
            if self._consecutive_lm_failures >= self.config.max_consecutive_lm_failures:
                raise LMUnavailableError(
                    f"{self._consecutive_lm_failures} consecutive runs failed with LM errors; last error: "
                    f"{outcome.feedback[:500]}. The search state is saved; fix the LM and call compile again to resume."
                )

    def _full_val_eval(self, candidate: Candidate) -> list[float]:
        outcomes = self._evaluate(candidate, self.val_ids)
        self.num_full_val_evals += 1
        return [o.score for o in outcomes]

    # -------------------------------------------------------------- main loop
    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or a stop condition ends it."""
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        resumed = self._restore()
        stop_reason = "budget exhausted"
        try:
            if not resumed:
                self._initialise()
            while True:
                self._checkpoint()
                reason = self._should_stop()
                if reason:
                    stop_reason = reason
                    break
                if not self._step():
                    stop_reason = "budget exhausted"
                    break
                self._stalled = 0 if self._last_step_progressed() else self._stalled + 1
        except KeyboardInterrupt:
            stop_reason = "interrupted (Ctrl-C); state saved, call compile again with the same log_dir to resume"
            logger.warning("GEPA: %s", stop_reason)
            if not self.pool.candidates:
                raise
        finally:
            for journal in (self._eval_journal, self._proposal_journal):
                if journal is not None:
                    journal.close()
        logger.info(
            "GEPA finished (%s): %d candidates, best #%d val %.4f, %d/%d metric calls, %d cache hits",
            stop_reason, len(self.pool), self.pool.best_index(), self.pool.aggregate_scores()[self.pool.best_index()],
            self.metric_calls, self.config.max_metric_calls, self.cache.hits,
        )
        return SearchResult(
            pool=self.pool,
            history=self.history,
            metric_calls=self.metric_calls,
            cache_hits=self.cache.hits,
            num_full_val_evals=self.num_full_val_evals,
            stop_reason=stop_reason,
            counters=self._all_counters(),
            curve=list(self.curve),
            val_ids=list(self.val_ids),
        )

    def _initialise(self) -> None:
        seed_cost = self._misses(self.seed_candidate, self.val_ids)
        if seed_cost > self.remaining:
            raise BudgetTooSmallError(
                f"a budget of {self.config.max_metric_calls} metric calls cannot pay for evaluating the seed program "
                f"on the {len(self.val_ids)} validation examples; raise max_metric_calls or use a smaller valset"
            )
        one_proposal = seed_cost + 2 * self.sampler.batch_size + len(self.val_ids)
        if self.config.max_metric_calls < one_proposal:
            logger.warning(
                "GEPA: a budget of %d metric calls cannot pay for even one proposal after the seed evaluation "
                "(seed %d + minibatches 2x%d + full validation %d = %d); the seed program will be returned unchanged.",
                self.config.max_metric_calls, seed_cost, self.sampler.batch_size, len(self.val_ids), one_proposal,
            )
        scores = self._full_val_eval(self.seed_candidate)
        self.pool.add(self.seed_candidate, [], "seed", scores, self.metric_calls)
        self._record_curve()
        logger.info("GEPA: seed program scores %.4f on %d validation examples", sum(scores) / len(scores), len(scores))

    def _last_step_progressed(self) -> bool:
        """Whether the last step added a candidate or paid for runs.

        A rejected child served wholly from the cache (the same proposal again) is not progress and must not keep
        the loop alive forever. Read from the history, not from live counters, so a resumed run (whose journal
        replayed part of an interrupted step) decides exactly as an uninterrupted one.
        """
        last = self.history[-1]
        if last.status == "accepted":
            return True
        before = self.history[-2].metric_calls_after if len(self.history) > 1 else self.curve[0][0]
        return last.metric_calls_after > before

    def _should_stop(self) -> str | None:
        if self._stalled >= self.config.max_stalled_iterations:
            reason = f"stalled: {self._stalled} iterations in a row added no candidate and paid for no run"
            logger.warning("GEPA: %s (the parent was already perfect, or proposals were duplicates or rejected; see counters)", reason)
            return reason
        if self.log_dir and (self.log_dir / STOP_FILE).exists():
            return f"stop requested by {self.log_dir / STOP_FILE}"
        for condition in self.stop_conditions:
            reason = condition()
            if reason:
                return reason
        return None

    def _step(self) -> bool:
        """One iteration. Returns False when the budget cannot pay for the next step."""
        merge_ready = self.config.use_merge and self.merge.due > 0 and self.merge.attempts < self.config.max_merge_invocations
        if merge_ready:
            outcome = self._try_merge()
            if outcome is not None:
                return outcome
        return self._reflect()

    # -------------------------------------------------------------- reflection
    def _reflect(self) -> bool:
        parent_id = self.parent_selector.select(self.pool, self.rng)
        batch = self.sampler.next_batch()
        parent = self.pool.candidates[parent_id]
        overlap_val = [v for v in self.val_ids if v not in set(batch)]
        worst_case = self._misses(parent, batch) + len(batch) + len(overlap_val)
        if worst_case > self.remaining:
            logger.info("GEPA: stopping: the next proposal could need %d metric calls, %d left", worst_case, self.remaining)
            return False
        self.iteration += 1
        record = IterationRecord(iteration=self.iteration, kind="reflection", status="", parent_ids=[parent_id], example_ids=list(batch))
        parent_runs = self._evaluate(parent, batch)
        record.parent_scores = [o.score for o in parent_runs]

        if self.config.skip_perfect_score and all(s >= self.config.perfect_score for s in record.parent_scores):
            self._finish(record, "skipped_perfect", "parent is already perfect on this minibatch")
            return True

        components = self.component_selector.select(self.pool, parent_id)
        record.components = list(components)
        child = dict(parent)
        for component in components:
            text = self._propose(parent, component, list(zip(batch, parent_runs)))
            if text is not None:
                child[component] = text
        if child == parent:
            self._finish(record, "no_proposal", "no acceptable instruction was proposed")
            return True
        existing = self.pool.index_of(child)
        if existing is not None:
            self._finish(record, "duplicate", f"the proposal equals candidate #{existing}")
            return True

        child_runs = self._evaluate(child, batch)
        record.child_scores = [o.score for o in child_runs]
        if not self.acceptance.accept(record.parent_scores, record.child_scores):
            self._finish(record, "rejected", "child did not beat its parent on the minibatch")
            return True

        scores = self._full_val_eval(child)
        record.new_candidate_id = self.pool.add(child, [parent_id], "reflection", scores, self.metric_calls)
        self._record_curve()
        if self.config.use_merge and self.merge.attempts + self.merge.due < self.config.max_merge_invocations:
            self.merge.due += 1
        self._finish(record, "accepted", f"val mean {sum(scores) / len(scores):.4f}")
        return True

    def _propose(self, parent: Candidate, component: str, runs: list[tuple[str, Outcome]]) -> str | None:
        """A proposal for one component, reusing a journaled one from before a restart if there is one."""
        key = f"{self.iteration}:{candidate_key(parent)}:{component}"
        if key in self._proposals:
            self._count("proposals_replayed")
            return self._proposals[key]
        result = self.proposer.propose(parent, component, runs)
        for reason in result.rejections:
            self._count(f"reflection_rejected_{reason}")
        self._count("reflection_calls", 1 + len(result.rejections) - (result.text is None))
        if self._proposal_journal is not None:
            self._proposal_journal.append({"k": key, "text": result.text})
        self._proposals[key] = result.text
        return result.text

    # ------------------------------------------------------------------ merge
    def _try_merge(self) -> bool | None:
        """Attempt one merge. None when no valid pair exists (the caller reflects instead)."""
        plan = find_merge(self.pool, self.rng, self.merge.tried)
        if plan is None:
            return None
        left_scores, right_scores = self.pool.val_scores[plan.left], self.pool.val_scores[plan.right]
        positions = stratified_subsample(left_scores, right_scores, self.config.merge_subsample_size, self.rng)
        subsample = [self.val_ids[j] for j in positions]
        if self._misses(plan.merged, self.val_ids) > self.remaining:
            logger.info("GEPA: stopping: a merge could need %d metric calls, %d left", len(self.val_ids), self.remaining)
            return False
        self.iteration += 1
        self.merge.due -= 1
        self.merge.attempts += 1
        self.merge.tried.add((plan.left, plan.right, plan.ancestor))
        record = IterationRecord(iteration=self.iteration, kind="merge", status="", parent_ids=[plan.left, plan.right], example_ids=subsample)
        record.components = [n for n in self.pool.component_names if plan.merged[n] != self.pool.candidates[plan.ancestor][n]]
        runs = self._evaluate(plan.merged, subsample)
        record.child_scores = [o.score for o in runs]
        left_sum = sum(left_scores[j] for j in positions)
        right_sum = sum(right_scores[j] for j in positions)
        record.parent_scores = [left_sum, right_sum]
        if sum(record.child_scores) < max(left_sum, right_sum):
            self._finish(record, "rejected", f"merge of #{plan.left} and #{plan.right} (ancestor #{plan.ancestor}) lost on the subsample")
            return True
        scores = self._full_val_eval(plan.merged)
        record.new_candidate_id = self.pool.add(plan.merged, [plan.left, plan.right], "merge", scores, self.metric_calls)
        self._record_curve()
        self._finish(record, "accepted", f"merge of #{plan.left} and #{plan.right} (ancestor #{plan.ancestor}); val mean {sum(scores) / len(scores):.4f}")
        return True

    # ------------------------------------------------------------ bookkeeping
    def _finish(self, record: IterationRecord, status: str, note: str) -> None:
        record.status = status
        record.note = note
        record.metric_calls_after = self.metric_calls
        self.history.append(record)
        self._count(f"{record.kind}_{status}")
        best = self.pool.best_index()
        logger.info(
            "GEPA iter %d [%s] parent(s) %s %s: %s -> %s: %s (%s). pool %d, best #%d val %.4f, metric calls %d/%d",
            record.iteration, record.kind, record.parent_ids, record.components,
            _fmt(record.parent_scores), _fmt(record.child_scores), status, note,
            len(self.pool), best, self.pool.aggregate_scores()[best], self.metric_calls, self.config.max_metric_calls,
        )

    def _count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def _all_counters(self) -> dict[str, int]:
        counters = dict(self.counters)
        for outcome in self.cache.outcomes():
            if outcome.failure:
                counters[f"failed_runs_{outcome.failure}"] = counters.get(f"failed_runs_{outcome.failure}", 0) + 1
        counters["cache_hits"] = self.cache.hits
        for journal in (self._eval_journal, self._proposal_journal):
            if journal is not None and journal.torn_lines:
                counters["torn_journal_lines"] = counters.get("torn_journal_lines", 0) + journal.torn_lines
        return counters

    def _record_curve(self) -> None:
        best = self.pool.best_index()
        self.curve.append((self.metric_calls, self.pool.aggregate_scores()[best]))

    # ------------------------------------------------------------- checkpoint
    def _state_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "saved_at": time.time(),
            "iteration": self.iteration,
            "pool": self.pool.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state_to_json(self.rng),
            "merge": {"due": self.merge.due, "attempts": self.merge.attempts, "tried": sorted(self.merge.tried)},
            "history": [asdict(r) for r in self.history],
            "counters": self.counters,
            "curve": self.curve,
            "num_full_val_evals": self.num_full_val_evals,
            "metric_calls": self.metric_calls,
            "cache_hits": self.cache.hits,
            "stalled": self._stalled,
        }

    def _checkpoint(self) -> None:
        if self.log_dir:
            save_json_atomic(self.log_dir / CHECKPOINT_FILE, self._state_dict())

    def _restore(self) -> bool:
        """Load the journals and the checkpoint from ``log_dir``. True when there was a checkpoint."""
        if not self.log_dir:
            return False
        data = load_checkpoint(self.log_dir / CHECKPOINT_FILE, self.fingerprint)
        loaded = self.cache.load_journal()
        assert self._proposal_journal is not None
        for rec in self._proposal_journal.read():
            self._proposals[str(rec["k"])] = rec.get("text")
        if data is None:
            if loaded:
                logger.info("GEPA: reusing %d journaled evaluations from %s", loaded, self.log_dir)
            return False
        self.iteration = int(data["iteration"])
        self.pool = CandidatePool.from_state_dict(data["pool"])
        self.sampler.load_state_dict(data["sampler"])
        self.rng.setstate(rng_state_from_json(data["rng"]))
        self.merge = _MergeState(
            due=int(data["merge"]["due"]), attempts=int(data["merge"]["attempts"]),
            tried={tuple(t) for t in data["merge"]["tried"]},  # type: ignore[misc]
        )
        self.history = [IterationRecord(**r) for r in data["history"]]
        self.counters = {str(k): int(v) for k, v in data["counters"].items()}
        self.curve = [(int(a), float(b)) for a, b in data["curve"]]
        self.num_full_val_evals = int(data["num_full_val_evals"])
        self.cache.hits = int(data.get("cache_hits", 0))
        self._stalled = int(data.get("stalled", 0))
        logger.info(
            "GEPA: resumed from %s at iteration %d with %d candidates and %d paid metric calls",
            self.log_dir, self.iteration, len(self.pool), self.metric_calls,
        )
        return True


def _fmt(scores: Sequence[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in scores) + "]" if scores else "-"
