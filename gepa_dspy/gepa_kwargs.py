"""``gepa_kwargs``: the options ``dspy.GEPA`` passes through to the ``gepa`` package, read for our engine.

Every key ``dspy.GEPA`` documents is either honoured, accepted as already our behaviour, or refused with the
error dspy.GEPA gives (or a clear one saying what to use instead). Nothing is silently ignored.

Honoured:

- ``frontier_type``: ``"instance"`` (default), ``"objective"``, ``"hybrid"``, ``"cartesian"``: what the Pareto
  fronts of parent selection are kept over (``gepa_dspy.engine.pareto.FRONTIER_TYPES``); the objective kinds use
  the ``objective_scores`` the metric returns.
- ``stop_callbacks``: one stopper or a list, each ``stopper(state) -> bool`` (gepa's ``StopperProtocol``). gepa's
  ``TimeoutStopCondition``, ``NoImprovementStopper`` and ``ScoreThresholdStopper`` become the engine's own stop
  rules (checkpointed, resume-exact); any other stopper is called with a ``SearchStateView`` before every round.
  The budget always applies as well, as in dspy.GEPA.
- ``use_mlflow``, ``mlflow_tracking_uri``, ``mlflow_experiment_name``, ``mlflow_attach_existing``,
  ``tracking_key_prefix``: MLflow tracking (``gepa_dspy.adapter.mlflow_tracking``).

Accepted because they already describe what gepa_dspy does: ``batch_sampler="epoch_shuffled"``,
``val_evaluation_policy="full_eval"``, ``acceptance_criterion="strict_improvement"``, ``cache_evaluation``
(evaluations are always cached), ``raise_on_exception=True``, ``display_progress_bar`` (progress is logged),
``use_cloudpickle`` (checkpoints are JSON), ``merge_val_overlap_floor`` (the full valset is always evaluated, so
every pair of candidates overlaps on all of it), ``wandb_attach_existing`` (as ``use_wandb``, a no-op),
``sampling_strategy=None``, ``selection_strategy=None``, ``max_reflection_cost=None``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

from .engine.pareto import FRONTIER_TYPES

#: Keys that are direct ``GEPA`` arguments in dspy.GEPA (it passes them to gepa itself, so giving them again in
#: gepa_kwargs fails there with "multiple values"); the argument to use instead.
_DIRECT_ARGUMENTS = {
    "seed": "seed", "max_metric_calls": "max_metric_calls", "perfect_score": "perfect_score",
    "skip_perfect_score": "skip_perfect_score", "candidate_selection_strategy": "candidate_selection_strategy",
    "module_selector": "component_selector", "use_merge": "use_merge", "max_merge_invocations": "max_merge_invocations",
    "run_dir": "log_dir", "logger": "(none: gepa_dspy logs to the 'gepa_dspy' logger)",
    "track_best_outputs": "track_best_outputs", "reflection_minibatch_size": "reflection_minibatch_size",
    "use_wandb": "use_wandb", "wandb_api_key": "wandb_api_key", "wandb_init_kwargs": "wandb_init_kwargs",
    "reflection_lm": "reflection_lm", "seed_candidate": "(compile's student)", "trainset": "(compile's trainset)",
    "valset": "(compile's valset)", "adapter": "(none)", "task_lm": "(dspy.configure(lm=...))",
    "custom_candidate_proposer": "instruction_proposer",
}

_ACCEPTED_VALUES: dict[str, tuple[Any, ...]] = {
    "batch_sampler": ("epoch_shuffled",),
    "val_evaluation_policy": (None, "full_eval"),
    "acceptance_criterion": ("strict_improvement",),
    "raise_on_exception": (True,),
    "sampling_strategy": (None,),
    "selection_strategy": (None,),
    "reflection_strategy": (None,),
    "max_reflection_cost": (None,),
    "callbacks": (None,),
    "evaluator": (None,),
    "reflection_lm_kwargs": (None,),
}
_ACCEPTED_BOOLS = ("cache_evaluation", "display_progress_bar", "use_cloudpickle", "wandb_attach_existing")

_WHY_NOT: dict[str, str] = {
    "batch_sampler": "gepa_dspy samples epoch-shuffled minibatches of reflection_minibatch_size",
    "val_evaluation_policy": "gepa_dspy evaluates every accepted candidate on the full valset",
    "acceptance_criterion": "gepa_dspy accepts a child that strictly beats its parent on the minibatch",
    "raise_on_exception": "gepa_dspy always raises on errors it cannot score (failed runs are scored failures)",
    "sampling_strategy": "gepa's proposal strategies are not part of gepa_dspy",
    "selection_strategy": "gepa's proposal strategies are not part of gepa_dspy",
    "reflection_strategy": "gepa's proposal strategies are not part of gepa_dspy",
    "max_reflection_cost": "max_reflection_cost is not supported by dspy.GEPA yet, nor by gepa_dspy",
    "callbacks": "gepa's callback objects are not supported; use MLflow tracking or the 'gepa_dspy' logger",
    "evaluator": "gepa_dspy evaluates with the metric given to GEPA",
    "reflection_lm_kwargs": "configure the reflection LM itself (dspy.LM(..., temperature=...))",
}

_MLFLOW_KEYS = ("use_mlflow", "mlflow_tracking_uri", "mlflow_experiment_name", "mlflow_attach_existing",
                "tracking_key_prefix")


@dataclass
class GepaKwargs:
    """What ``gepa_kwargs`` asks of the run, after checking."""

    frontier_type: str = "instance"
    timeout_seconds: float | None = None
    max_iterations_without_improvement: int | None = None
    score_threshold: float | None = None
    #: Stoppers that are not one of gepa's three known ones: called with a ``SearchStateView``.
    stoppers: list[Callable[[Any], bool]] = field(default_factory=list)
    mlflow: dict[str, Any] = field(default_factory=dict)


def parse_gepa_kwargs(gepa_kwargs: dict[str, Any] | None) -> GepaKwargs:
    """Check ``gepa_kwargs`` and say what it asks for; raise dspy.GEPA's errors (ValueError / TypeError) otherwise."""
    if gepa_kwargs is None:
        return GepaKwargs()
    if not isinstance(gepa_kwargs, dict):
        raise TypeError(f"gepa_kwargs must be a dict, got {type(gepa_kwargs).__name__}")
    parsed = GepaKwargs()
    for key, value in gepa_kwargs.items():
        if key == "reflection_prompt_template":
            raise ValueError(
                "reflection_prompt_template cannot be passed via gepa_kwargs: gepa_dspy writes its own reflection "
                "prompt. To customise reflection, pass instruction_proposer=... (a dspy.GEPA ProposalFn).")
        if key == "frontier_type":
            if value not in FRONTIER_TYPES:
                raise ValueError(f"gepa_kwargs['frontier_type'] must be one of {FRONTIER_TYPES}, got {value!r}")
            parsed.frontier_type = value
        elif key == "stop_callbacks":
            _read_stoppers(value, parsed)
        elif key in _MLFLOW_KEYS:
            parsed.mlflow[key] = value
        elif key == "merge_val_overlap_floor":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"gepa_kwargs['merge_val_overlap_floor'] must be a non-negative int, got {value!r}")
        elif key in _ACCEPTED_BOOLS:
            if not isinstance(value, bool):
                raise ValueError(f"gepa_kwargs[{key!r}] must be True or False, got {value!r}")
        elif key in _ACCEPTED_VALUES:
            if not any(value is v or (isinstance(v, str) and value == v) for v in _ACCEPTED_VALUES[key]):
                allowed = " or ".join(repr(v) for v in _ACCEPTED_VALUES[key])
                raise ValueError(f"gepa_kwargs[{key!r}]={value!r} is not supported: {_WHY_NOT[key]} "
                                 f"(accepted: {allowed})")
        elif key in _DIRECT_ARGUMENTS:
            raise TypeError(f"gepa_kwargs[{key!r}] duplicates a GEPA argument; pass {_DIRECT_ARGUMENTS[key]} to GEPA "
                            f"directly (dspy.GEPA fails the same way: multiple values for {key!r})")
        else:
            raise TypeError(f"gepa_kwargs got an unexpected key {key!r} (gepa.optimize() has no such argument)")
    return parsed


