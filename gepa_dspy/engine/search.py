"""The GEPA search: the loop around one iteration (iteration.py), from the seed's evaluation to the result.

``GEPASearch.run`` restores a saved search (state.py) or scores the seed program, then runs iterations until the
budget or a stop condition ends it: checkpoint, stop?, one iteration (draw, run, commit). With
``num_parallel_proposals`` > 1 (opt-in) an iteration is replaced by a round of several (parallel.py). The engine
is pure Python, with no DSPy: an ``Evaluator`` runs candidates and a ``Proposer`` writes instructions.
"""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from . import events as ev
from .budgeted_evaluator import BudgetedEvaluator, LMUnavailableError, ProgramFailedError
from .candidate import Candidate
from .config import SearchConfig
from .evaluation_cache import EvaluationCache
from .holdout_selection import HoldoutSelection, reserve, select_on_holdout
from .interrupts import remembered_sigint
from .iteration import Iteration
from .log_dir_lock import exclusive_log_dir
from .merge_scheduler import MergeScheduler
from .parallel import ParallelRounds
from .pool import CandidatePool
from .protocols import Evaluator, Proposer, StopCondition
from .records import IterationRecord
from .sampler import EpochMinibatchSampler
from .search_result import SearchResult
from .state import (CHECKPOINT_FILE, EVAL_JOURNAL_FILE, PROPOSAL_JOURNAL_FILE, JournaledProposals, LogDirFiles,
                    SearchState)
from .stopping import stop_rule_reason
from .strategies import AcceptanceCriterion, ComponentSelector, NoWorseThanParent, ParentSelector, StrictImprovement

logger = logging.getLogger("gepa_dspy")

__all__ = ["GEPASearch", "BudgetTooSmallError", "CHECKPOINT_FILE", "EVAL_JOURNAL_FILE", "PROPOSAL_JOURNAL_FILE",
           "STOP_FILE"]

#: A file whose presence in ``log_dir`` stops the search before its next iteration.
STOP_FILE = "stop"


class BudgetTooSmallError(ValueError):
    """The metric-call budget cannot even pay for evaluating the seed program."""


