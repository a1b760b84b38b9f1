"""The reflective dataset is a pure function of stored run outcomes: the same fresh, journaled or resumed."""

from __future__ import annotations

import json
from typing import Any

import dspy
import pydantic

from gepa_dspy.adapter.evaluation import DSPyEvaluator
from gepa_dspy.adapter.reflection import ReflectionProposer
from gepa_dspy.adapter.typed_json import decode, encode, plain
from gepa_dspy.engine.records import Outcome

from .scripted_lm import ScriptedLM, chat_reply


class Verdict(pydantic.BaseModel):
    label: str
    confidence: float


class Describe(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.look = dspy.Predict(dspy.Signature("picture: dspy.Image -> verdict: Verdict").with_instructions("Look."))

    def forward(self, picture: Any) -> dspy.Prediction:
        return self.look(picture=picture)


def _lm(messages: list[dict[str, Any]]) -> str:
    return chat_reply(verdict='{"label": "cat", "confidence": 0.5}')


class RecordingMetric:
    """Gives feedback naming the types it was handed, and keeps every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        if pred_name is not None:
            self.calls.append((pred, trace, pred_name, pred_trace))
        kinds = (f"pred.verdict is {type(pred.verdict).__name__}; trace has {len(trace or [])} call(s); "
                 f"inputs {[type(v).__name__ for _, inputs, _ in (pred_trace or []) for v in inputs.values()]}")
        return dspy.Prediction(score=0.5, feedback=kinds)


def _evaluator(metric: RecordingMetric) -> tuple[DSPyEvaluator, dict[str, dspy.Example]]:
    examples = {f"t{i}": dspy.Example(picture=dspy.Image(f"https://example.com/{i}.png"), verdict="dog")
                .with_inputs("picture") for i in range(3)}
    return DSPyEvaluator(Describe(), examples, metric), examples


def test_typed_json_rebuilds_dspy_types_and_pydantic_models_and_reports_what_it_cannot() -> None:
    from dspy.adapters.types.tool import ToolCalls

    calls = ToolCalls.from_dict_list([{"name": "lookup", "args": {"query": "cats"}}])
    history = dspy.History(messages=[{"question": "cats?", "tool_calls": calls}])
    for value in (dspy.Image("https://example.com/a.png"), history, Verdict(label="x", confidence=1.0), {"a": [1]}):
        assert decode(json.loads(json.dumps(encode(value)))) == value
    assert plain(encode(history)) == {"messages": [{"question": "cats?", "tool_calls": {
        "tool_calls": [{"id": None, "name": "lookup", "args": {"query": "cats"}}], "tool_call_results": None}}]}
    missing: list[str] = []
    gone = {"$model": "no_such_module:Thing", "fields": {"x": 1}}
    assert decode(gone, missing.append) == {"x": 1} and missing == ["no_such_module:Thing"]


def test_records_and_the_metric_arguments_are_the_same_fresh_and_read_back_from_the_journal() -> None:
    metric = RecordingMetric()
    evaluator, _ = _evaluator(metric)
    dspy.configure(lm=ScriptedLM(_lm))
    candidate = {"look": "Look."}
    outcomes: dict[str, Outcome] = {}
    evaluator.evaluate(candidate, ["t0", "t1"], lambda e, o: outcomes.__setitem__(e, o))
    runs = sorted(outcomes.items())
    fresh = ReflectionProposer(ScriptedLM(lambda m: ""), evaluator).build_reflective_records(candidate, "look", runs)

    # As after a restart: a new evaluator (nothing in memory) and outcomes read back from their JSON.
    resumed_metric = RecordingMetric()
    resumed_evaluator, _ = _evaluator(resumed_metric)
    journaled = [(e, Outcome.from_json(json.loads(json.dumps(o.to_json())))) for e, o in runs]
    resumed = ReflectionProposer(ScriptedLM(lambda m: ""), resumed_evaluator).build_reflective_records(
        candidate, "look", journaled)

    assert fresh == resumed and len(fresh) == 2
    assert fresh[0].feedback == "pred.verdict is Verdict; trace has 1 call(s); inputs ['Image']"
    assert isinstance(fresh[0].raw_inputs["picture"], dspy.Image)
    assert fresh[0].raw_outputs == {"verdict": Verdict(label="cat", confidence=0.5)}
    assert fresh[0].outputs == {"verdict": {"label": "cat", "confidence": 0.5}}  # plain JSON for the prompt
    # The prompt shows an image as DSPy serialises it (dspy.GEPA's reflection prompt carries it the same way).
    assert "CUSTOM-TYPE-START-IDENTIFIER" in fresh[0].inputs["picture"] and "0.png" in fresh[0].inputs["picture"]
    for live_call, resumed_call in zip(metric.calls, resumed_metric.calls):
        pred, trace, name, pred_trace = live_call
        assert name == "look" and isinstance(trace[0][0], dspy.Predict)
        assert resumed_call[0] == pred and resumed_call[3][0][1:] == pred_trace[0][1:]


def test_the_metric_is_called_once_per_run_not_once_per_shown_call() -> None:
    class Twice(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.step = dspy.Predict("text -> answer")

        def forward(self, text: str) -> dspy.Prediction:
            self.step(text=text)
            return self.step(text=text + "!")

    calls: list[str] = []

    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> float:
        if pred_name:
            calls.append(pred_name)
        return 0.0

    dspy.configure(lm=ScriptedLM(lambda m: chat_reply(answer="a")))
    evaluator = DSPyEvaluator(Twice(), {"t0": dspy.Example(text="x", answer="b").with_inputs("text")}, metric)
    outcomes: list[tuple[str, Outcome]] = []
    evaluator.evaluate({"step": ""}, ["t0"], lambda e, o: outcomes.append((e, o)))
    records = ReflectionProposer(ScriptedLM(lambda m: ""), evaluator).build_reflective_records({"step": ""}, "step",
                                                                                              outcomes)
    assert len(records) == 2 and calls == ["step"]
