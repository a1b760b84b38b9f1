"""``GEPA``: the DSPy Teleprompter front. ``__init__`` stores settings; ``compile`` does the work."""

from __future__ import annotations

import copy
import dataclasses
import random
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import dspy

from .adapter.compat import Teleprompter, model_metadata_memo
from .adapter.best_outputs import best_outputs_valset
from .arguments import check_arguments, resolve_arguments
from .adapter.cost_ledger import CostLedger, CostLimit, LedgerSaver, MeteredEvaluator, MeteredProposer
from .adapter.custom_proposer import CustomInstructionProposer, InstructionProposerFn
from .adapter.evaluation import DSPyEvaluator
from .adapter.fingerprint import examples_digest, run_identity
from .adapter.objectives import objective_summary
from .adapter.progress_bar import BudgetProgressBar
from .adapter.progress_log import progress_display_enabled, progress_logging
from .adapter.program import build_program, named_predictors, seed_candidate
from .adapter.reflection import ReflectionProposer
from .adapter.snapshot import to_jsonable
from .budget import AUTO_CANDIDATES, BudgetPlan, auto_budget, full_evals_budget
from .engine.candidate import candidate_key
from .engine.config import SearchConfig
from .engine.events import RunStarted
from .engine.search_result import SearchResult
from .engine.search import CHECKPOINT_FILE, GEPASearch
from .engine.strategies import (ComponentSelector, ParentSelector, ParetoParentSelector, SearchStateView,
                                make_component_selector, make_parent_selector)
from .gepa_kwargs import GepaKwargs, parse_gepa_kwargs
from .adapter.mlflow_tracking import MlflowTracker, import_mlflow
from .results import DetailedResults

logger = logging.getLogger("gepa_dspy")



