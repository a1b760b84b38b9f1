"""The compared optimizers behind one interface: ``OPTIMIZE[name](job) -> OptimizeOutcome``: baseline (the
unoptimized program), mipro (``dspy.MIPROv2``), gepa / gepa_merge (``gepa_dspy.GEPA``) and dspy_gepa /
dspy_gepa_merge (``dspy.GEPA``). How each one's metric calls (rollouts) are counted: docs/compare.md."""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import dspy
from dspy.utils.callback import BaseCallback

from benchmarks.common import score_of

from .config import MiproSettings


@dataclass
class SplitScores:
    """Scores of one program on one split: per example (in split order), failed examples, and their mean.
    ``carried_over``: examples an interrupted earlier scoring of the same program had scored (``seconds`` is this
    scoring's time only)."""

    scores: list[float]
    errors: int = 0
    seconds: float = 0.0
    source: str = "runner"
    carried_over: int = 0

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "n": len(self.scores), "scores": self.scores, "errors": self.errors,
                "seconds": round(self.seconds, 2), "source": self.source, "carried_over": self.carried_over}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitScores":
        return cls(scores=[float(s) for s in data["scores"]], errors=int(data.get("errors", 0)),
                   seconds=float(data.get("seconds", 0.0)), source=str(data.get("source", "runner")),
                   carried_over=int(data.get("carried_over", 0)))


class CountingMetric:
    """Wraps a benchmark metric and counts, thread-safely, ``rollouts`` (calls without ``pred_name``) and
    ``feedback_calls`` (GEPA's calls with it). ``scalar=True`` returns the float score (for MIPROv2)."""

    def __init__(self, metric: Callable[..., Any], *, scalar: bool = False) -> None:
        self.metric = metric
        self.scalar = scalar
        self.rollouts = 0
        self.feedback_calls = 0
        self._lock = threading.Lock()

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> Any:
        with self._lock:
            if pred_name is None:
                self.rollouts += 1
            else:
                self.feedback_calls += 1
        if pred_name is None and pred_trace is None:
            result = self.metric(gold, pred, trace)
        else:
            result = self.metric(gold, pred, trace, pred_name, pred_trace)
        return score_of(result) if self.scalar else result


class ProgramRunCounter(BaseCallback):
    """Counts every top-level run of modules of one class, failed runs included, from any thread. DSPy drops a
    module's own callbacks when it copies it, so this goes into the global callbacks (``dspy.context``)."""

    def __init__(self, program_type: type) -> None:
        self.program_type = program_type
        self.runs = 0
        self.failed = 0
        self._open: set[str] = set()
        self._lock = threading.Lock()

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        # The enclosing modules are pushed only once the call has begun, so a top-level call sees none here.
        if type(instance) is self.program_type and not dspy.settings.get("caller_modules"):
            with self._lock:
                self._open.add(call_id)

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        with self._lock:
            if call_id in self._open:
                self._open.discard(call_id)
                self.runs += 1
                self.failed += exception is not None


@dataclass
class OptimizeJob:
    """Inputs of one optimizer run. ``log_dir`` is the optimizer's own folder inside the run folder."""

    program: dspy.Module
    train: Sequence[dspy.Example]
    val: Sequence[dspy.Example]
    metric: Callable[..., Any]
    #: The run's metered LMs, built on first use (``run.RunLMs``): ``lms.get("task")``, ``lms.get("reflection")``.
    lms: Any
    budget: int | None
    log_dir: Path
    seed: int
    num_threads: int
    program_runs: ProgramRunCounter
    mipro: MiproSettings = field(default_factory=MiproSettings)
    reflection_minibatch_size: int = 3
    #: Our GEPA's ``reflection_reply_format`` ("fenced" or "json_schema"); dspy.GEPA keeps its own.
    reflection_reply_format: str = "fenced"


