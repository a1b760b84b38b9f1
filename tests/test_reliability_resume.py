"""Issue 27, silent wrong results on resume: every journal and checkpoint says which run it belongs to,
LM-outage failures are retried, and a smaller budget on resume is reported, never silently exceeded."""

from __future__ import annotations

import json
import logging

import dspy
import pytest

from gepa_dspy import GEPA, CheckpointMismatchError, MetricReturnError
from gepa_dspy.engine.search import CHECKPOINT_FILE, EVAL_JOURNAL_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


def compile_in(log_dir, program=None, trainset=None, valset=None, metric_fn=metric, budget=60, task=None, **kwargs):
    task = task or ScriptedLM(task_responder)
    dspy.configure(lm=task)
    examples = make_examples()
    optimizer = GEPA(metric_fn, max_metric_calls=budget, reflection_lm=ScriptedLM(reflection_responder),
                     track_stats=True, log_dir=str(log_dir), use_merge=False, **kwargs)
    return optimizer.compile(program or CleanThenShout(), trainset=trainset or examples[:8],
                             valset=valset or examples[8:]), task


def test_stale_seed_journal_with_another_valset_is_refused_before_any_lm_call(tmp_path):
    """Item 1: a compile that died in the seed evaluation leaves a journal and no checkpoint."""
    def bad_label_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        if gold.answer == "VIVID":
            return None  # a bad label: MetricReturnError during the seed evaluation
        return metric(gold, pred, trace, pred_name, pred_trace)

    examples = make_examples()
    with pytest.raises(MetricReturnError):
        compile_in(tmp_path, metric_fn=bad_label_metric, num_threads=1)
    assert (tmp_path / EVAL_JOURNAL_FILE).exists() and not (tmp_path / CHECKPOINT_FILE).exists()
    task = ScriptedLM(task_responder)
    with pytest.raises(CheckpointMismatchError, match="valset"):
        compile_in(tmp_path, metric_fn=bad_label_metric, valset=examples[:8] + examples[9:], task=task)
    assert task.calls == 0


class CleanThenShoutWithNote(CleanThenShout):
    """The same instructions as CleanThenShout, but the second predictor has one more output field."""

    def __init__(self) -> None:
        super().__init__()
        self.shout = dspy.Predict(dspy.Signature("cleaned -> answer, note").with_instructions("Repeat the word."))


def test_a_changed_signature_with_the_same_instructions_is_refused(tmp_path):
    """Item 2: the fingerprint covers signatures, not only instruction texts."""
    compile_in(tmp_path, budget=30)
    with pytest.raises(CheckpointMismatchError, match="signatures"):
        compile_in(tmp_path, program=CleanThenShoutWithNote(), budget=30)


def test_another_metric_or_seed_is_refused(tmp_path):
    compile_in(tmp_path, budget=30)

    def other_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return metric(gold, pred, trace, pred_name, pred_trace)

    with pytest.raises(CheckpointMismatchError, match="metric"):
        compile_in(tmp_path, metric_fn=other_metric, budget=30)
    with pytest.raises(CheckpointMismatchError, match="seed"):
        compile_in(tmp_path, budget=30, seed=7)


def test_the_same_run_still_resumes(tmp_path):
    first, _ = compile_in(tmp_path, budget=30)
    again, task = compile_in(tmp_path, budget=30)
    assert again.detailed_results.candidates == first.detailed_results.candidates
    assert task.calls == 0
