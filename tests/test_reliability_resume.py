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


class OutageError(ConnectionError):
    """Stands in for connection refused / 5xx / timeout while the provider is down."""


def test_runs_failed_in_an_lm_outage_are_rerun_on_resume_not_served_from_the_journal(tmp_path, monkeypatch):
    """Item 3: fix the LM and compile again: the seed is scored by its real runs, not by the outage."""
    from gepa_dspy import LMUnavailableError

    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)
    expected, _ = compile_in(tmp_path / "clean", budget=60)

    down = {"on": True}

    def sometimes_down(messages):
        if down["on"]:
            raise OutageError("connection refused (injected outage)")
        return task_responder(messages)

    with pytest.raises(LMUnavailableError):
        compile_in(tmp_path / "run", budget=60, task=ScriptedLM(sometimes_down), max_consecutive_lm_failures=12)
    state = json.loads((tmp_path / "run" / CHECKPOINT_FILE).read_text())
    assert state["pool"]["val_scores"][0] == [0.0] * 8  # the seed was scored during the outage
    down["on"] = False
    program, _ = compile_in(tmp_path / "run", budget=60, task=ScriptedLM(sometimes_down), max_consecutive_lm_failures=12)
    results = program.detailed_results
    assert results.val_subscores[0] == expected.detailed_results.val_subscores[0]
    assert results.counters["outage_runs_forgotten_on_resume"] >= 8
    assert results.counters.get("failed_runs_lm_error", 0) == 0
    assert results.total_metric_calls <= 60
    # Forgotten for good: a further resume neither reruns nor recounts them.
    again, task = compile_in(tmp_path / "run", budget=60, max_consecutive_lm_failures=12)
    assert again.detailed_results.val_subscores == results.val_subscores and task.calls == 0


def test_lm_request_errors_are_not_outages():
    from dspy.utils.exceptions import ContextWindowExceededError, LMServerError

    from gepa_dspy.adapter.evaluation import classify_exception

    assert classify_exception(ContextWindowExceededError(model="m")) == "lm_request_error"
    assert classify_exception(LMServerError("503", model="m", status=503)) == "lm_error"

    class Custom(Exception):
        status = 404

    assert classify_exception(Custom()) == "program_error"


def test_resuming_with_a_smaller_budget_warns_and_says_so(tmp_path):
    """Item 4: never report total_metric_calls > budget without a warning."""
    first, _ = compile_in(tmp_path, budget=48)
    assert first.detailed_results.total_metric_calls > 20
    with pytest.warns(RuntimeWarning, match="more than this compile's budget of 20"):
        program, task = compile_in(tmp_path, budget=20)
    results = program.detailed_results
    assert task.calls == 0
    assert "budget of 20" in results.stop_reason
    assert results.counters["metric_calls_over_budget"] == results.total_metric_calls - 20
