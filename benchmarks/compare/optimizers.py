"""The compared optimizers behind one interface: ``OPTIMIZE[name](job) -> OptimizeOutcome``.

- ``baseline``: the unoptimized program.
- ``mipro``: ``dspy.MIPROv2`` (instructions and, at paper scale, few-shot demos), its proposer on the
  reflection LM. Its metric calls set the budget of the GEPA variants.
- ``gepa`` / ``gepa_merge``: ``gepa_dspy.GEPA`` without / with merge, checkpointing in the run folder.
- ``dspy_gepa`` / ``dspy_gepa_merge``: ``dspy.GEPA`` with the same settings.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import dspy

from .bootstrap_runs import counting_bootstrap_runs
from .config import MiproSettings
from .evaluation import SplitScores
from .lms import RunLMs
from .metering import CountingMetric, MetricCallCapExceeded


@dataclass
class OptimizeJob:
    """Inputs of one optimizer run. ``log_dir`` is the optimizer's own folder inside the run folder."""

    program: dspy.Module
    train: Sequence[dspy.Example]
    val: Sequence[dspy.Example]
    metric: Callable[..., Any]
    lms: RunLMs
    budget: int | None
    log_dir: Path
    seed: int
    num_threads: int
    mipro: MiproSettings = field(default_factory=MiproSettings)
    reflection_minibatch_size: int = 3
    #: Our GEPA's ``reflection_reply_format`` ("fenced" or "json_schema"); dspy.GEPA keeps its own.
    reflection_reply_format: str = "fenced"
    #: Called after every metric call the optimizer pays for (the run's progress file).
    on_rollout: Callable[[], None] | None = None


@dataclass
class OptimizeOutcome:
    """What an optimizer run produced.

    ``metric_calls``: rollouts spent, as the optimizer reports them when it does (GEPA variants count
    the calls of earlier attempts too when they resume), else as the metric wrapper counted them.
    ``curve``: (metric calls, best validation score so far) points. ``val``: the chosen program's
    per-example validation scores when the optimizer computed them (else the harness evaluates).
    """

    program: dspy.Module
    metric_calls: int
    counted_metric_calls: int
    feedback_metric_calls: int
    curve: list[tuple[int, float]]
    val: SplitScores | None = None
    details: dict[str, Any] = field(default_factory=dict)


def run_baseline(job: OptimizeJob) -> OptimizeOutcome:
    """No optimization: the fresh program as it is."""
    return OptimizeOutcome(program=job.program, metric_calls=0, counted_metric_calls=0, feedback_metric_calls=0,
                           curve=[])


