"""Checking ``GEPA(...)``'s arguments, and resolving their defaults when ``compile`` runs.

``GEPA.__init__`` stores every argument as given (the scikit-learn contract: ``get_params`` and ``clone`` see
what the user passed); this module refuses, at construction, values that would silently do something else
than the user meant (``use_merge="false"`` is truthy, ``seed=1.7`` would be truncated), while accepting
everything ``dspy.GEPA`` accepts and handles as meant (numpy bools and ints, ``seed=None``, ...).
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import dspy
import numpy as np

from .adapter.reflection import check_reply_format
from .budget import AUTO_CANDIDATES
from .engine.config import check_parallel_proposal_mode
from .engine.racing import VAL_POLICIES
from .engine.events import EventDispatcher
from .engine.strategies import make_component_selector, make_parent_selector

#: ``dspy.GEPA`` arguments that only steer logging integrations: accepted and ignored with a warning.
IGNORED_DSPY_ARGS = ("use_wandb", "wandb_api_key", "wandb_init_kwargs")
#: ``dspy.GEPA`` keyword arguments we support (see ``gepa_kwargs.py`` and ``adapter/mlflow_tracking.py``).
SUPPORTED_DSPY_ARGS = ("gepa_kwargs", "use_mlflow")
#: ``dspy.GEPA`` arguments for its own backend: refused when set.
UNSUPPORTED_DSPY_ARGS = ("code_proposer",)

BOOL_ARGS = ("skip_perfect_score", "add_format_failure_as_feedback", "use_merge", "track_stats", "track_best_outputs",
             "warn_on_score_mismatch")
POSITIVE_INT_ARGS = ("max_metric_calls", "max_full_evals", "reflection_minibatch_size", "num_threads",
                     "max_reflection_attempts", "max_consecutive_lm_failures", "num_parallel_proposals")


def is_bool(value: Any) -> bool:
    """A real bool: Python's or numpy's (``np.bool_`` is not a ``bool`` subclass). Not ``"false"``, not ``0``."""
    return isinstance(value, (bool, np.bool_))


def is_int(value: Any) -> bool:
    """An integer (Python's or numpy's), not a bool and not a float that happens to be whole."""
    return isinstance(value, numbers.Integral) and not is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not is_bool(value)


def check_metric(metric: Any) -> None:
    if not callable(metric):
        raise TypeError(f"metric must be callable, got {type(metric).__name__}")
    try:
        inspect.signature(metric).bind(None, None, None, None, None)
    except TypeError:
        raise TypeError(
            "GEPA's metric must accept five arguments: metric(gold, pred, trace=None, pred_name=None, pred_trace=None)"
        ) from None
    except ValueError:
        pass  # builtins without a signature: trust the caller


def check_positive_int(name: str, value: Any) -> None:
    if value is None:
        return
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_arguments(args: dict[str, Any], dspy_only_options: dict[str, Any]) -> None:
    """Raise a clear ``TypeError``/``ValueError`` for any argument of ``GEPA(...)`` that cannot be meant as given."""
    check_metric(args["metric"])
    budgets = [name for name in ("auto", "max_metric_calls", "max_full_evals") if args[name] is not None]
    if len(budgets) != 1:
        raise ValueError(f"give exactly one of auto, max_metric_calls, max_full_evals (got {budgets or 'none'})")
    if args["auto"] is not None and args["auto"] not in AUTO_CANDIDATES:
        raise ValueError(f"auto must be one of {sorted(AUTO_CANDIDATES)}, got {args['auto']!r}")
    for name in POSITIVE_INT_ARGS:
        check_positive_int(name, args[name])
    for name in BOOL_ARGS:
        if not is_bool(args[name]):
            raise TypeError(f"{name} must be True or False, got {args[name]!r} ({type(args[name]).__name__}); "
                            "a string such as 'false' would count as true")
    seed = args["seed"]
    if seed is not None and not is_int(seed):
        raise TypeError(f"seed must be an int (or None for the default 0), got {seed!r} ({type(seed).__name__})")
    check_reply_format(args["reflection_reply_format"], "reflection_reply_format")
    check_parallel_proposal_mode(args["parallel_proposal_mode"])
    merges = args["max_merge_invocations"]
    if merges is not None and (not is_int(merges) or merges < 0):
        raise ValueError(f"max_merge_invocations must be a non-negative int or None, got {merges!r}")
    perfect, failure = args["perfect_score"], args["failure_score"]
    for name, value in (("perfect_score", perfect), ("failure_score", failure)):
        if not _is_real(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not perfect > failure:
        raise ValueError(f"perfect_score ({perfect}) must be greater than failure_score ({failure})")
    if args["val_policy"] not in VAL_POLICIES:
        raise ValueError(f"val_policy must be one of {VAL_POLICIES}, got {args['val_policy']!r}")
    fraction = args["selection_fraction"]
    if fraction is not None and (not _is_real(fraction) or not 0 < fraction < 1):
        raise ValueError(f"selection_fraction must be a number strictly between 0 and 1, or None; got {fraction!r}")
    if fraction is not None and args["selection_set"] is not None:
        raise ValueError("give selection_fraction or selection_set, not both")
    if args["selection_set"] is not None and (isinstance(args["selection_set"], (str, bytes)) or not hasattr(args["selection_set"], "__len__")):
        raise TypeError(f"selection_set must be a list of dspy.Example, got {type(args['selection_set']).__name__}")
    check_positive_int("selection_top_k", args["selection_top_k"])
    max_cost = args["max_cost"]
    if max_cost is not None and (not _is_real(max_cost) or not math.isfinite(max_cost) or not max_cost > 0):
        raise ValueError(f"max_cost must be a positive number of dollars or None, got {max_cost!r}")
    if args["display_progress"] is not None and not is_bool(args["display_progress"]):
        raise TypeError(f"display_progress must be True, False or None, got {args['display_progress']!r}")
    EventDispatcher(args["callbacks"] or ())  # each callback must be callable
    make_parent_selector(args["candidate_selection_strategy"])
    make_component_selector(args["component_selector"])
    if args["reflection_lm"] is not None and not isinstance(args["reflection_lm"], dspy.BaseLM):
        raise TypeError(f"reflection_lm must be a dspy.LM (dspy.BaseLM); got {type(args['reflection_lm']).__name__}")
    if args["track_best_outputs"] and not args["track_stats"]:
        raise ValueError("track_best_outputs=True needs track_stats=True (the outputs land on detailed_results)")
    if args["instruction_proposer"] is not None and not callable(args["instruction_proposer"]):
        raise TypeError(f"instruction_proposer must be callable, got {type(args['instruction_proposer']).__name__}")
    if args["log_dir"] is not None and not isinstance(args["log_dir"], (str, bytes)) and not hasattr(args["log_dir"], "__fspath__"):
        raise TypeError(f"log_dir must be a path (str or os.PathLike) or None, got {type(args['log_dir']).__name__}")
    unknown = sorted(set(dspy_only_options) - set(IGNORED_DSPY_ARGS) - set(SUPPORTED_DSPY_ARGS) - set(UNSUPPORTED_DSPY_ARGS))
    if unknown:
        raise TypeError(f"GEPA got unexpected keyword argument(s): {unknown}")
    for name in UNSUPPORTED_DSPY_ARGS:
        if dspy_only_options.get(name):
            raise NotImplementedError(f"{name} (dspy.Flex code evolution) is not supported by gepa_dspy; see docs/drop-in.md")
    for name in IGNORED_DSPY_ARGS:
        if dspy_only_options.get(name):
            warnings.warn(f"GEPA: {name} is a dspy.GEPA logging option and is ignored by gepa_dspy", stacklevel=3)


@dataclass(frozen=True)
class ResolvedArguments:
    """The arguments ``compile`` runs with: defaults filled in, numpy scalars made plain Python values."""

    seed: int
    max_merge_invocations: int
    perfect_score: float
    failure_score: float
    use_merge: bool
    skip_perfect_score: bool
    reflection_minibatch_size: int
    num_threads: int | None
    max_metric_calls: int | None
    max_full_evals: int | None


def resolve_arguments(optimizer: Any) -> ResolvedArguments:
    """``seed=None`` runs with seed 0 and ``max_merge_invocations=None`` with no merges, as documented."""
    def opt_int(value: Any) -> int | None:
        return None if value is None else int(value)

    return ResolvedArguments(
        seed=0 if optimizer.seed is None else int(optimizer.seed),
        max_merge_invocations=0 if optimizer.max_merge_invocations is None else int(optimizer.max_merge_invocations),
        perfect_score=float(optimizer.perfect_score),
        failure_score=float(optimizer.failure_score),
        use_merge=bool(optimizer.use_merge),
        skip_perfect_score=bool(optimizer.skip_perfect_score),
        reflection_minibatch_size=int(optimizer.reflection_minibatch_size),
        num_threads=opt_int(optimizer.num_threads),
        max_metric_calls=opt_int(optimizer.max_metric_calls),
        max_full_evals=opt_int(optimizer.max_full_evals),
    )