def _read_stoppers(value: Any, parsed: GepaKwargs) -> None:
    if value is None:
        return
    stoppers = list(value) if isinstance(value, (list, tuple)) else [value]
    for stopper in stoppers:
        kind = type(stopper).__name__
        if kind == "TimeoutStopCondition" and _is_number(getattr(stopper, "timeout_seconds", None)):
            seconds = float(stopper.timeout_seconds)
            parsed.timeout_seconds = seconds if parsed.timeout_seconds is None else min(parsed.timeout_seconds, seconds)
        elif kind == "NoImprovementStopper" and isinstance(getattr(stopper, "max_iterations_without_improvement", None), int):
            n = stopper.max_iterations_without_improvement
            current = parsed.max_iterations_without_improvement
            parsed.max_iterations_without_improvement = n if current is None else min(current, n)
        elif kind == "ScoreThresholdStopper" and _is_number(getattr(stopper, "threshold", None)):
            threshold = float(stopper.threshold)
            current = parsed.score_threshold
            parsed.score_threshold = threshold if current is None else min(current, threshold)
        elif callable(stopper):
            parsed.stoppers.append(stopper)
        else:
            raise TypeError(f"gepa_kwargs['stop_callbacks'] entries must be callables stopper(state) -> bool, "
                            f"got {stopper!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