class GEPA(Teleprompter):
    """Reflective prompt evolution with Pareto candidate selection (Agrawal et al. 2025), for DSPy.

    A drop-in replacement for ``dspy.GEPA``::

        optimizer = GEPA(metric=metric, auto="light", reflection_lm=dspy.LM("openai/gpt-4.1"))
        optimized = optimizer.compile(program, trainset=train, valset=val)

    Args:
        metric: ``metric(gold, pred, trace=None, pred_name=None, pred_trace=None)`` returning a number or
            ``dspy.Prediction(score=..., feedback=...)`` (see ``ScoreWithFeedback``). Called with
            ``pred_name``/``pred_trace`` to get feedback on one predictor during reflection.
        auto: ``"light" | "medium" | "heavy"``: the number of metric calls ``dspy.GEPA.auto_budget`` gives for the
            same program and valset (see ``gepa_dspy.budget.auto_budget``). The plan (the budget and how many
            proposals it buys) is logged at the start of ``compile``.
        max_metric_calls: budget as a number of metric calls (one program run on one example).
        max_full_evals: budget as ``max_full_evals * (len(trainset) + len(valset))`` metric calls (``len(valset)``
            is 0 when no valset is given, as in dspy.GEPA).
            Exactly one of ``auto``, ``max_metric_calls`` and ``max_full_evals`` must be given.
        reflection_lm: the LM that writes new instructions (default: the configured ``dspy.settings.lm``).
        reflection_minibatch_size: training examples per reflection step.
        reflection_reply_format: how the reflection LM replies (gepa_dspy only). ``"fenced"`` (default): the new
            instruction in a fenced block, as in the paper. ``"json_schema"``: a JSON object
            ``{"instruction": ...}``, requested with an OpenAI-style ``response_format`` JSON schema, which
            servers that enforce schemas (llama.cpp, OpenAI) keep to while decoding. Use it for small reflection
            LMs that cannot keep to a fence (docs/compare.md has a 0.5B model's record). Replies that break the
            format are rejected and counted either way.
        candidate_selection_strategy: ``"pareto"`` or ``"current_best"``, or a ``ParentSelector``.
        component_selector: ``"round_robin"`` or ``"all"``; a function with ``dspy.GEPA``'s selector signature,
            ``fn(state, trajectories, subsample_scores, candidate_idx, candidate) -> [component names]`` (``state.i``
            is the iteration from 0; ``trajectories`` dspy's dicts with ``example``, ``prediction``, ``trace``,
            ``score``); or an object with ``select(pool, parent_id)`` (``gepa_dspy.engine.strategies``).
        skip_perfect_score: propose nothing when the parent is already perfect on the minibatch.
        perfect_score: the best score the metric can give. failure_score: the score of a failed run.
        add_format_failure_as_feedback: show unparsable LM outputs to the reflection LM as feedback.
        use_merge / max_merge_invocations: system-aware crossover, attempted at most this many times.
        num_threads: examples evaluated concurrently: a cap on program runs in progress at any moment, shared
            by all proposals in flight.
        num_parallel_proposals: proposals per round (gepa_dspy only; default 1, the paper's sequential loop).
            With k > 1, each round draws k parents and minibatches in order from the seeded RNG, runs the k
            parent minibatches, k reflection calls, k child minibatches and the winners' validation runs
            concurrently (still at most ``num_threads`` program runs at once; up to k reflection calls may
            be in flight besides), then adds the winners to the pool in draw order. This keeps more LM calls
            in flight and shortens wall time. The one change in semantics: proposals of the same round are
            all drawn from the pool as it was at the start of the round, so they do not see each other's
            acceptance. Results stay deterministic for a seed, the budget is never exceeded, and ``log_dir``
            resume is exact. See docs/orchestration.md for measured speed and quality.
        parallel_proposal_mode: how the proposals of a round relate when ``num_parallel_proposals`` > 1.
            ``"independent"`` (as above): every winner of the round joins the pool. ``"prefetch"``: the search
            takes exactly the sequential loop's decisions; proposal j of a round is drawn assuming proposals
            1..j-1 lose and runs only its parent minibatch and reflection ahead; its child minibatch waits for
            the verdicts of proposals 1..j-1, and when one of them won it is discarded (counted in
            ``detailed_results.counters["prefetched_proposals_discarded"]``) and drawn again from the new pool,
            so a discarded proposal has paid for its parent minibatch only (cached, free if drawn again).
        seed: seeds parent selection, minibatches and merges.
        log_dir: where the search state is checkpointed; ``compile`` with the same ``log_dir`` resumes.
            Create the file ``log_dir/stop`` to ask a running search to stop after its current step.
        track_stats: attach ``detailed_results`` (a ``DetailedResults``) to the returned program.
        track_best_outputs: also fill ``detailed_results.best_outputs_valset`` (needs ``track_stats``): per
            validation example, ``(candidate index, prediction)`` for every candidate with the best score there.
            With ``valset=trainset`` this is GEPA as inference-time search over a batch.
        warn_on_score_mismatch: warn (once) when the metric called with ``pred_name`` for a predictor's feedback
            returns a different score than for the whole program. Scores always come from the program-level
            call; every mismatch is counted in ``detailed_results.counters``.
        instruction_proposer: a function with ``dspy.GEPA``'s ``ProposalFn`` signature,
            ``fn(candidate, reflective_dataset, components_to_update) -> {component: new instruction}``, used
            instead of our reflection prompt (called with ``reflection_lm`` configured, one component at a
            time). See ``gepa_dspy.adapter.custom_proposer`` for what it receives and how bad replies count.
        callbacks: functions called with typed events while the search runs (``gepa_dspy.engine.events``: run
            start/end, iteration start, proposal made/rejected, child accepted/rejected, candidate added, merge,
            evaluation batch done, budget update, checkpoint saved). A callback that raises is logged and
            counted in ``counters["callback_errors"]``; the search goes on. See docs/observability.md.
        display_progress: show a tqdm bar over the metric-call budget (ETA, best score) while ``compile`` runs.
            Default (None): shown while DSPy's logging is on, so ``dspy.disable_logging()`` hides it.
        max_cost: stop before the next round once the LM calls of this run cost this many dollars (litellm's
            prices; calls to unpriced models are counted apart). Everything already paid for is kept. Tokens and
            dollars per role are in ``detailed_results.cost_ledger`` (``gepa_dspy.adapter.cost_ledger``).

        gepa_kwargs: ``dspy.GEPA``'s pass-through options, read for our engine (``gepa_dspy.gepa_kwargs``):
            ``frontier_type`` (``"instance"``, ``"objective"``, ``"hybrid"``, ``"cartesian"``), ``stop_callbacks``
            (gepa's stoppers or any ``stopper(state) -> bool``), the MLflow options; options we cannot honour raise.
        use_mlflow: log the run to MLflow (params, per-iteration metrics, candidates, best program); needs the
            ``mlflow`` extra. ``use_wandb`` and its options are accepted and ignored with a warning.
        code_proposer: not supported (dspy.Flex code evolution); raises ``NotImplementedError``, see docs/drop-in.md.

    Metric calls are counted exactly: every program run the optimizer pays for (seed evaluation, both
    minibatch runs, full validation runs, merge subsamples) counts once; repeated runs of an identical
    candidate on the same example are served from the cache and do not count. The search never starts
    a step the remaining budget cannot pay for.

    After ``compile``: ``best_candidate_``, ``detailed_results_`` and ``search_result_`` hold the outcome.
    """

    def __init__(
        self,
        metric: Callable[..., Any],
        *,
        auto: Literal["light", "medium", "heavy"] | None = None,
        max_metric_calls: int | None = None,
        max_full_evals: int | None = None,
        reflection_lm: dspy.BaseLM | None = None,
        reflection_minibatch_size: int = 3,
        candidate_selection_strategy: Literal["pareto", "current_best"] | ParentSelector = "pareto",
        component_selector: Literal["round_robin", "all"] | ComponentSelector | Callable[..., list[str]] = "round_robin",
        skip_perfect_score: bool = True,
        perfect_score: float = 1.0,
        failure_score: float = 0.0,
        add_format_failure_as_feedback: bool = False,
        use_merge: bool = True,
        max_merge_invocations: int | None = 5,
        num_threads: int | None = None,
        seed: int | None = 0,
        log_dir: str | None = None,
        track_stats: bool = False,
        track_best_outputs: bool = False,
        warn_on_score_mismatch: bool = True,
        instruction_proposer: InstructionProposerFn | None = None,
        max_reflection_attempts: int = 3,
        max_consecutive_lm_failures: int = 20,
        num_parallel_proposals: int = 1,
        parallel_proposal_mode: Literal["independent", "prefetch"] = "independent",
        reflection_reply_format: Literal["fenced", "json_schema"] = "fenced",
        callbacks: Sequence[Callable[[Any], object]] | None = None,
        display_progress: bool | None = None,
        max_cost: float | None = None,
        val_policy: Literal["full", "racing"] = "full",
        selection_fraction: float | None = None,
        selection_set: Sequence[dspy.Example] | None = None,
        selection_top_k: int = 3,
        **dspy_only_options: Any,
    ) -> None:
        super().__init__()
        check_arguments({name: value for name, value in locals().items() if name not in ("self", "dspy_only_options", "__class__")},
                        dspy_only_options)
        # Stored as given; checked now (dspy.GEPA's errors), read again by compile through _gepa_options().
        self.gepa_kwargs = dspy_only_options.get("gepa_kwargs")
        self.use_mlflow = dspy_only_options.get("use_mlflow", False)
        if self._mlflow_enabled(self._gepa_options()):
            import_mlflow()  # a missing optional dependency fails here, not after the seed evaluation

        self.metric = metric
        self.auto = auto
        self.max_metric_calls = max_metric_calls
        self.max_full_evals = max_full_evals
        self.reflection_lm = reflection_lm
        self.reflection_minibatch_size = reflection_minibatch_size
        self.candidate_selection_strategy = candidate_selection_strategy
        self.component_selector = component_selector
        self.skip_perfect_score = skip_perfect_score
        self.perfect_score = perfect_score
        self.failure_score = failure_score
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.use_merge = use_merge
        self.max_merge_invocations = max_merge_invocations
        self.num_threads = num_threads
        self.seed = seed
        self.log_dir = log_dir
        self.track_stats = track_stats
        self.track_best_outputs = track_best_outputs
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.instruction_proposer = instruction_proposer
        self.max_reflection_attempts = max_reflection_attempts
        self.reflection_reply_format = reflection_reply_format
        self.max_consecutive_lm_failures = max_consecutive_lm_failures
        self.num_parallel_proposals = num_parallel_proposals
        self.parallel_proposal_mode = parallel_proposal_mode
        self.callbacks = list(callbacks or [])
        self.display_progress = display_progress
        self.max_cost = max_cost
        self.val_policy = val_policy
        self.selection_fraction = selection_fraction
        self.selection_set = selection_set
        self.selection_top_k = selection_top_k

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: Sequence[dspy.Example],
        valset: Sequence[dspy.Example] | None = None,
        teacher: dspy.Module | None = None,
        **kwargs: Any,
    ) -> dspy.Module:
        """Optimize ``student``'s instructions; returns a new program (``student`` is not modified)."""
        if teacher is not None:
            warnings.warn("GEPA does not use a teacher program; the teacher argument is ignored", stacklevel=2)
        if kwargs:
            raise TypeError(f"compile() got unexpected keyword argument(s): {sorted(kwargs)}")
        with progress_logging(logger), model_metadata_memo():
            return self._compile(student, trainset, valset)

    def _compile(self, student: dspy.Module, trainset: Sequence[dspy.Example],
                 valset: Sequence[dspy.Example] | None) -> dspy.Module:
        run = resolve_arguments(self)
        predictors = named_predictors(student)
        train = _check_examples("trainset", trainset)
        same_sets = valset is None or valset is trainset
        val = train if same_sets else _check_examples("valset", valset)  # type: ignore[arg-type]
        reflection_lm = self.reflection_lm or dspy.settings.lm
        if reflection_lm is None:
            raise ValueError("GEPA needs a reflection_lm (or an LM configured with dspy.configure(lm=...))")
        if self.reflection_lm is None:
            logger.warning("GEPA: no reflection_lm given; using the configured task LM %s", getattr(reflection_lm, "model", reflection_lm))

        val, held_out = self._split_selection_set(val, same_sets, run.seed)
        train_ids = [f"t{i}" for i in range(len(train))]
        val_ids = train_ids if same_sets else _validation_ids(train_ids, train, val)
        held_out_ids = [f"s{j}" for j in range(len(held_out))]
        examples = dict(zip(train_ids, train)) | dict(zip(val_ids, val)) | dict(zip(held_out_ids, held_out))
        budget = self._budget(len(predictors), len(train), 0 if valset is None else len(val), len(val))
        seed = seed_candidate(student)

        evaluator = DSPyEvaluator(
            student, examples, self.metric,
            num_threads=run.num_threads, failure_score=run.failure_score, perfect_score=run.perfect_score,
        )
        reflection_proposer = ReflectionProposer(
            reflection_lm, evaluator,
            add_format_failure_as_feedback=self.add_format_failure_as_feedback,
            max_attempts=self.max_reflection_attempts,
            warn_on_score_mismatch=self.warn_on_score_mismatch,
            reply_format=self.reflection_reply_format,
        )
        proposer: ReflectionProposer | CustomInstructionProposer = reflection_proposer
        if self.instruction_proposer is not None:
            proposer = CustomInstructionProposer(self.instruction_proposer, reflection_lm, reflection_proposer,
                                                 max_attempts=self.max_reflection_attempts)
        progress_bar = BudgetProgressBar() if progress_display_enabled(self.display_progress) else None
        resuming = bool(self.log_dir) and Path(self.log_dir, CHECKPOINT_FILE).exists()
        ledger = CostLedger.load(self.log_dir) if resuming else CostLedger()
        self.cost_ledger_ = ledger
        callbacks = [progress_bar] if progress_bar else []
        if self.log_dir:
            callbacks.append(LedgerSaver(ledger, self.log_dir))
            run_info = {"budget": budget, "num_train": len(train), "num_val": len(val),
                        "reflection_lm": str(getattr(reflection_lm, "model", reflection_lm)),
                        "task_lm": str(getattr(dspy.settings.lm, "model", dspy.settings.lm))}
            # What a report of a running search needs besides the checkpoint; written once the search holds log_dir.
            callbacks.append(lambda event: isinstance(event, RunStarted) and Path(self.log_dir, "run.json").write_text(
                json.dumps(run_info, indent=1)))
        options = self._gepa_options()
        config = SearchConfig(
            timeout_seconds=options.timeout_seconds,
            max_iterations_without_improvement=options.max_iterations_without_improvement,
            score_threshold=options.score_threshold,
            max_metric_calls=budget,
            minibatch_size=run.reflection_minibatch_size,
            perfect_score=run.perfect_score,
            skip_perfect_score=run.skip_perfect_score,
            use_merge=run.use_merge,
            max_merge_invocations=run.max_merge_invocations,
            seed=run.seed,
            max_consecutive_lm_failures=self.max_consecutive_lm_failures,
            num_parallel_proposals=self.num_parallel_proposals,
            parallel_proposal_mode=self.parallel_proposal_mode,
            val_policy=self.val_policy,
            holdout_top_k=self.selection_top_k,
        )
        parent_selector = make_parent_selector(self.candidate_selection_strategy)
        if options.frontier_type != "instance" and isinstance(parent_selector, ParetoParentSelector):
            parent_selector = ParetoParentSelector(options.frontier_type)
        search = GEPASearch(
            seed, train_ids, val_ids, MeteredEvaluator(evaluator, ledger), MeteredProposer(proposer, ledger), config,
            parent_selector=parent_selector,
            component_selector=make_component_selector(self.component_selector, evaluator.trajectories),
            log_dir=self.log_dir,
            fingerprint=self._fingerprint(seed, train, None if same_sets else val, held_out) | run_identity(student, self.metric),
            holdout_ids=held_out_ids,
            callbacks=[*callbacks, *self.callbacks],
            stop_conditions=[CostLimit(ledger, self.max_cost)] if self.max_cost is not None else [],
        )
        if isinstance(parent_selector, ParetoParentSelector) and parent_selector.frontier_type != "instance":
            parent_selector.objectives = lambda pool: _objective_table(pool, val_ids, search.cache.get)
        for stopper in options.stoppers:
            search.stop_conditions.append(_stop_condition(stopper, search))
        logger.info(
            "GEPA: %d predictor(s), %d train / %d val examples, budget %d metric calls",
            len(predictors), len(train), len(val), budget,
        )
        tracker = self._mlflow_tracker(options, budget, predictors, len(train), len(val))
        if tracker is not None:
            search.stop_conditions.append(lambda: tracker.log_progress(search))  # an observer: never stops
        try:
            try:
                result = search.run()
            finally:
                if progress_bar:
                    progress_bar.close()
            program = self._finish(student, result, budget, evaluator, proposer, search)
        except BaseException:
            if tracker is not None:
                tracker.end(failed=True)
            raise
        if tracker is not None:
            tracker.log_progress(search)
            tracker.log_outcome(self.detailed_results_, program)
            self.detailed_results_.counters["mlflow_log_failures"] = tracker.failures
            tracker.end()
        return program

    def _gepa_options(self) -> GepaKwargs:
        """What ``gepa_kwargs`` asks for (checked; dspy.GEPA's errors otherwise)."""
        return parse_gepa_kwargs(self.gepa_kwargs)

    def _mlflow_enabled(self, options: GepaKwargs) -> bool:
        """MLflow tracking is on through ``use_mlflow=True`` or ``gepa_kwargs={"use_mlflow": True}``, as in dspy."""
        return bool(self.use_mlflow or options.mlflow.get("use_mlflow"))

    def _mlflow_tracker(self, options: GepaKwargs, budget: int, predictors: list[tuple[str, Any]], n_train: int,
                        n_val: int) -> MlflowTracker | None:
        """The MLflow run for ``use_mlflow`` (started, with this run's settings as params), or None."""
        if not self._mlflow_enabled(options):
            return None
        mlflow_options = options.mlflow
        tracker = MlflowTracker(tracking_uri=mlflow_options.get("mlflow_tracking_uri"),
                                experiment_name=mlflow_options.get("mlflow_experiment_name"),
                                attach_existing=bool(mlflow_options.get("mlflow_attach_existing")),
                                key_prefix=mlflow_options.get("tracking_key_prefix") or "")
        tracker.start({
            "optimizer": "gepa_dspy.GEPA", "max_metric_calls": budget, "auto": self.auto,
            "max_full_evals": self.max_full_evals, "seed": self.seed,
            "reflection_minibatch_size": self.reflection_minibatch_size,
            "candidate_selection_strategy": _strategy_label(self.candidate_selection_strategy),
            "component_selector": _strategy_label(self.component_selector),
            "frontier_type": options.frontier_type, "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations, "skip_perfect_score": self.skip_perfect_score,
            "perfect_score": self.perfect_score, "failure_score": self.failure_score,
            "num_threads": self.num_threads, "num_parallel_proposals": self.num_parallel_proposals,
            "reflection_lm": str(getattr(self.reflection_lm, "model", None)),
            "trainset_size": n_train, "valset_size": n_val, "predictors": [name for name, _ in predictors],
            "log_dir": self.log_dir,
        })
        return tracker

    def _finish(self, student: dspy.Module, result: SearchResult, budget: int, evaluator: DSPyEvaluator,
                proposer: ReflectionProposer | CustomInstructionProposer, search: GEPASearch) -> dspy.Module:
        run = resolve_arguments(self)
        result.counters["lm_retries"] = evaluator.lm_retry_count
        result.counters["reflection_feedback_fallbacks"] = proposer.feedback_fallbacks
        result.counters["predictor_feedback_score_mismatches"] = proposer.score_mismatches
        result.counters.update(proposer.reflection_counters())
        if isinstance(proposer, CustomInstructionProposer):
            result.counters["instruction_proposer_ignored_components"] = proposer.ignored_components
        best_outputs = None
        if self.track_best_outputs:
            best_outputs, left_out = best_outputs_valset(result, search.cache.get)
            result.counters["best_outputs_left_out"] = left_out
        self.search_result_ = result
        self.best_candidate_ = dict(result.best_candidate)
        # A copy, so the candidate programs are unaffected by later changes to the student.
        base = student.deepcopy() if hasattr(student, "deepcopy") else copy.deepcopy(student)
        self.detailed_results_ = DetailedResults.from_search(
            result, build_program=lambda candidate: build_program(base, candidate), seed=run.seed,
            log_dir=self.log_dir, budget=budget, best_outputs_valset=best_outputs,
            objectives=objective_summary(result, search.cache.get),
        )
        # DetailedResults is frozen (as dspy's DspyGEPAResult): the ledger goes in through a replaced copy.
        self.detailed_results_ = dataclasses.replace(self.detailed_results_, cost_ledger=self.cost_ledger_.to_dict())
        logger.info("GEPA cost: %s", self.cost_ledger_.summary())
        if self.log_dir:
            Path(self.log_dir, "results.json").write_text(json.dumps(to_jsonable(self.detailed_results_.to_dict()), indent=1))
        program = build_program(student, result.best_candidate)
        if self.track_stats:
            program.detailed_results = self.detailed_results_
        return program

    def _budget(self, num_predictors: int, n_train: int, n_given_val: int, n_val: int) -> int:
        """Metric calls, as dspy.GEPA computes them. ``n_given_val`` is 0 when no valset was passed (dspy then
        counts the trainset once for ``max_full_evals``); ``n_val`` the size of the set used for validation."""
        run = resolve_arguments(self)
        if run.max_metric_calls is not None:
            budget = run.max_metric_calls
        elif run.max_full_evals is not None:
            budget = full_evals_budget(run.max_full_evals, n_train, n_given_val)
        else:
            assert self.auto is not None
            budget = auto_budget(self.auto, num_predictors, n_val)
        plan = BudgetPlan.for_budget(budget, run.reflection_minibatch_size, n_val, n_train)
        how = (f"auto={self.auto!r}" if self.auto else f"max_full_evals={self.max_full_evals}" if self.max_full_evals
               else "max_metric_calls")
        logger.info("GEPA plan (%s): %s", how, plan.describe())
        return budget

    def _split_selection_set(self, val: list[dspy.Example], same_sets: bool,
                             seed: int) -> tuple[list[dspy.Example], list[dspy.Example]]:
        """(the valset the search uses, the held-out selection set it never sees)."""
        if self.selection_set is not None:
            return val, _check_examples("selection_set", self.selection_set)
        if self.selection_fraction is None:
            return val, []
        if same_sets:
            raise ValueError("selection_fraction keeps part of the valset back, so it needs a valset separate from the "
                             "trainset; pass valset=... (or selection_set=... with examples of its own)")
        k = max(1, round(self.selection_fraction * len(val)))
        if k >= len(val):
            raise ValueError(f"selection_fraction={self.selection_fraction} of a valset of {len(val)} leaves no "
                             "validation example for the search; use a larger valset or a smaller fraction")
        held = set(random.Random(seed).sample(range(len(val)), k))
        logger.info("GEPA: held-out selection: %d of %d validation examples kept back; the %d best candidates by "
                    "validation are scored on them at the end", k, len(val), self.selection_top_k)
        return [ex for j, ex in enumerate(val) if j not in held], [ex for j, ex in enumerate(val) if j in held]

    def _fingerprint(self, seed: dict[str, str], train: Sequence[dspy.Example], val: Sequence[dspy.Example] | None,
                     held_out: Sequence[dspy.Example] = ()) -> dict[str, Any]:
        """What must match for a checkpoint in ``log_dir`` to be resumed by this call."""
        run = resolve_arguments(self)
        fingerprint: dict[str, Any] = {
            "predictors": sorted(seed),
            "seed_candidate": candidate_key(seed),
            "trainset": examples_digest(train),
            "valset": "same as trainset" if val is None else examples_digest(val),
            "seed": run.seed,
            "reflection_minibatch_size": run.reflection_minibatch_size,
            "candidate_selection_strategy": str(getattr(self.candidate_selection_strategy, "name", self.candidate_selection_strategy)),
            "component_selector": _strategy_label(self.component_selector),
            "use_merge": run.use_merge,
            "max_merge_invocations": run.max_merge_invocations,
            "skip_perfect_score": run.skip_perfect_score,
            "perfect_score": run.perfect_score,
            "failure_score": run.failure_score,
        }
        frontier_type = self._gepa_options().frontier_type
        if frontier_type != "instance":
            fingerprint["frontier_type"] = frontier_type
        if held_out:
            fingerprint["selection_set"] = examples_digest(held_out)
            fingerprint["selection_top_k"] = self.selection_top_k
        if self.val_policy != "full":
            fingerprint["val_policy"] = self.val_policy
        if self.reflection_reply_format != "fenced":
            # Replayed proposals were written under the format; left out at the default for older checkpoints.
            fingerprint["reflection_reply_format"] = self.reflection_reply_format
        if self.num_parallel_proposals != 1:
            # Another k draws other rounds; left out at the default so older checkpoints stay loadable.
            fingerprint["num_parallel_proposals"] = self.num_parallel_proposals
            fingerprint["parallel_proposal_mode"] = self.parallel_proposal_mode
        return fingerprint


