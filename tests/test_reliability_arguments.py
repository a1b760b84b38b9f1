"""Issue 27 item 10: GEPA(...) refuses argument types that would silently do something else, accepts what
dspy.GEPA accepts, and stores every argument as given (resolving defaults only when compile runs)."""

from __future__ import annotations

import math

import dspy
import numpy as np
import pytest

from gepa_dspy import GEPA

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


def make(**kwargs):
    kwargs.setdefault("max_metric_calls", 30)
    return GEPA(metric, reflection_lm=ScriptedLM(reflection_responder), **kwargs)


@pytest.mark.parametrize("name", ["use_merge", "skip_perfect_score", "track_stats", "add_format_failure_as_feedback",
                                  "warn_on_score_mismatch", "track_best_outputs"])
@pytest.mark.parametrize("value", ["false", "no", "True", 0, 1, None, 1.0])
def test_bool_arguments_must_be_real_bools(name, value):
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        make(**{name: value})


@pytest.mark.parametrize("value", [1.7, 2.0, "3", True])
def test_seed_must_be_an_int(value):
    with pytest.raises(TypeError, match="seed must be an int"):
        make(seed=value)


@pytest.mark.parametrize("name, value", [("perfect_score", math.inf), ("perfect_score", math.nan), ("perfect_score", "1"),
                                         ("failure_score", -math.inf), ("failure_score", math.nan), ("perfect_score", True)])
def test_scores_must_be_finite_numbers(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        make(**{name: value})


def test_what_dspy_accepts_is_accepted_and_stored_as_given():
    optimizer = make(seed=None, max_merge_invocations=None, use_merge=np.bool_(False), skip_perfect_score=np.True_,
                     perfect_score=np.float64(1.0), failure_score=0, reflection_minibatch_size=np.int64(2),
                     max_metric_calls=np.int64(30))
    assert optimizer.seed is None and optimizer.max_merge_invocations is None
    assert optimizer.perfect_score == 1.0 and type(optimizer.perfect_score) is np.float64
    assert optimizer.failure_score == 0 and type(optimizer.failure_score) is int
    assert type(optimizer.use_merge) is np.bool_
    kwargs = {"frontier_type": "hybrid"}
    passthrough = make(gepa_kwargs=kwargs, use_mlflow=False)
    assert passthrough.gepa_kwargs is kwargs and passthrough.use_mlflow is False
    assert make().gepa_kwargs is None and make().use_mlflow is False
    dspy.configure(lm=ScriptedLM(task_responder))
    examples = make_examples()
    program = GEPA(metric, reflection_lm=ScriptedLM(reflection_responder), track_stats=np.True_, seed=None,
                   max_merge_invocations=None, max_metric_calls=np.int64(30), use_merge=np.bool_(True)).compile(
        CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    assert program.detailed_results.seed == 0  # seed=None runs as seed 0
    assert program.detailed_results.total_metric_calls <= 30


def test_same_seed_none_and_zero_give_the_same_run():
    dspy.configure(lm=ScriptedLM(task_responder))
    examples = make_examples()
    runs = [GEPA(metric, reflection_lm=ScriptedLM(reflection_responder), track_stats=True, seed=s, max_metric_calls=40)
            .compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results.candidate_instructions
            for s in (None, 0)]
    assert runs[0] == runs[1]