@dataclass
class OptimizeOutcome:
    """What an optimizer run produced. ``metric_calls``: rollouts spent (as the optimizer reports them, else the
    program runs counted); ``curve``: (metric calls, best val score so far); ``val``: the optimizer's own val
    scores of the chosen program, if it computed them."""

    program: dspy.Module
    metric_calls: int
    counted_metric_calls: int
    feedback_metric_calls: int
    curve: list[tuple[int, float]]
    val: SplitScores | None = None
    details: dict[str, Any] = field(default_factory=dict)


def running_best(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """(calls, best score so far) from (calls, score) points."""
    ordered = sorted(points, key=lambda p: p[0])
    bests = itertools.accumulate((score for _, score in ordered), max)
    return [(int(calls), float(best)) for (calls, _), best in zip(ordered, bests)]


def _compile_gepa(job: OptimizeJob, gepa_class: Any, use_merge: bool, **extra: Any) -> tuple[Any, CountingMetric]:
    """``job.program`` compiled by ``gepa_class`` (ours or dspy.GEPA) with the same settings, and its metric wrapper."""
    if job.budget is None or job.budget < 1:
        raise ValueError(f"a GEPA run needs a positive metric-call budget, got {job.budget!r}")
    counted = CountingMetric(job.metric)
    optimizer = gepa_class(metric=counted, max_metric_calls=job.budget, reflection_lm=job.lms.get("reflection"),
                           reflection_minibatch_size=job.reflection_minibatch_size, use_merge=use_merge,
                           num_threads=job.num_threads, seed=job.seed, log_dir=str(job.log_dir), track_stats=True,
                           **extra)
    with dspy.context(lm=job.lms.get("task")):
        return optimizer.compile(job.program, trainset=list(job.train), valset=list(job.val)), counted


def run_baseline(job: OptimizeJob) -> OptimizeOutcome:
    """No optimization: the fresh program as it is."""
    return OptimizeOutcome(program=job.program, metric_calls=0, counted_metric_calls=0, feedback_metric_calls=0,
                           curve=[])


def run_gepa(job: OptimizeJob, *, use_merge: bool, **options: Any) -> OptimizeOutcome:
    """``gepa_dspy.GEPA`` with ``max_metric_calls = budget`` and ``options`` (issue 30's validation policies);
    resumes from ``log_dir`` after a crash."""
    from gepa_dspy import GEPA

    program, counted = _compile_gepa(job, GEPA, use_merge, reflection_reply_format=job.reflection_reply_format,
                                     **options)
    results = program.detailed_results
    selected = getattr(results, "selected_idx", None)  # held-out selection: chosen on the held-out examples
    best = results.best_idx if selected is None else selected
    scores = [float(s) for s in results.val_score_table[best]]
    return OptimizeOutcome(
        program=program, metric_calls=int(results.total_metric_calls), counted_metric_calls=counted.rollouts,
        feedback_metric_calls=counted.feedback_calls, curve=[(int(c), float(s)) for c, s in results.score_curve],
        # With examples held out, the search's valset is part of job.val: the runner scores the whole of it.
        val=SplitScores(scores=scores, source="optimizer") if len(scores) == len(job.val) else None,
        details={"candidates": len(results.candidates), "best_idx": best, "stop_reason": results.stop_reason,
                 "num_full_val_evals": results.num_full_val_evals, "cache_hits": results.cache_hits,
                 "val_aggregate_scores": results.val_aggregate_scores, "parents": [list(p) for p in results.parents],
                 "counters": dict(results.counters)},
    )


def run_dspy_gepa(job: OptimizeJob, *, use_merge: bool) -> OptimizeOutcome:
    """``dspy.GEPA`` (the reference implementation) with the same budget and settings."""
    program, counted = _compile_gepa(job, dspy.GEPA, use_merge)
    results = program.detailed_results  # track_stats=True
    best = results.best_idx
    subscores = results.val_subscores[best]
    keys = sorted(subscores) if isinstance(subscores, dict) else range(len(subscores))
    scores = [float(subscores[k]) for k in keys]
    val = SplitScores(scores, source="optimizer") if len(scores) == len(job.val) else None
    reported = results.total_metric_calls
    return OptimizeOutcome(
        program=program, metric_calls=int(reported if reported is not None else counted.rollouts),
        counted_metric_calls=counted.rollouts, feedback_metric_calls=counted.feedback_calls,
        curve=running_best(list(zip(results.discovery_eval_counts, results.val_aggregate_scores))), val=val,
        details={"candidates": len(results.candidates), "best_idx": best,
                 "num_full_val_evals": results.num_full_val_evals,
                 "val_aggregate_scores": [float(s) for s in results.val_aggregate_scores],
                 "parents": [list(p) for p in results.parents]},
    )


def mipro_curve(trial_logs: dict[Any, Any], rollouts: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(curve, raw full evaluations) from MIPROv2's ``trial_logs`` (full-valset scores in percent, evaluation calls
    without bootstrapping, which runs first: x is ``rollouts - last evaluation count + evaluation count``)."""
    full = sorted((int(t.get("total_eval_calls_so_far", 0)), float(t["full_eval_score"]))
                  for t in trial_logs.values() if isinstance(t, dict) and "full_eval_score" in t)
    if not full:
        return [], []
    offset = max(0, rollouts - max(calls for calls, _ in full))
    return running_best([(offset + calls, score / 100.0) for calls, score in full]), full


def run_mipro(job: OptimizeJob) -> OptimizeOutcome:
    """``dspy.MIPROv2`` with the settings' ``auto`` and demo counts, its proposer on the reflection LM. Metric calls:
    the program runs counted while it compiled. It cannot resume, so its log folder is cleared first."""
    settings = job.mipro
    counted = CountingMetric(job.metric, scalar=True)
    if job.log_dir.exists():
        shutil.rmtree(job.log_dir)
    job.log_dir.mkdir(parents=True)
    # An evaluation stops only when every example fails: one unparsable reply from a small LM must score 0,
    # not end the run.
    max_errors = max(10, len(job.val))
    optimizer = dspy.MIPROv2(metric=counted, prompt_model=job.lms.get("reflection"), task_model=job.lms.get("task"),
                             auto=settings.auto, max_bootstrapped_demos=settings.max_bootstrapped_demos,
                             max_labeled_demos=settings.max_labeled_demos, num_threads=job.num_threads,
                             max_errors=max_errors, seed=job.seed, verbose=False, track_stats=True,
                             log_dir=str(job.log_dir))
    runs_before = job.program_runs.runs
    with dspy.context(lm=job.lms.get("task")):
        program = optimizer.compile(job.program, trainset=list(job.train), valset=list(job.val), seed=job.seed)
    spent = job.program_runs.runs - runs_before
    trial_logs = getattr(program, "trial_logs", {}) or {}
    curve, full_evals = mipro_curve(trial_logs, spent)
    return OptimizeOutcome(
        program=program, metric_calls=spent, counted_metric_calls=counted.rollouts,
        feedback_metric_calls=counted.feedback_calls, curve=curve,
        details={"auto": settings.auto, "trials": len(trial_logs),
                 "max_bootstrapped_demos": settings.max_bootstrapped_demos,
                 "max_labeled_demos": settings.max_labeled_demos, "max_errors": max_errors,
                 "best_val_score_percent": getattr(program, "score", None), "full_eval_trials": full_evals},
    )


#: Optimizer name -> runner.
OPTIMIZE: dict[str, Callable[[OptimizeJob], OptimizeOutcome]] = {
    "baseline": run_baseline,
    "mipro": run_mipro,
    "gepa": lambda job: run_gepa(job, use_merge=False),
    "gepa_merge": lambda job: run_gepa(job, use_merge=True),
    # Issue 30's opt-in validation policies, for measuring them against "gepa" (the default loop).
    "gepa_racing": lambda job: run_gepa(job, use_merge=False, val_policy="racing"),
    "gepa_heldout": lambda job: run_gepa(job, use_merge=False, selection_fraction=0.25),
    "dspy_gepa": lambda job: run_dspy_gepa(job, use_merge=False),
    "dspy_gepa_merge": lambda job: run_dspy_gepa(job, use_merge=True),
}