def _running_best(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """(calls, best score so far) from (calls, score) points in discovery order."""
    out: list[tuple[int, float]] = []
    best = -math.inf
    for calls, score in sorted(points, key=lambda p: p[0]):
        best = max(best, score)
        out.append((int(calls), float(best)))
    return out


def _require_budget(job: OptimizeJob) -> int:
    if job.budget is None or job.budget < 1:
        raise ValueError(f"a GEPA run needs a positive metric-call budget, got {job.budget!r}")
    return job.budget


def run_gepa(job: OptimizeJob, *, use_merge: bool) -> OptimizeOutcome:
    """``gepa_dspy.GEPA`` with ``max_metric_calls = budget``; resumes from ``log_dir`` after a crash."""
    from gepa_dspy import GEPA

    counted = CountingMetric(job.metric, on_rollout=job.on_rollout)
    optimizer = GEPA(metric=counted, max_metric_calls=_require_budget(job), reflection_lm=job.lms.reflection,
                     reflection_minibatch_size=job.reflection_minibatch_size, use_merge=use_merge,
                     num_threads=job.num_threads, seed=job.seed, log_dir=str(job.log_dir), track_stats=True,
                     reflection_reply_format=job.reflection_reply_format)
    with dspy.context(lm=job.lms.task):
        program = optimizer.compile(job.program, trainset=list(job.train), valset=list(job.val))
    results = program.detailed_results
    best = results.best_idx
    val = SplitScores(scores=[float(s) for s in results.val_score_table[best]], errors=0, seconds=0.0,
                      source="optimizer")
    return OptimizeOutcome(
        program=program, metric_calls=int(results.total_metric_calls), counted_metric_calls=counted.rollouts,
        feedback_metric_calls=counted.feedback_calls,
        curve=[(int(c), float(s)) for c, s in results.score_curve], val=val,
        details={"candidates": len(results.candidates), "best_idx": best, "stop_reason": results.stop_reason,
                 "num_full_val_evals": results.num_full_val_evals, "cache_hits": results.cache_hits,
                 "val_aggregate_scores": results.val_aggregate_scores, "parents": [list(p) for p in results.parents],
                 "counters": dict(results.counters)},
    )


def run_dspy_gepa(job: OptimizeJob, *, use_merge: bool) -> OptimizeOutcome:
    """``dspy.GEPA`` (the reference implementation) with the same budget and settings."""
    counted = CountingMetric(job.metric, on_rollout=job.on_rollout)
    optimizer = dspy.GEPA(metric=counted, max_metric_calls=_require_budget(job), reflection_lm=job.lms.reflection,
                          reflection_minibatch_size=job.reflection_minibatch_size, use_merge=use_merge,
                          num_threads=job.num_threads, seed=job.seed, log_dir=str(job.log_dir), track_stats=True)
    with dspy.context(lm=job.lms.task):
        program = optimizer.compile(job.program, trainset=list(job.train), valset=list(job.val))
    results = getattr(program, "detailed_results", None)
    if results is None:
        return OptimizeOutcome(program=program, metric_calls=counted.rollouts, counted_metric_calls=counted.rollouts,
                               feedback_metric_calls=counted.feedback_calls, curve=[])
    best = results.best_idx
    subscores = results.val_subscores[best]
    keys = sorted(subscores) if isinstance(subscores, dict) else range(len(subscores))
    val = None
    if len(subscores) == len(job.val):
        val = SplitScores(scores=[float(subscores[k]) for k in keys], errors=0, seconds=0.0, source="optimizer")
    curve = _running_best(list(zip(results.discovery_eval_counts, results.val_aggregate_scores)))
    reported = results.total_metric_calls
    return OptimizeOutcome(
        program=program, metric_calls=int(reported if reported is not None else counted.rollouts),
        counted_metric_calls=counted.rollouts, feedback_metric_calls=counted.feedback_calls, curve=curve, val=val,
        details={"candidates": len(results.candidates), "best_idx": best,
                 "num_full_val_evals": results.num_full_val_evals,
                 "val_aggregate_scores": [float(s) for s in results.val_aggregate_scores],
                 "parents": [list(p) for p in results.parents]},
    )


def mipro_expected_calls(trials: int, n_train: int, n_val: int, settings: MiproSettings) -> int:
    """An upper estimate of MIPROv2's metric calls for ``trials`` trials under ``settings.auto``.

    Evaluations: the default program plus every trial on the whole valset (on minibatches of 35 plus
    periodic full evaluations when the auto valset exceeds 50 examples, as DSPy does). Bootstrapping:
    at most one call per training example per candidate demo set.
    """
    from dspy.teleprompt.mipro_optimizer_v2 import AUTO_RUN_SETTINGS, MIN_MINIBATCH_SIZE

    auto = AUTO_RUN_SETTINGS[settings.auto]
    val_used = min(n_val, auto["val_size"])
    if val_used > MIN_MINIBATCH_SIZE:
        evaluations = 35 * trials + val_used * (trials // 5 + 2)
    else:
        evaluations = val_used * (trials + 1)
    return evaluations + auto["n"] * n_train


def mipro_trials(optimizer: Any, program: dspy.Module, settings: MiproSettings) -> int:
    """The number of trials MIPROv2 will run in ``settings.auto`` mode (DSPy's own formula)."""
    from dspy.teleprompt.mipro_optimizer_v2 import AUTO_RUN_SETTINGS

    zero_shot = settings.max_bootstrapped_demos == 0 and settings.max_labeled_demos == 0
    return int(optimizer._set_num_trials_from_num_candidates(program, zero_shot, AUTO_RUN_SETTINGS[settings.auto]["n"]))


def mipro_curve(trial_logs: dict[Any, Any], rollouts: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(curve, raw full evaluations) from MIPROv2's ``trial_logs``.

    MIPROv2 logs full-valset scores in percent with its evaluation calls so far (bootstrapping excluded).
    Bootstrapping runs first, so the curve's x is ``rollouts - last evaluation count + evaluation count``
    and its y the best score so far in [0, 1].
    """
    full = sorted((int(t.get("total_eval_calls_so_far", 0)), float(t["full_eval_score"]))
                  for t in trial_logs.values() if isinstance(t, dict) and "full_eval_score" in t)
    if not full:
        return [], []
    offset = max(0, rollouts - max(calls for calls, _ in full))
    return _running_best([(offset + calls, score / 100.0) for calls, score in full]), full


def mipro_metric_calls(trial_logs: dict[Any, Any], counted: CountingMetric, bootstrap_runs: int | None = None) -> int:
    """MIPROv2's rollouts: its bootstrapping program runs plus its own evaluation count.

    Every program run on an example counts, failed runs included, as in the GEPA variants' budgets; the
    metric wrapper alone would leave out runs that raised before the metric was called. So evaluations are
    MIPROv2's own count from its trial logs (every example it evaluated; not DSPy's straggler re-runs, which
    it did not mean to spend), and bootstrapping is ``bootstrap_runs`` (teacher runs counted by
    ``counting_bootstrap_runs``) or, when that is None, the runs whose metric call got a trace. Without trial
    logs, the evaluations are the wrapper's untraced calls.
    """
    evaluations = [int(t["total_eval_calls_so_far"]) for t in trial_logs.values()
                   if isinstance(t, dict) and "total_eval_calls_so_far" in t]
    evaluated = max(evaluations) if evaluations else counted.rollouts - counted.traced_rollouts
    bootstrapped = counted.traced_rollouts if bootstrap_runs is None else bootstrap_runs
    return bootstrapped + evaluated


def run_mipro(job: OptimizeJob) -> OptimizeOutcome:
    """``dspy.MIPROv2`` with ``auto`` and demo counts from the settings; the proposer uses the reflection LM.

    A ``CountingMetric`` counts its metric calls (bootstrapping and evaluations) and refuses calls beyond
    ``max_calls_factor`` times the expected count, so the run cannot loop forever; every LM call has a
    timeout. MIPROv2 keeps no resumable state, so a crashed run starts over (its log folder is cleared).
    """
    settings = job.mipro
    counted = CountingMetric(job.metric, scalar=True, on_rollout=job.on_rollout)
    if job.log_dir.exists():
        shutil.rmtree(job.log_dir)
    job.log_dir.mkdir(parents=True)
    # An evaluation stops only when every example fails: one unparsable reply from a small LM must score 0,
    # not end the run; past the cap, at most one valset's worth of examples runs before MIPROv2 stops.
    max_errors = max(10, len(job.val))
    optimizer = dspy.MIPROv2(metric=counted, prompt_model=job.lms.reflection, task_model=job.lms.task,
                             auto=settings.auto, max_bootstrapped_demos=settings.max_bootstrapped_demos,
                             max_labeled_demos=settings.max_labeled_demos, num_threads=job.num_threads,
                             max_errors=max_errors, seed=job.seed, verbose=False, track_stats=True,
                             log_dir=str(job.log_dir))
    trials = mipro_trials(optimizer, job.program, settings)
    expected = mipro_expected_calls(trials, len(job.train), len(job.val), settings)
    counted.cap = max(1, int(math.ceil(expected * settings.max_calls_factor)))
    try:
        with dspy.context(lm=job.lms.task), counting_bootstrap_runs() as bootstrap:
            program = optimizer.compile(job.program, trainset=list(job.train), valset=list(job.val), seed=job.seed)
    except MetricCallCapExceeded as exc:
        raise RuntimeError(f"MIPROv2 stopped: {exc} ({settings.max_calls_factor} x the expected {expected}); "
                           f"raise --mipro-max-calls-factor if this run is legitimately larger") from None
    best_val = getattr(program, "score", None)
    trial_logs = getattr(program, "trial_logs", {}) or {}
    bootstrap_runs = None if bootstrap is None else bootstrap.runs
    spent = mipro_metric_calls(trial_logs, counted, bootstrap_runs)
    curve, full_evals = mipro_curve(trial_logs, spent)
    return OptimizeOutcome(
        program=program, metric_calls=spent, counted_metric_calls=counted.rollouts,
        feedback_metric_calls=counted.feedback_calls, curve=curve,
        details={"auto": settings.auto, "trials": trials, "max_bootstrapped_demos": settings.max_bootstrapped_demos,
                 "max_labeled_demos": settings.max_labeled_demos, "expected_metric_calls": expected,
                 "metric_call_cap": counted.cap, "max_errors": max_errors, "bootstrap_runs": bootstrap_runs, "best_val_score_percent": best_val, "full_eval_trials": full_evals},
    )


#: Optimizer name -> runner.
OPTIMIZE: dict[str, Callable[[OptimizeJob], OptimizeOutcome]] = {
    "baseline": run_baseline,
    "mipro": run_mipro,
    "gepa": lambda job: run_gepa(job, use_merge=False),
    "gepa_merge": lambda job: run_gepa(job, use_merge=True),
    "dspy_gepa": lambda job: run_dspy_gepa(job, use_merge=False),
    "dspy_gepa_merge": lambda job: run_dspy_gepa(job, use_merge=True),
}
