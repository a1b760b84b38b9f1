"""The GEPA search loop (the paper's Algorithm 1, with merge as in Algorithm 4): pure Python, no DSPy.

The loop owns the search state (pool, sampler, RNG, merge bookkeeping, counters) and asks an
``Evaluator`` to run candidates and a ``Proposer`` to write instructions. With a ``log_dir`` the
state is checkpointed atomically at the start of every round and every paid run and proposal is
journaled as it completes, so a killed run resumes exactly where it was, paying for nothing twice.

A round holds one proposal by default (the paper's loop). With ``num_parallel_proposals = k`` it holds
k proposals drawn in order from the seeded RNG and sampler, run concurrently and accepted in order, so
more LM work is in flight; the search stays deterministic because every decision in a round depends
only on the pool at its start (see ``GEPASearch._round``).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .evaluation_cache import EvaluationCache
from .candidate import Candidate, candidate_key, repaired_text
from .checkpoint import FORMAT_VERSION, check_identity, load_checkpoint, save_json_atomic
from .checkpoint_schema import evaluation_record_checker, proposal_record_checker, validate_checkpoint
from .config import SEQUENTIAL_DECISION_MODES, SearchConfig
from . import events as ev
from .holdout_selection import HoldoutSelection, reserve, select_on_holdout
from .interrupts import remembered_sigint
from .journal import JsonlJournal
from .log_dir_lock import exclusive_log_dir
from .merge import MergePlan, find_merge, stratified_subsample
from .budgeted_evaluator import AbortEvaluation, LMUnavailableError, BudgetedEvaluator, PeerRunFailed, ProgramFailedError
from .pool import CandidatePool
from .racing import race
from .protocols import Evaluator, Proposer, StopCondition
from .records import IterationRecord, Outcome
from .search_result import SearchResult
from .stopping import stop_rule_reason
from .sampler import EpochMinibatchSampler, rng_state_from_json, rng_state_to_json
from .strategies import (AcceptanceCriterion, ComponentSelector, ParentSelector, SelectionContext, StrictImprovement,
                         select_components)

logger = logging.getLogger("gepa_dspy")

CHECKPOINT_FILE = "gepa_state.json"
EVAL_JOURNAL_FILE = "evaluations.jsonl"
PROPOSAL_JOURNAL_FILE = "proposals.jsonl"
STOP_FILE = "stop"


class BudgetTooSmallError(ValueError):
    """The metric-call budget cannot even pay for evaluating the seed program."""


@dataclass
class _Slot:
    """One proposal of a round (a reflection, or a merge when ``merge`` is set), filled in by its worker."""

    record: IterationRecord
    merge: MergePlan | None = None
    positions: list[int] = field(default_factory=list)
    child: Candidate | None = None
    val_scores: list[float] | None = None
    status: str = ""
    note: str = ""
    #: The draw state just before this slot was drawn, and the component pointers just before it chose its
    #: components: what a speculative or prefetch round restores when it discards this slot.
    draw_state: dict[str, Any] = field(default_factory=dict)
    pointers_before: list[int] | None = None
    #: Set once the slot has chosen its components (or will not), and once it knows whether its child won
    #: its minibatch (``wants_val``); later slots wait on these to keep order-sensitive steps in slot order.
    chosen: threading.Event = field(default_factory=threading.Event)
    resolved: threading.Event = field(default_factory=threading.Event)
    wants_val: bool = False

    def set(self, status: str, note: str) -> None:
        self.status, self.note = status, note


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
        holdout_ids: Sequence[str] = (),
        callbacks: Sequence[ev.Callback] = (),
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
        #: Held-out selection (opt-in): the finalists' runs on these examples are kept back from the loop's budget.
        self.holdout_ids = list(holdout_ids)
        self._holdout_reserve = reserve(config.holdout_top_k, len(self.holdout_ids)) if self.holdout_ids else 0
        #: Typed events for user callbacks (gepa_dspy.engine.events); paid batches are observed only when someone listens.
        self.events = ev.EventDispatcher(callbacks, on_error=lambda: self._count("callback_errors"))
        if self.events:
            evaluator = ev.ObservedEvaluator(evaluator, self.events, lambda: (self.metric_calls, self.config.max_metric_calls))
        self.budgeted_evaluator = BudgetedEvaluator(evaluator, self.cache, lambda: self.config.max_metric_calls - self._holdout_reserve,
                             config.max_consecutive_lm_failures)
        self._stalled = 0
        self._count_lock = threading.Lock()

    # ----------------------------------------------------------------- budget
    @property
    def metric_calls(self) -> int:
        """Paid runs so far: every cache entry was paid exactly once."""
        return self.budgeted_evaluator.metric_calls

    @property
    def remaining(self) -> int:
        return self.budgeted_evaluator.remaining

    def _full_val_eval(self, candidate: Candidate) -> list[float]:
        outcomes = self.budgeted_evaluator.evaluate(candidate, self.val_ids)
        self.num_full_val_evals += 1
        return [o.score for o in outcomes]

    # -------------------------------------------------------------- main loop
    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or a stop condition ends it.

        With a ``log_dir``, the search holds it exclusively while it runs (``LogDirBusyError`` otherwise).
        """
        if not self.log_dir:
            return self._run()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_log_dir(self.log_dir):
            return self._run()

    def _run(self) -> SearchResult:
        resumed = self._restore()
        self._started = time.monotonic()
        self.budgeted_evaluator.abort.clear()
        self.cache.unseal()
        self.events.emit(ev.RunStarted(self.config.max_metric_calls, self.metric_calls, resumed, len(self.train_ids),
                                       len(self.val_ids), str(self.log_dir) if self.log_dir else None))
        stop_reason = "budget exhausted"
        holdout: HoldoutSelection | None = None
        with remembered_sigint() as ctrl_c:
            try:
                if not resumed:
                    self._initialise()
                else:
                    self._rerun_outage_failures()
                while True:
                    self._checkpoint()
                    if ctrl_c.is_set():
                        # The KeyboardInterrupt itself was lost (see remembered_sigint); stop as if it had arrived.
                        raise KeyboardInterrupt
                    reason = self._should_stop()
                    if reason:
                        stop_reason = reason
                        break
                    if not self._round():
                        stop_reason = "budget exhausted"
                        break
                holdout = self._select_on_holdout()
            except KeyboardInterrupt:
                stop_reason = "interrupted (Ctrl-C); state saved, call compile again with the same log_dir to resume"
                logger.warning("GEPA: %s", stop_reason)
                if not self.pool.candidates:
                    raise
            finally:
                self.cache.seal()
                for journal in (self._eval_journal, self._proposal_journal):
                    if journal is not None:
                        journal.close()
        if self.metric_calls > self.config.max_metric_calls:
            stop_reason = self._over_budget_reason(stop_reason)
        if not stop_reason.startswith("interrupted"):
            self._raise_if_no_run_worked()
            if self.budgeted_evaluator.consecutive_lm_failures:
                # Ended (budget or stall) while the LM looked down: say so rather than pass it off as a result.
                n = self.budgeted_evaluator.consecutive_lm_failures
                self._count("final_consecutive_lm_failures", n)
                note = (f"the last {n} run(s) failed with LM errors, so the LM may be down; fix it and compile again with "
                        "the same log_dir to run them again" if self.log_dir else
                        f"the last {n} run(s) failed with LM errors, so the LM may be down")
                logger.warning("GEPA: %s", note)
                stop_reason = f"{stop_reason} ({note})"
        logger.info(
            "GEPA finished (%s): %d candidates, best #%d val %.4f, %d/%d metric calls, %d cache hits",
            stop_reason, len(self.pool), self.pool.best_index(), self.pool.aggregate_scores()[self.pool.best_index()],
            self.metric_calls, self.config.max_metric_calls, self.cache.hits,
        )
        best = self.pool.best_index()
        self.events.emit(ev.RunEnded(stop_reason, self.metric_calls, self.config.max_metric_calls, len(self.pool), best,
                                     self.pool.aggregate_scores()[best]))
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
            holdout=holdout,
        )

    def _select_on_holdout(self) -> HoldoutSelection | None:
        """Once the loop has ended, run the finalists on the held-out examples with the budget kept back."""
        if not self.holdout_ids:
            return None
        self._holdout_reserve = 0
        selection = select_on_holdout(
            self.pool, self.holdout_ids, self.config.holdout_top_k, self.budgeted_evaluator.evaluate, self.budgeted_evaluator.cost,
            lambda: self.budgeted_evaluator.remaining,
        )
        means = selection.means()
        logger.info(
            "GEPA: held-out selection on %d examples: %s; returning #%d (val best #%d)",
            len(self.holdout_ids), ", ".join(f"#{i} {m:.4f}" for i, m in means.items()) or "no finalist fit the budget",
            selection.chosen, self.pool.best_index(),
        )
        return selection

    def _initialise(self) -> None:
        seed_cost = self.budgeted_evaluator.cost(self.seed_candidate, self.val_ids)
        if seed_cost > self.remaining:
            raise BudgetTooSmallError(
                f"a budget of {self.config.max_metric_calls} metric calls cannot pay for evaluating the seed program "
                f"on the {len(self.val_ids)} validation examples"
                + (f" after keeping {self._holdout_reserve} back for held-out selection" if self._holdout_reserve else "")
                + "; raise max_metric_calls or use a smaller valset"
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
        self._emit_added(0)
        logger.info("GEPA: seed program scores %.4f on %d validation examples", sum(scores) / len(scores), len(scores))

    def _raise_if_no_run_worked(self) -> None:
        """Raise instead of returning the seed as "stalled" when every paid run failed for a reason that says
        nothing about the instructions: the program raised, or the LM was unreachable (too few runs were left
        to reach ``max_consecutive_lm_failures``)."""
        outcomes = self.cache.outcomes()
        if not outcomes or len(self.pool) > 1 or any(o.failure not in ("lm_error", "program_error") for o in outcomes):
            return
        kinds = Counter(o.failure for o in outcomes)
        last = outcomes[-1].feedback[:500]
        saved = (f"The search state is saved in {self.log_dir}; call compile again with it to resume"
                 if self.log_dir else "Give a log_dir to keep the search state across such failures")
        if set(kinds) == {"lm_error"}:
            raise LMUnavailableError(
                f"all {len(outcomes)} runs of this search failed with LM errors: the LM looks down. Last error: {last}. "
                f"{saved}; runs that failed because the LM was down run again then."
            )
        raise ProgramFailedError(
            f"all {len(outcomes)} runs of this search failed ({dict(kinds)}), so no instruction could be judged. "
            f"Last error: {last}. Run the program on one example by hand to see the failure; fix it and compile again."
        )

    def _over_budget_reason(self, stop_reason: str) -> str:
        """The stop reason of a search that holds more paid runs than this compile's budget, warned about.

        Only a resume with a smaller ``max_metric_calls`` gets here: the runs were paid under the earlier budget,
        and nothing more was run (the search ends at once with the state it had).
        """
        over = self.metric_calls - self.config.max_metric_calls
        self.counters["metric_calls_over_budget"] = over
        message = (f"the resumed search in {self.log_dir} had already paid for {self.metric_calls} metric calls, {over} more "
                   f"than this compile's budget of {self.config.max_metric_calls}; no further run was paid for, and the "
                   "result is the search as it was saved")
        logger.warning("GEPA: %s", message)
        warnings.warn(f"GEPA: {message}", RuntimeWarning, stacklevel=3)
        return f"{stop_reason} ({message})"

    def _rerun_outage_failures(self) -> None:
        """Run again the pool's validation runs that failed because the LM was down (the journal forgot them),
        and update the pool's scores: a candidate is never judged by an outage."""
        if not self.cache.dropped_outage_runs:
            return
        logger.warning("GEPA: %d journaled run(s) failed because the LM was unreachable; they run again now and no "
                       "longer count against the budget", self.cache.dropped_outage_runs)
        self._count("outage_runs_forgotten_on_resume", self.cache.dropped_outage_runs)
        for i, candidate in enumerate(self.pool.candidates):
            missing = self.budgeted_evaluator.cost(candidate, self.val_ids)
            if not missing:
                continue
            if missing > self.remaining:
                self._count("outage_scores_kept_over_budget")
                logger.warning("GEPA: the budget left (%d) cannot rerun candidate #%d's %d runs that failed while the LM "
                               "was down; its validation scores keep failure_score there", self.remaining, i, missing)
                continue
            self.pool.val_scores[i] = [o.score for o in self.budgeted_evaluator.evaluate(candidate, self.val_ids)]
            self._count("outage_runs_rerun", missing)

    def _should_stop(self) -> str | None:
        if self._stalled >= self.config.max_stalled_iterations:
            reason = f"stalled: {self._stalled} iterations in a row added no candidate and paid for no run"
            logger.warning("GEPA: %s (the parent was already perfect, or proposals were duplicates or rejected; see counters)", reason)
            return reason
        if self.log_dir and (self.log_dir / STOP_FILE).exists():
            # Honoured once: removed, so the next compile with this log_dir resumes instead of stopping at once.
            (self.log_dir / STOP_FILE).unlink(missing_ok=True)
            reason = f"stop requested by {self.log_dir / STOP_FILE} (the file was removed; compile again to resume)"
            logger.warning("GEPA: %s", reason)
            return reason
        rule = stop_rule_reason(self.config, time.monotonic() - self._started, self.iteration, self.history, self.pool)
        if rule:
            return rule
        for condition in self.stop_conditions:
            condition_reason = condition()
            if condition_reason:
                return condition_reason
        return None

    # ------------------------------------------------------------------ rounds
    def _round(self) -> bool:
        """One round of up to ``num_parallel_proposals`` proposals. Returns False when the budget cannot pay for one.

        A round has three phases. *Plan* (this thread, in slot order): draw every slot's parent and minibatch
        (or merge) from the seeded RNG and sampler, reserving each slot's worst-case cost. *Run* (one worker
        per slot, concurrently when there are several): parent runs, reflection, child runs and, if the child
        wins its minibatch, its full validation run; the order-sensitive decisions (component round-robin)
        are taken in slot order. *Commit* (this thread, in slot order): accepted children join the pool.
        With one slot this is exactly the paper's sequential loop. Everything a slot decides depends only on
        the pool at the start of the round (and, in a speculative or prefetch round, on the earlier slots'
        verdicts), so the outcome does not depend on thread timing.
        """
        # Progress (for the stall check) is a new candidate or a paid run. It is read from the history, not from
        # live counters, so a resumed run (whose journal replayed part of an interrupted round) decides exactly
        # as an uninterrupted one; a round served wholly from the cache must not keep the loop alive forever.
        before = self.history[-1].metric_calls_after if self.history else self.curve[0][0]
        # Lower only after a resume that forgot runs failed in an LM outage (they no longer count as paid).
        before = min(before, self.metric_calls)
        slots = self._plan_round()
        if not slots:
            return False
        self._run_slots(slots)
        slots = self._commit(slots)
        progressed = any(slot.status == "accepted" for slot in slots) or self.metric_calls > before
        self._stalled = 0 if progressed else self._stalled + len(slots)
        return True

    def _plan_round(self) -> list[_Slot]:
        """Draw the round's slots in order, as many as the budget can pay for in the worst case."""
        slots: list[_Slot] = []
        left = self.remaining
        speculative = self.config.parallel_mode in SEQUENTIAL_DECISION_MODES
        val_max = 0
        while len(slots) < self.config.num_parallel_proposals:
            saved = self._draw_state()
            slot, (minibatch_cost, val_cost), why = self._plan_slot()
            if speculative:
                # At most one slot of a speculative round goes on to a full validation run.
                cost = minibatch_cost + max(val_max, val_cost) - val_max
            else:
                cost = minibatch_cost + val_cost
            if cost > left:
                if slots:
                    # Undo this slot's draws: the next round draws it again, against the budget then left.
                    self._restore_draw_state(saved)
                else:
                    logger.info("GEPA: stopping: %s could need %d metric calls, %d left", why, cost, left)
                break
            left -= cost
            val_max = max(val_max, val_cost)
            slot.draw_state = saved
            self.iteration += 1
            slot.record.iteration = self.iteration
            if slot.merge is not None:
                self.merge.due -= 1
                self.merge.attempts += 1
                self.merge.tried.add((slot.merge.left, slot.merge.right, slot.merge.ancestor))
            slots.append(slot)
            self.events.emit(ev.IterationStarted(slot.record.iteration, slot.record.kind, tuple(slot.record.parent_ids),
                                                 tuple(slot.record.example_ids)))
        return slots

    def _draw_state(self) -> dict[str, Any]:
        return {
            "rng": self.rng.getstate(), "sampler": self.sampler.state_dict(), "iteration": self.iteration,
            "merge": (self.merge.due, self.merge.attempts, set(self.merge.tried)),
        }

    def _restore_draw_state(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        self.iteration = state["iteration"]
        due, attempts, tried = state["merge"]
        self.merge = _MergeState(due=due, attempts=attempts, tried=set(tried))

    def _plan_slot(self) -> tuple[_Slot, tuple[int, int], str]:
        """The next slot (a merge when one is due and possible, else a reflection) and its worst-case cost,
        split into (minibatch runs, full validation runs)."""
        merge_ready = self.config.use_merge and self.merge.due > 0 and self.merge.attempts < self.config.max_merge_invocations
        if merge_ready:
            plan = find_merge(self.pool, self.rng, self.merge.tried)
            if plan is not None:
                left_scores, right_scores = self.pool.val_scores[plan.left], self.pool.val_scores[plan.right]
                positions = stratified_subsample(left_scores, right_scores, self.config.merge_subsample_size, self.rng)
                subsample = [self.val_ids[j] for j in positions]
                record = IterationRecord(iteration=0, kind="merge", status="", parent_ids=[plan.left, plan.right], example_ids=subsample)
                record.components = [n for n in self.pool.component_names if plan.merged[n] != self.pool.candidates[plan.ancestor][n]]
                slot = _Slot(record=record, merge=plan, positions=positions, child=dict(plan.merged))
                on_subsample = self.budgeted_evaluator.cost(plan.merged, subsample)
                return slot, (on_subsample, self.budgeted_evaluator.cost(plan.merged, self.val_ids) - on_subsample), "a merge"
        parent_id = self.parent_selector.select(self.pool, self.rng)
        batch = self.sampler.next_batch()
        parent = self.pool.candidates[parent_id]
        overlap_val = [v for v in self.val_ids if v not in set(batch)]
        worst_case = (self.budgeted_evaluator.cost(parent, batch) + len(set(batch)), len(overlap_val))
        record = IterationRecord(iteration=0, kind="reflection", status="", parent_ids=[parent_id], example_ids=list(batch))
        return _Slot(record=record), worst_case, "the next proposal"

    def _run_slots(self, slots: list[_Slot]) -> None:
        """Run the slots: inline when there is one, else one worker thread each; re-raise the first failure."""
        if len(slots) == 1:
            self._run_slot(slots[0], [])
            return
        executor = ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="gepa-proposal")
        futures = []
        try:
            for i, slot in enumerate(slots):
                # Each worker runs in a copy of the caller's context, so context-local settings follow it.
                context = contextvars.copy_context()
                futures.append(executor.submit(context.run, self._run_slot, slot, slots[:i]))
            try:
                wait(futures)
            except KeyboardInterrupt:
                self.budgeted_evaluator.abort.set()
                wait(futures)
                raise
        finally:
            executor.shutdown(wait=True)
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            # Prefer the root cause over the knock-on failures of the other slots.
            errors.sort(key=lambda e: isinstance(e, (AbortEvaluation, PeerRunFailed)))
            raise errors[0]  # type: ignore[misc]

    def _run_slot(self, slot: _Slot, earlier: list[_Slot]) -> None:
        """A slot's work. Failures abort the other slots of the round (they finish what is in flight)."""
        try:
            if slot.merge is not None:
                self._run_merge(slot, earlier)
            else:
                self._run_reflection(slot, earlier)
        except BaseException:
            self.budgeted_evaluator.abort.set()
            raise
        finally:
            slot.chosen.set()
            slot.resolved.set()

    def _full_val_due(self, slot: _Slot, earlier: list[_Slot]) -> bool:
        """Whether the slot whose child won its minibatch runs the full validation now.

        In a speculative or prefetch round it waits until every earlier slot knows its own minibatch verdict,
        and is discarded (no validation run) when one of them won: it was drawn assuming they would all lose.
        """
        slot.wants_val = True
        slot.resolved.set()
        if self.config.parallel_mode not in SEQUENTIAL_DECISION_MODES:
            return True
        return not self._discarded_for_earlier_win(slot, earlier)

    def _discarded_for_earlier_win(self, slot: _Slot, earlier: list[_Slot]) -> bool:
        """Wait until every earlier slot knows its minibatch verdict; discard this slot if one of them won.

        Only in the modes that keep the sequential decisions, whose slots were drawn assuming the earlier ones lose.
        """
        for other in earlier:
            other.resolved.wait()
        self.budgeted_evaluator.check_abort()
        if any(other.wants_val for other in earlier):
            slot.set("discarded", f"an earlier proposal of this {self.config.parallel_mode} round was accepted")
            return True
        return False

    def _child_runs_may_start(self, slot: _Slot, earlier: list[_Slot]) -> bool:
        """Whether the slot may pay for its child's runs now: in a prefetch round, only once the earlier slots
        have all lost their minibatches (the slot is discarded, having paid for parent runs only, otherwise)."""
        if self.config.parallel_mode != "prefetch" or not earlier:
            return True
        return not self._discarded_for_earlier_win(slot, earlier)

    def _run_reflection(self, slot: _Slot, earlier: list[_Slot]) -> None:
        record = slot.record
        parent_id = record.parent_ids[0]
        batch = record.example_ids
        parent = self.pool.candidates[parent_id]
        parent_runs = self.budgeted_evaluator.evaluate(parent, batch)
        record.parent_scores = [o.score for o in parent_runs]

        # The skip test and the component choice (round-robin pointers) are taken in slot order.
        if earlier:
            earlier[-1].chosen.wait()
        self.budgeted_evaluator.check_abort()
        try:
            if self.config.skip_perfect_score and all(s >= self.config.perfect_score for s in record.parent_scores):
                slot.set("skipped_perfect", "parent is already perfect on this minibatch")
                return
            slot.pointers_before = list(self.pool.next_component)
            components = select_components(self.component_selector, self.pool, parent_id,
                                           SelectionContext(record.iteration, list(zip(batch, parent_runs))))
        finally:
            slot.chosen.set()
        record.components = list(components)
        child = dict(parent)
        for component in components:
            text = self._propose(record.iteration, parent, component, list(zip(batch, parent_runs)))
            if text is not None:
                child[component] = text
        if child == parent:
            slot.set("no_proposal", "no acceptable instruction was proposed")
            return
        existing = self.pool.index_of(child)
        if existing is not None:
            slot.set("duplicate", f"the proposal equals candidate #{existing}")
            return

        if not self._child_runs_may_start(slot, earlier):
            return
        child_runs = self.budgeted_evaluator.evaluate(child, batch)
        record.child_scores = [o.score for o in child_runs]
        if not self.acceptance.accept(record.parent_scores, record.child_scores):
            slot.set("rejected", "child did not beat its parent on the minibatch")
            return
        slot.child = child
        if not self._full_val_due(slot, earlier):
            return
        if self.config.val_policy == "racing":
            raced = race(
                self.pool.val_scores, parent_id,
                lambda positions: [o.score for o in self.budgeted_evaluator.evaluate(child, [self.val_ids[j] for j in positions])],
                self.config.racing_chunk_size, self.config.racing_significance,
            )
            if raced.scores is None:
                self._count("val_runs_saved_by_racing", len(self.val_ids) - raced.examples_seen)
                slot.set("raced_out", f"lost to its parent on validation ({raced.child_wins} wins, {raced.child_losses} "
                                      f"losses in {raced.examples_seen} examples, sign test p={raced.p_value:.3f}) "
                                      "and led on none")
                return
            slot.val_scores = raced.scores
        else:
            slot.val_scores = [o.score for o in self.budgeted_evaluator.evaluate(child, self.val_ids)]
        slot.set("accepted", f"val mean {sum(slot.val_scores) / len(slot.val_scores):.4f}")

    def _run_merge(self, slot: _Slot, earlier: list[_Slot]) -> None:
        record, plan = slot.record, slot.merge
        assert plan is not None
        # A merge takes no round-robin step; it passes the turn on as soon as the slot before it has taken its own.
        if earlier:
            earlier[-1].chosen.wait()
        slot.chosen.set()
        if not self._child_runs_may_start(slot, earlier):
            return
        runs = self.budgeted_evaluator.evaluate(plan.merged, record.example_ids)
        record.child_scores = [o.score for o in runs]
        left_scores, right_scores = self.pool.val_scores[plan.left], self.pool.val_scores[plan.right]
        left_sum = sum(left_scores[j] for j in slot.positions)
        right_sum = sum(right_scores[j] for j in slot.positions)
        record.parent_scores = [left_sum, right_sum]
        what = f"merge of #{plan.left} and #{plan.right} (ancestor #{plan.ancestor})"
        if sum(record.child_scores) < max(left_sum, right_sum):
            slot.set("rejected", f"{what} lost on the subsample")
            return
        if not self._full_val_due(slot, earlier):
            return
        slot.val_scores = [o.score for o in self.budgeted_evaluator.evaluate(plan.merged, self.val_ids)]
        slot.set("accepted", f"{what}; val mean {sum(slot.val_scores) / len(slot.val_scores):.4f}")

    def _commit(self, slots: list[_Slot]) -> list[_Slot]:
        """Add the accepted children to the pool and record every slot, in slot order.

        A speculative or prefetch round keeps its slots up to the first accepted one; the rest are undone (draws,
        iteration numbers, component pointers) as if never drawn, and the next round draws them again from the
        new pool.
        Returns the slots kept.
        """
        if self.config.parallel_mode in SEQUENTIAL_DECISION_MODES:
            first = next((i for i, slot in enumerate(slots) if slot.status == "accepted"), None)
            if first is not None and first + 1 < len(slots):
                dropped = slots[first + 1:]
                slots = slots[:first + 1]
                self._restore_draw_state(dropped[0].draw_state)
                pointers = next((d.pointers_before for d in dropped if d.pointers_before is not None), None)
                if pointers is not None:
                    self.pool.next_component = pointers
                self._count("speculative_proposals_discarded", len(dropped))
        for slot in slots:
            record = slot.record
            if slot.status == "accepted":
                assert slot.child is not None and slot.val_scores is not None
                existing = self.pool.index_of(slot.child)
                if existing is not None:
                    # Only possible with parallel proposals: an earlier slot of this round found the same child.
                    slot.set("duplicate", f"the proposal equals candidate #{existing}, accepted earlier in this round")
                else:
                    self.num_full_val_evals += 1
                    origin = "merge" if slot.merge is not None else "reflection"
                    record.new_candidate_id = self.pool.add(slot.child, list(record.parent_ids), origin, slot.val_scores, self.metric_calls)
                    self._record_curve()
                    self._emit_added(record.new_candidate_id)
                    if slot.merge is None and self.config.use_merge and self.merge.attempts + self.merge.due < self.config.max_merge_invocations:
                        self.merge.due += 1
            self._finish(record, slot.status, slot.note)
            for event in ev.iteration_outcome_events(record, slot.merge.ancestor if slot.merge is not None else None):
                self.events.emit(event)
        return slots

    def _propose(self, iteration: int, parent: Candidate, component: str, runs: list[tuple[str, Outcome]]) -> str | None:
        """A proposal for one component, reusing a journaled one from before a restart if there is one."""
        key = f"{iteration}:{candidate_key(parent)}:{component}"
        if key in self._proposals:
            self._count("proposals_replayed")
            return self._proposals[key]
        self.budgeted_evaluator.check_abort()
        result = self.proposer.propose(parent, component, runs)
        if result.text is not None and repaired_text(result.text) != result.text:
            self._count("proposals_with_invalid_unicode_repaired")
            logger.warning("GEPA: the proposed instruction for %s holds lone surrogates (not valid Unicode); they are "
                           "replaced by U+FFFD", component)
            result.text = repaired_text(result.text)
        for reason in result.rejections:
            self._count(f"reflection_rejected_{reason}")
        self._count("reflection_calls", 1 + len(result.rejections) - (result.text is None))
        if result.text is None:
            self.events.emit(ev.ProposalRejected(iteration, component, tuple(result.rejections)))
        else:
            self.events.emit(ev.ProposalMade(iteration, component, result.text, tuple(result.rejections)))
        if self._proposal_journal is not None:
            self._proposal_journal.append({"k": key, "text": result.text})
        self._proposals[key] = result.text
        return result.text

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

    def _emit_added(self, index: int) -> None:
        if self.events:
            best = self.pool.best_index()
            scores = self.pool.aggregate_scores()
            self.events.emit(ev.CandidateAdded(index, tuple(self.pool.parents[index]), self.pool.origins[index], scores[index],
                                               self.metric_calls, best, scores[best]))

    def _count(self, name: str, by: int = 1) -> None:
        with self._count_lock:
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
            self.events.emit(ev.CheckpointSaved(str(self.log_dir / CHECKPOINT_FILE), self.iteration, self.metric_calls))

    def _restore(self) -> bool:
        """Load the journals and the checkpoint from ``log_dir``. True when there was a checkpoint."""
        if not self.log_dir:
            return False
        data = load_checkpoint(self.log_dir / CHECKPOINT_FILE, self.fingerprint)
        if data is not None:
            validate_checkpoint(self.log_dir / CHECKPOINT_FILE, data, seed_candidate=self.seed_candidate,
                                train_ids=self.train_ids, n_val=len(self.val_ids), perfect_score=self.config.perfect_score)
        check_identity(self.log_dir, self.fingerprint, [self.log_dir / EVAL_JOURNAL_FILE, self.log_dir / PROPOSAL_JOURNAL_FILE],
                       has_checkpoint=data is not None)
        loaded = self.cache.load_journal(evaluation_record_checker(self.log_dir / EVAL_JOURNAL_FILE, self.config.perfect_score))
        assert self._proposal_journal is not None
        check_proposal = proposal_record_checker(self.log_dir / PROPOSAL_JOURNAL_FILE)
        for number, rec in enumerate(self._proposal_journal.read()):
            check_proposal(rec, number)
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
