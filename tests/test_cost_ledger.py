"""The cost ledger (issue 31): tokens and dollars per role match a hand count on a scripted run; max_cost."""

from __future__ import annotations

import json
import threading

import dspy
import litellm
import pytest

from gepa_dspy import GEPA
from gepa_dspy.adapter.cost_ledger import CostLedger, price_per_token
from gepa_dspy.testing import ScriptedLM
from gepa_dspy.testing.responder import count_tokens

from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder

TASK_MODEL, REFLECTION_MODEL = "openai/gpt-4o-mini", "openai/gpt-4o"


class HandCount:
    """Wraps a responder and counts tokens the way the scripted LM reports them, independently of DSPy."""

    def __init__(self, responder) -> None:
        self.responder = responder
        self.calls = self.prompt = self.completion = 0
        self._lock = threading.Lock()

    def __call__(self, messages, model):
        reply = self.responder(messages)
        with self._lock:
            self.calls += 1
            self.prompt += sum(count_tokens(str(m["content"])) for m in messages)
            self.completion += count_tokens(reply)
        return reply


def scripted_compile(tmp_path=None, **kwargs):
    task_count, reflection_count = HandCount(task_responder), HandCount(reflection_responder)
    task = ScriptedLM(task_count, model=TASK_MODEL)
    reflection = ScriptedLM(reflection_count, model=REFLECTION_MODEL)
    examples = make_examples()
    optimizer = GEPA(metric, reflection_lm=reflection, track_stats=True, display_progress=False,
                     log_dir=str(tmp_path) if tmp_path else None, **{"max_metric_calls": 120, **kwargs})
    with dspy.context(lm=task):
        program = optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    return program, task_count, reflection_count


def test_ledger_matches_a_hand_count_per_role(tmp_path) -> None:
    program, task_count, reflection_count = scripted_compile(tmp_path)
    ledger = program.detailed_results.cost_ledger
    task, reflection = ledger["roles"]["task"], ledger["roles"]["reflection"]
    assert task_count.calls > 0 and reflection_count.calls > 0
    assert (task["calls"], task["prompt_tokens"], task["completion_tokens"]) == (
        task_count.calls, task_count.prompt, task_count.completion)
    assert (reflection["calls"], reflection["prompt_tokens"], reflection["completion_tokens"]) == (
        reflection_count.calls, reflection_count.prompt, reflection_count.completion)
    # Dollars at litellm's own prices for these model names.
    task_in, task_out = litellm.model_cost["gpt-4o-mini"]["input_cost_per_token"], litellm.model_cost["gpt-4o-mini"]["output_cost_per_token"]
    refl_in, refl_out = litellm.model_cost["gpt-4o"]["input_cost_per_token"], litellm.model_cost["gpt-4o"]["output_cost_per_token"]
    assert task["cost_usd"] == pytest.approx(task_count.prompt * task_in + task_count.completion * task_out)
    assert reflection["cost_usd"] == pytest.approx(reflection_count.prompt * refl_in + reflection_count.completion * refl_out)
    assert ledger["total_cost_usd"] == pytest.approx(task["cost_usd"] + reflection["cost_usd"])
    assert ledger["unpriced_calls"] == 0
    # The same ledger is in results.json and in cost_ledger.json next to the search state.
    saved = json.loads((tmp_path / "results.json").read_text())["cost_ledger"]
    assert saved["roles"]["task"]["prompt_tokens"] == task_count.prompt
    assert json.loads((tmp_path / "cost_ledger.json").read_text()) == saved


def test_a_usage_tracker_around_compile_still_sees_every_call() -> None:
    with dspy.track_usage() as tracker:
        program, task_count, reflection_count = scripted_compile(max_metric_calls=40)
    totals = tracker.get_total_tokens()
    assert totals[TASK_MODEL]["prompt_tokens"] == task_count.prompt
    assert totals[REFLECTION_MODEL]["completion_tokens"] == reflection_count.completion


def test_max_cost_stops_before_the_next_round_and_keeps_paid_work() -> None:
    full, _, _ = scripted_compile()
    # A limit below the seed evaluation's cost: the search stops at the first check, after the seed is paid.
    program, task_count, _ = scripted_compile(max_cost=1e-9)
    results = program.detailed_results
    assert results.stop_reason.startswith("cost limit reached")
    assert results.total_metric_calls == 8 == len(results.val_subscores[0])  # the seed's validation runs, kept
    assert results.cost_ledger["total_cost_usd"] > 1e-9
    assert full.detailed_results.total_metric_calls > results.total_metric_calls


def test_unpriced_models_are_counted_apart() -> None:
    ledger = CostLedger()
    ledger.add("task", "my-local-model", {"prompt_tokens": 10, "completion_tokens": 2})
    ledger.add("task", "openai/gpt-4o-mini", {"prompt_tokens": 10, "completion_tokens": 2})
    data = ledger.to_dict()
    assert data["roles"]["task"]["unpriced_calls"] == 1 and data["unpriced_calls"] == 1
    assert data["roles"]["task"]["models"]["my-local-model"]["cost_usd"] is None
    assert price_per_token("my-local-model") is None and price_per_token("openai/gpt-4o-mini") is not None
    assert CostLedger.from_dict(data).to_dict() == data


def test_bad_max_cost_is_refused() -> None:
    for bad in (0, -1.0, "5", True):
        with pytest.raises(ValueError, match="max_cost"):
            GEPA(metric, max_metric_calls=10, max_cost=bad)
