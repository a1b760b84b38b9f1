"""Fault injection: LM errors, metric mistakes and crashes, a dead LM. The run completes or stops clearly,
the budget stays exact, and nothing already evaluated is lost."""

import random
import threading

import dspy
import pytest

from gepa_dspy import GEPA, LMUnavailableError, MetricReturnError
from gepa_dspy.adapter.evaluation import classify_exception
from gepa_dspy.engine.search import CHECKPOINT_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


class FlakyLMError(ConnectionError):
    """Stands in for a connection refused / 5xx from the provider."""


def flaky(responder, rate: float, seed: int, garbage_rate: float = 0.0):
    rng = random.Random(seed)
    lock = threading.Lock()

    def respond(messages):
        with lock:
            roll = rng.random()
        if roll < rate:
            raise FlakyLMError("connection refused (injected)")
        if roll < rate + garbage_rate:
            return "%%% garbage %%%"
        return responder(messages)

    return respond


def compile_toy(task_lm, reflection_lm=None, budget=100, metric_fn=metric, **kwargs):
    dspy.configure(lm=task_lm)
    examples = make_examples()
    optimizer = GEPA(metric_fn, max_metric_calls=budget, reflection_lm=reflection_lm or ScriptedLM(reflection_responder),
                     track_stats=True, **kwargs)
    return optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])


@pytest.mark.parametrize("rate, garbage", [(0.1, 0.0), (0.2, 0.1), (0.0, 0.3)])
def test_run_completes_under_injected_lm_faults_with_exact_budget(rate, garbage, monkeypatch):
    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)  # no real backoff waits
    task = ScriptedLM(flaky(task_responder, rate, seed=1, garbage_rate=garbage))
    reflection = ScriptedLM(flaky(reflection_responder, rate, seed=2))
    program = compile_toy(task, reflection, budget=100, num_threads=3)
    results = program.detailed_results
    assert results.total_metric_calls <= 100
    # every paid run is accounted for exactly once: seed + minibatches + full evaluations
    paid = 8 * results.num_full_val_evals
    for h in results.history:
        paid += len(h["example_ids"]) * (1 + (h["status"] in ("accepted", "rejected")))
    assert results.total_metric_calls <= paid  # cache hits make some of these free
    if garbage:
        assert results.counters.get("failed_runs_parse_error", 0) > 0
    assert results.val_aggregate_scores[results.best_idx] >= results.val_aggregate_scores[0]


def test_lm_errors_are_retried_then_scored_as_failures(monkeypatch):
    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)
    calls = {"n": 0}

    def fail_first_calls(messages):
        calls["n"] += 1
        if "lemon" in messages[-1]["content"]:
            raise FlakyLMError("upstream 503 (injected)")
        return task_responder(messages)

    program = compile_toy(ScriptedLM(fail_first_calls), budget=40, use_merge=False)
    results = program.detailed_results
    assert results.counters["failed_runs_lm_error"] >= 1
    assert results.counters["lm_retries"] >= 1  # a bounded retry happened before giving up


def test_dead_lm_stops_with_clear_error_and_saved_state(tmp_path, monkeypatch):
    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)

    def dead(messages):
        raise FlakyLMError("connection refused (injected)")

    with pytest.raises(LMUnavailableError, match="consecutive runs failed"):
        compile_toy(ScriptedLM(dead), budget=100, log_dir=str(tmp_path), max_consecutive_lm_failures=5)
    assert (tmp_path / "evaluations.jsonl").exists()  # the failed runs were journaled, not lost


@pytest.mark.parametrize(
    "bad_value, message",
    [(None, "must return a number"), (float("nan"), "non-finite"), ("0.5", "must return a number"),
     (float("inf"), "non-finite"), (float("-inf"), "non-finite"), ([1.0], "must return a number"),
     (1j, "must return a number"), ({"feedback": "x"}, "without a 'score'"), ({"score": None}, "must return a number")],
)
def test_metric_programming_mistakes_raise_naming_the_example(bad_value, message):
    def bad_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return bad_value

    with pytest.raises(MetricReturnError, match=message) as info:
        compile_toy(ScriptedLM(task_responder), metric_fn=bad_metric)
    assert "for example" in str(info.value)


def test_metric_runtime_exceptions_are_counted_failures():
    def sometimes_raises(gold, pred, trace=None, pred_name=None, pred_trace=None):
        if gold.text.startswith("l"):
            raise KeyError("lookup failed")
        return metric(gold, pred, trace, pred_name, pred_trace)

    program = compile_toy(ScriptedLM(task_responder), metric_fn=sometimes_raises, budget=60)
    assert program.detailed_results.counters["failed_runs_metric_error"] >= 1


def test_program_exceptions_keep_one_record_per_example():
    class Crashy(CleanThenShout):
        def forward(self, text):
            if text.startswith("t"):
                raise RuntimeError("bug in user code")
            return super().forward(text)

    dspy.configure(lm=ScriptedLM(task_responder))
    examples = make_examples()
    program = GEPA(metric, max_metric_calls=40, reflection_lm=ScriptedLM(reflection_responder), track_stats=True).compile(
        Crashy(), trainset=examples[:8], valset=examples[8:]
    )
    results = program.detailed_results
    assert all(len(row) == 8 for row in results.val_subscores)
    assert results.counters["failed_runs_program_error"] >= 1


def test_misconfigured_lm_stops_the_run_at_once():
    from dspy.utils.exceptions import LMAuthError

    def unauthorized(messages):
        raise LMAuthError("bad api key (injected)", model="task")

    task = ScriptedLM(unauthorized)
    with pytest.raises(LMAuthError):
        compile_toy(task)
    assert task.calls <= 8  # stopped during the seed evaluation, nothing retried


def test_exception_classification():
    from dspy.utils.exceptions import LMRateLimitError, LMServerError, LMTransportError

    assert classify_exception(LMRateLimitError("429", model="m")) == "lm_error"
    assert classify_exception(LMServerError("503", model="m")) == "lm_error"
    assert classify_exception(LMTransportError("refused", model="m")) == "lm_error"
    assert classify_exception(TimeoutError()) == "lm_error"
    assert classify_exception(ConnectionRefusedError()) == "lm_error"
    assert classify_exception(ValueError()) == "program_error"
    import litellm

    assert classify_exception(litellm.exceptions.RateLimitError("slow down", "openai", "m")) == "lm_error"
