"""Which calls of a predictor the reflective dataset shows when a run made more calls than it has room for."""

import dspy

from gepa_dspy.adapter.reflection.reflective_dataset import ReflectiveDatasetBuilder
from gepa_dspy.engine.records import Outcome


def _metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    return dspy.Prediction(score=0.5, feedback="more detail")


def _builder(**kwargs):
    examples = {"e0": dspy.Example(question="q", answer="a").with_inputs("question")}
    return ReflectiveDatasetBuilder(_metric, examples, 1.0, lambda candidate: {"step": object()}, **kwargs)


def _call(turn, error=False):
    entry = {"predictor": "step", "inputs": {"turn": turn}, "outputs": {} if error else {"answer": f"after {turn}"}}
    if error:
        entry["error"] = "could not parse"
    return entry


def test_the_latest_calls_are_kept_in_the_order_they_ran():
    """In a loop (ReAct) the last call holds the whole trajectory and gives the final answer."""
    outcome = Outcome(score=0.5, feedback="more detail", trace=[_call(t) for t in range(4)], output={"answer": "after 3"})
    records = _builder().build({"step": "x"}, "step", [("e0", outcome)], max_calls_per_example=2)
    assert [r.inputs["turn"] for r in records] == [2, 3]
    [only] = _builder().build({"step": "x"}, "step", [("e0", outcome)], max_calls_per_example=1)
    assert only.inputs["turn"] == 3


def test_a_failed_call_is_kept_before_later_successful_ones():
    trace = [_call(0), _call(1, error=True), _call(2), _call(3)]
    outcome = Outcome(score=0.0, feedback="parse failure", trace=trace, output={"answer": "after 3"})
    records = _builder(add_format_failure_as_feedback=True).build({"step": "x"}, "step", [("e0", outcome)],
                                                                  max_calls_per_example=2)
    assert [(r.inputs["turn"], r.failed) for r in records] == [(1, True), (3, False)]