def _objective_table(pool: Any, val_ids: Sequence[str], lookup: Callable[[str, str], Any]) -> list[list[dict[str, float]]]:
    """The objectives every pool candidate's metric reported on every validation example (stored with its runs)."""
    table = []
    for candidate in pool.candidates:
        key = candidate_key(candidate)
        table.append([dict(getattr(lookup(key, v), "objectives", None) or {}) for v in val_ids])
    return table


def _stop_condition(stopper: Callable[[Any], bool], search: GEPASearch) -> Callable[[], str | None]:
    """An engine stop condition asking a gepa-style ``stopper(state) -> bool`` before every round."""
    label = getattr(stopper, "__name__", None) or type(stopper).__name__

    def condition() -> str | None:
        state = SearchStateView.of(search.pool, search.iteration, search.metric_calls)
        return f"stop_callbacks: {label} asked to stop" if stopper(state) else None

    return condition


def _strategy_label(spec: Any) -> str:
    """A name for a strategy that is the same in every process (a function's qualified name, not its repr)."""
    if isinstance(spec, str):
        return spec
    return str(getattr(spec, "name", None) or getattr(spec, "__qualname__", None) or type(spec).__qualname__)


def _check_examples(name: str, examples: Any) -> list[dspy.Example]:
    if examples is None or not hasattr(examples, "__len__") or len(examples) == 0:
        raise ValueError(f"{name} must be a non-empty list of dspy.Example")
    out = list(examples)
    for i, ex in enumerate(out):
        if not isinstance(ex, dspy.Example):
            raise TypeError(f"{name}[{i}] is a {type(ex).__name__}, not a dspy.Example")
        try:
            ex.inputs()
        except ValueError:
            raise ValueError(f"{name}[{i}] has no inputs marked; call .with_inputs(...) on your examples") from None
    return out


def _validation_ids(train_ids: list[str], train: Sequence[dspy.Example], val: Sequence[dspy.Example]) -> list[str]:
    """Ids of the validation examples: a validation example equal to a training one (same fields and values, e.g.
    ``valset=list(trainset)``) shares its id, so a run of a candidate on it is paid once and served from the cache
    for both roles; the others get ids of their own (``v<index>``)."""
    def identity(example: dspy.Example) -> tuple[str, tuple[str, ...]]:
        return examples_digest([example]), tuple(sorted(example.inputs().keys()))

    by_digest: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for example_id, example in zip(train_ids, train):
        by_digest.setdefault(identity(example), []).append(example_id)
    ids = []
    for j, example in enumerate(val):
        matches = by_digest.get(identity(example))
        ids.append(matches.pop(0) if matches else f"v{j}")  # each training id serves one validation example
    return ids