class GEPASearch:
    """Reflective evolution over candidates with Pareto parent selection.

    ``acceptance`` judges a reflection child against its parent on the minibatch (default: strictly better sum);
    ``merge_acceptance`` judges a merge against the better of its two parents on its subsample (default: no worse).
    """

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
        merge_acceptance: AcceptanceCriterion | None = None,
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
        self.config = config
        self.stop_conditions = list(stop_conditions)
        self.log_dir = Path(log_dir) if log_dir else None
        self.fingerprint = dict(fingerprint or {})

        self.state = SearchState(
            pool=CandidatePool(component_names=list(self.seed_candidate)),
            sampler=EpochMinibatchSampler(self.train_ids, config.minibatch_size, seed=config.seed),
            rng=random.Random(config.seed),
            merges=MergeScheduler(config.use_merge, config.max_merge_invocations, config.merge_subsample_size),
        )
        self.files = LogDirFiles(self.log_dir, self.fingerprint) if self.log_dir else None
        self.proposals = JournaledProposals(self.files.proposal_journal if self.files else None)
        self.cache = EvaluationCache(self.files.eval_journal if self.files else None)
        #: Held-out selection (opt-in): the finalists' runs on these examples are kept back from the loop's budget.
        self.holdout_ids = list(holdout_ids)
        self._holdout_reserve = reserve(config.holdout_top_k, len(self.holdout_ids)) if self.holdout_ids else 0
        #: Typed events for user callbacks (gepa_dspy.engine.events); paid batches are observed only when someone listens.
        self.events = ev.EventDispatcher(callbacks, on_error=lambda: self.state.count("callback_errors"))
        if self.events:
            evaluator = ev.ObservedEvaluator(evaluator, self.events, lambda: (self.metric_calls, self.config.max_metric_calls))
        self.budgeted_evaluator = BudgetedEvaluator(evaluator, self.cache,
                                                    lambda: self.config.max_metric_calls - self._holdout_reserve,
                                                    config.max_consecutive_lm_failures)
        self.iteration_step = Iteration(
            self.state, config, self.val_ids, self.budgeted_evaluator, proposer, parent_selector, component_selector,
            acceptance or StrictImprovement(), merge_acceptance or NoWorseThanParent(), self.proposals, self.events,
        )
        self.parallel_rounds = (ParallelRounds(self.state, self.iteration_step, config.num_parallel_proposals,
                                               config.parallel_proposal_mode)
                                if config.num_parallel_proposals > 1 else None)

    # ------------------------------------------------------- what callers read
    #: The search state's pool, history and iteration count (read by compile, the MLflow tracker and tests).
    pool: CandidatePool = property(lambda self: self.state.pool)  # type: ignore[assignment]
    history: list[IterationRecord] = property(lambda self: self.state.history)  # type: ignore[assignment]
    iteration: int = property(lambda self: self.state.iteration)  # type: ignore[assignment]
    #: Paid runs so far: every cache entry was paid exactly once.
    metric_calls: int = property(lambda self: self.budgeted_evaluator.metric_calls)  # type: ignore[assignment]

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
                    if not self._next_iteration():
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
                if self.files is not None:
                    self.files.close()
        return self._result(stop_reason, holdout)

    def _initialise(self) -> None:
        """Score the seed program on the valset: candidate #0 of the pool."""
        seed_cost = self.budgeted_evaluator.cost(self.seed_candidate, self.val_ids)
        if seed_cost > self.budgeted_evaluator.remaining:
            raise BudgetTooSmallError(
                f"a budget of {self.config.max_metric_calls} metric calls cannot pay for evaluating the seed program "
                f"on the {len(self.val_ids)} validation examples"
                + (f" after keeping {self._holdout_reserve} back for held-out selection" if self._holdout_reserve else "")
                + "; raise max_metric_calls or use a smaller valset"
            )
        one_proposal = seed_cost + 2 * self.state.sampler.batch_size + len(self.val_ids)
        if self.config.max_metric_calls < one_proposal:
            logger.warning(
                "GEPA: a budget of %d metric calls cannot pay for even one proposal after the seed evaluation "
                "(seed %d + minibatches 2x%d + full validation %d = %d); the seed program will be returned unchanged.",
                self.config.max_metric_calls, seed_cost, self.state.sampler.batch_size, len(self.val_ids), one_proposal,
            )
        scores = [o.score for o in self.budgeted_evaluator.evaluate(self.seed_candidate, self.val_ids)]
        self.state.num_full_val_evals += 1
        self.iteration_step.add_candidate(self.seed_candidate, [], "seed", scores)
        logger.info("GEPA: seed program scores %.4f on %d validation examples", sum(scores) / len(scores), len(scores))

    def _next_iteration(self) -> bool:
        """One iteration (or, opt-in, one parallel round). False when the budget cannot pay for the next one."""
        # Progress (for the stall check) is a new candidate or a paid run. It is read from the history, not from
        # live counters, so a resumed run (whose journal replayed part of an interrupted iteration) decides exactly
        # as an uninterrupted one; an iteration served wholly from the cache must not keep the loop alive forever.
        state = self.state
        before = state.history[-1].metric_calls_after if state.history else state.curve[0][0]
        # Lower only after a resume that forgot runs failed in an LM outage (they no longer count as paid).
        before = min(before, self.metric_calls)
        if self.parallel_rounds is not None:
            proposals = self.parallel_rounds.round()
        else:
            proposal, cost = self.iteration_step.draw()
            needed, left = cost.minibatch + cost.full_val, self.budgeted_evaluator.remaining
            if needed > left:
                logger.info("GEPA: stopping: the next proposal could need %d metric calls, %d left", needed, left)
                return False
            self.iteration_step.start(proposal)
            self.iteration_step.run(proposal)
            self.iteration_step.commit(proposal)
            proposals = [proposal]
        if not proposals:
            return False
        progressed = any(p.status == "accepted" for p in proposals) or self.metric_calls > before
        state.stalled = 0 if progressed else state.stalled + len(proposals)
        return True

    def _should_stop(self) -> str | None:
        if self.state.stalled >= self.config.max_stalled_iterations:
            reason = f"stalled: {self.state.stalled} iterations in a row added no candidate and paid for no run"
            logger.warning("GEPA: %s (the parent was already perfect, proposals were duplicates or rejected, or reflections repeated earlier ones on the same parent, component and minibatch; see counters)", reason)
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

    def _select_on_holdout(self) -> HoldoutSelection | None:
        """Once the loop has ended, run the finalists on the held-out examples with the budget kept back."""
        if not self.holdout_ids:
            return None
        self._holdout_reserve = 0
        runs = self.budgeted_evaluator
        selection = select_on_holdout(self.pool, self.holdout_ids, self.config.holdout_top_k, runs.evaluate, runs.cost,
                                      lambda: runs.remaining)
        means = selection.means()
        logger.info(
            "GEPA: held-out selection on %d examples: %s; returning #%d (val best #%d)",
            len(self.holdout_ids), ", ".join(f"#{i} {m:.4f}" for i, m in means.items()) or "no finalist fit the budget",
            selection.chosen, self.pool.best_index(),
        )
        return selection

    # ------------------------------------------------------------- the result
    def _result(self, stop_reason: str, holdout: HoldoutSelection | None) -> SearchResult:
        if self.metric_calls > self.config.max_metric_calls:
            stop_reason = self._over_budget_reason(stop_reason)
        if not stop_reason.startswith("interrupted"):
            self._raise_if_no_run_worked()
            if self.budgeted_evaluator.consecutive_lm_failures:
                # Ended (budget or stall) while the LM looked down: say so rather than pass it off as a result.
                n = self.budgeted_evaluator.consecutive_lm_failures
                self.state.count("final_consecutive_lm_failures", n)
                note = (f"the last {n} run(s) failed with LM errors, so the LM may be down; fix it and compile again with "
                        "the same log_dir to run them again" if self.log_dir else
                        f"the last {n} run(s) failed with LM errors, so the LM may be down")
                logger.warning("GEPA: %s", note)
                stop_reason = f"{stop_reason} ({note})"
        best = self.pool.best_index()
        logger.info(
            "GEPA finished (%s): %d candidates, best #%d val %.4f, %d/%d metric calls, %d cache hits",
            stop_reason, len(self.pool), best, self.pool.aggregate_scores()[best],
            self.metric_calls, self.config.max_metric_calls, self.cache.hits,
        )
        self.events.emit(ev.RunEnded(stop_reason, self.metric_calls, self.config.max_metric_calls, len(self.pool), best,
                                     self.pool.aggregate_scores()[best]))
        return SearchResult(
            pool=self.pool,
            history=self.history,
            metric_calls=self.metric_calls,
            cache_hits=self.cache.hits,
            num_full_val_evals=self.state.num_full_val_evals,
            stop_reason=stop_reason,
            counters=self._all_counters(),
            curve=list(self.state.curve),
            val_ids=list(self.val_ids),
            holdout=holdout,
        )

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
        self.state.counters["metric_calls_over_budget"] = over
        message = (f"the resumed search in {self.log_dir} had already paid for {self.metric_calls} metric calls, {over} more "
                   f"than this compile's budget of {self.config.max_metric_calls}; no further run was paid for, and the "
                   "result is the search as it was saved")
        logger.warning("GEPA: %s", message)
        warnings.warn(f"GEPA: {message}", RuntimeWarning, stacklevel=4)
        return f"{stop_reason} ({message})"

    def _all_counters(self) -> dict[str, int]:
        counters = dict(self.state.counters)
        for outcome in self.cache.outcomes():
            if outcome.failure:
                counters[f"failed_runs_{outcome.failure}"] = counters.get(f"failed_runs_{outcome.failure}", 0) + 1
        counters["cache_hits"] = self.cache.hits
        if self.files is not None and self.files.torn_lines:
            counters["torn_journal_lines"] = self.files.torn_lines
        return counters

    # ---------------------------------------------------- saving and resuming
    def _checkpoint(self) -> None:
        if self.files is not None:
            self.files.save_checkpoint(self.state.state_dict(self.fingerprint, self.metric_calls, self.cache.hits))
            self.events.emit(ev.CheckpointSaved(str(self.files.checkpoint_path), self.iteration, self.metric_calls))

    def _restore(self) -> bool:
        """Load the journals and the checkpoint from ``log_dir``. True when there was a checkpoint."""
        if self.files is None:
            return False
        data = self.files.load(self.cache, self.proposals, self.seed_candidate, self.train_ids, len(self.val_ids),
                               self.config.perfect_score)
        if data is None:
            return False
        self.state.load_state_dict(data)
        self.cache.hits = int(data.get("cache_hits", 0))
        logger.info(
            "GEPA: resumed from %s at iteration %d with %d candidates and %d paid metric calls",
            self.log_dir, self.iteration, len(self.pool), self.metric_calls,
        )
        return True

    def _rerun_outage_failures(self) -> None:
        """Run again the pool's validation runs that failed because the LM was down (the journal forgot them),
        and update the pool's scores: a candidate is never judged by an outage."""
        if not self.cache.dropped_outage_runs:
            return
        logger.warning("GEPA: %d journaled run(s) failed because the LM was unreachable; they run again now and no "
                       "longer count against the budget", self.cache.dropped_outage_runs)
        self.state.count("outage_runs_forgotten_on_resume", self.cache.dropped_outage_runs)
        for i, candidate in enumerate(self.pool.candidates):
            missing = self.budgeted_evaluator.cost(candidate, self.val_ids)
            if not missing:
                continue
            if missing > self.budgeted_evaluator.remaining:
                self.state.count("outage_scores_kept_over_budget")
                logger.warning("GEPA: the budget left (%d) cannot rerun candidate #%d's %d runs that failed while the LM "
                               "was down; its validation scores keep failure_score there", self.budgeted_evaluator.remaining,
                               i, missing)
                continue
            self.pool.val_scores[i] = [o.score for o in self.budgeted_evaluator.evaluate(candidate, self.val_ids)]
            self.state.count("outage_runs_rerun", missing)
