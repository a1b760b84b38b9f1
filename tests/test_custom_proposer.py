"""A user's ``instruction_proposer`` (dspy.GEPA's ProposalFn) in place of our reflection prompt."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.adapter.custom_proposer import dspy_style_record
from gepa_dspy.adapter.reflection import ReflectiveRecord

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, make_lms, metric


class KeywordProposer:
    """Adds the keyword the feedback asks for, like the toy's scripted reflection LM, and records its calls."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, candidate: dict[str, str], reflective_dataset: dict[str, list[dict[str, Any]]],
                 components_to_update: list[str]) -> dict[str, str]:
        self.calls.append({"candidate": dict(candidate), "dataset": reflective_dataset,
                           "components": list(components_to_update), "lm": dspy.settings.lm})
        out = {}
        for name in components_to_update:
            feedback = " ".join(r["Feedback"] for r in reflective_dataset[name])
            text = candidate[name]
            if "strip punctuation" in feedback and "strip punctuation" not in text.lower():
                text += " Always strip punctuation from the text."
            if "uppercase" in feedback and "uppercase" not in text.lower():
                text += " Write the word in uppercase."
            out[name] = text if text != candidate[name] else text + " Be careful."
        return out


def _compile(proposer: Any, budget: int = 120, **kwargs: Any) -> tuple[dspy.Module, GEPA, ScriptedLM]:
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    optimizer = GEPA(metric, max_metric_calls=budget, reflection_lm=reflection, instruction_proposer=proposer,
                     track_stats=True, **kwargs)
    program = optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    return program, optimizer, reflection


def test_a_custom_proposer_writes_the_instructions_with_the_reflection_lm_configured() -> None:
    proposer = KeywordProposer()
    program, optimizer, reflection = _compile(proposer)
    results = program.detailed_results
    assert results.val_aggregate_scores[results.best_idx] == 1.0
    assert "strip punctuation" in program.clean.signature.instructions.lower()
    assert "uppercase" in program.shout.signature.instructions.lower()
    assert reflection.calls == 0  # our meta-prompt was never sent; the proposer wrote every instruction
    assert proposer.calls and all(len(c["components"]) == 1 for c in proposer.calls)
    assert all(c["lm"] is optimizer.reflection_lm for c in proposer.calls)
    first = proposer.calls[0]
    (name,) = first["components"]
    assert set(first["dataset"]) == {name} and set(first["candidate"]) == {"clean", "shout"}
    for record in first["dataset"][name]:
        assert set(record) == {"Inputs", "Generated Outputs", "Feedback"}
        assert all(isinstance(v, str) for v in record["Inputs"].values())
        assert all(isinstance(v, str) for v in record["Generated Outputs"].values())
        assert record["Feedback"].startswith("Expected ")
    assert results.counters["instruction_proposer_ignored_components"] == 0


def test_all_components_asks_about_each_component_in_turn() -> None:
    proposer = KeywordProposer()
    program, _, _ = _compile(proposer, component_selector="all")
    assert program.detailed_results.val_aggregate_scores[program.detailed_results.best_idx] == 1.0
    assert [c["components"] for c in proposer.calls[:2]] == [["clean"], ["shout"]]


def test_a_raising_proposer_is_retried_and_counted_and_the_run_goes_on() -> None:
    inner = KeywordProposer()
    attempts = {"n": 0}

    def flaky(candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]) -> dict[str, str]:
        attempts["n"] += 1
        if attempts["n"] % 2 == 1:
            raise ConnectionError("proposer LM unreachable")
        return inner(candidate, reflective_dataset, components_to_update)

    program, _, _ = _compile(flaky)
    counters = program.detailed_results.counters
    assert counters["reflection_rejected_proposer_error"] >= 1
    assert program.detailed_results.val_aggregate_scores[program.detailed_results.best_idx] == 1.0


def test_omitted_unchanged_blank_and_extra_texts_are_counted_never_adopted() -> None:
    calls: list[str] = []

    def lazy(candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]) -> dict[str, str]:
        (name,) = components_to_update
        other = "shout" if name == "clean" else "clean"
        replies = [{}, {name: candidate[name]}, {name: "   "}, {other: "Something else."}]
        calls.append(name)
        return replies[len(calls) % len(replies)]

    program, _, _ = _compile(lazy, budget=60)
    results = program.detailed_results
    assert len(results.candidates) == 1  # nothing usable was ever proposed
    counters = results.counters
    for reason in ("omitted", "unchanged", "blank"):
        assert counters[f"reflection_rejected_{reason}"] >= 1, reason
    assert counters["instruction_proposer_ignored_components"] >= 1
    assert counters.get("reflection_rejected_proposer_error", 0) == 0


@pytest.mark.parametrize("reply, message", [
    ("Write the word in uppercase.", "must return a dict"),
    ({"clean": ["a list"], "shout": ["a list"]}, "the new instruction must be a str"),
])
@pytest.mark.parametrize("parallel", [1, 2])
def test_a_reply_of_the_wrong_type_is_a_clear_error(reply: Any, message: str, parallel: int, tmp_path: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(TypeError, match=message):
        _compile(lambda candidate, reflective_dataset, components_to_update: reply, budget=40,
                 num_parallel_proposals=parallel, log_dir=str(tmp_path))
    # The work done before the mistake is kept: with a fixed proposer the run resumes from its checkpoint.
    with caplog.at_level("INFO", logger="gepa_dspy"):
        program, _, _ = _compile(KeywordProposer(), budget=40, num_parallel_proposals=parallel, log_dir=str(tmp_path))
    assert any("GEPA: resumed from" in r.getMessage() for r in caplog.records)
    assert program.detailed_results.total_metric_calls <= 40


def test_a_proposer_that_is_not_callable_is_refused_before_any_lm_call() -> None:
    with pytest.raises(TypeError, match="instruction_proposer must be callable"):
        GEPA(metric, max_metric_calls=10, instruction_proposer="my_proposer")


def test_dspy_types_reach_the_proposer_as_objects_and_the_rest_as_strings() -> None:
    image = dspy.Image("https://example.com/cat.png")
    record = ReflectiveRecord(inputs={"picture": "<snapshot>", "n": 3}, outputs={"caption": "a cat", "k": 2},
                              feedback="ok", raw_inputs={"picture": image, "n": 3})
    assert dspy_style_record(record) == {"Inputs": {"picture": image, "n": "3"},
                                         "Generated Outputs": {"caption": "a cat", "k": "2"}, "Feedback": "ok"}
    restored = ReflectiveRecord(inputs={"picture": "<snapshot>"}, outputs={}, feedback="ok")  # from a checkpoint
    assert dspy_style_record(restored)["Inputs"] == {"picture": "<snapshot>"}


def test_an_image_input_reaches_the_proposer_as_a_dspy_image() -> None:
    seen: list[Any] = []

    def proposer(candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]) -> dict[str, str]:
        (name,) = components_to_update
        seen.extend(r["Inputs"]["picture"] for r in reflective_dataset[name])
        return {name: candidate[name] + " Name the animal."}

    def caption_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        return dspy.Prediction(score=float(pred.caption == gold.caption), feedback=f"expected {gold.caption!r}")

    program = dspy.Predict(dspy.Signature("picture: dspy.Image -> caption").with_instructions("Describe it."))
    task = ScriptedLM(lambda messages: "[[ ## caption ## ]]\nsomething\n\n[[ ## completed ## ]]", model="task")
    dspy.configure(lm=task)
    examples = [dspy.Example(picture=dspy.Image(f"https://example.com/{i}.png"), caption="a cat").with_inputs("picture")
                for i in range(4)]
    optimizer = GEPA(caption_metric, max_metric_calls=12, reflection_lm=ScriptedLM(lambda m: "", model="r"),
                     instruction_proposer=proposer, use_merge=False)
    optimizer.compile(program, trainset=examples, valset=examples)
    assert seen and all(isinstance(p, dspy.Image) for p in seen)
    assert {p.url for p in seen} <= {e.picture.url for e in examples}


# -- dspy.ReActV2: the trajectory reaches proposers as dspy.GEPA passes it (issue 28) ---------------------------

LONG_OBSERVATION = "penguins cannot fly " * 200


def _agent_and_lm() -> tuple[dspy.Module, Any]:
    from dspy.adapters.types.tool import ToolCalls
    from dspy.utils.dummies import DummyLM

    def search(query: str) -> str:
        return LONG_OBSERVATION

    turns = [{"next_thought": "Search first.", "tool_calls": ToolCalls.from_dict_list([{"name": "search", "args": {"query": "birds"}}])},
             {"next_thought": "Done.", "tool_calls": ToolCalls.from_dict_list([{"name": "submit", "args": {"answer": "no"}}])}]
    return dspy.ReActV2("question -> answer", tools=[search]), DummyLM(turns * 30)


def _agent_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
    return dspy.Prediction(score=0.25, feedback="Explain why.")


def test_a_react_trajectory_reaches_a_custom_proposer_as_the_context_string() -> None:
    seen: list[dict[str, Any]] = []

    def proposer(candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]) -> dict[str, str]:
        seen.append([record for name in components_to_update for record in reflective_dataset[name]])
        return dict.fromkeys(components_to_update, "Search, then explain.")

    agent, task_lm = _agent_and_lm()
    trainset = [dspy.Example(question="Can penguins fly?", answer="no, they swim").with_inputs("question")]
    with dspy.context(lm=task_lm, adapter=dspy.ChatAdapter()):
        GEPA(_agent_metric, max_metric_calls=4, reflection_lm=task_lm, instruction_proposer=proposer,
             use_merge=False).compile(agent, trainset=trainset, valset=trainset)
    assert seen and all(len(records) == 1 for records in seen)  # one record per run, as dspy.GEPA gives
    record = seen[0][0]
    context = record["Inputs"]["Context"]
    assert list(record["Inputs"])[:1] == ["Context"] and "history" not in record["Inputs"]
    assert context.startswith("```json\n  0: {") and context.endswith("```") and LONG_OBSERVATION in context
    assert all(isinstance(v, str) for v in record["Inputs"].values())
    assert all(isinstance(v, str) for v in record["Generated Outputs"].values())


def test_dspy_instruction_proposer_gets_the_history_object_and_truncates_tool_outputs() -> None:
    from dspy.teleprompt.gepa import InstructionProposer
    from dspy.utils.dummies import DummyLM

    agent, task_lm = _agent_and_lm()
    reflection_lm = DummyLM([{"new_instruction": "Search, then explain."}] * 5, adapter=dspy.JSONAdapter())
    trainset = [dspy.Example(question="Can penguins fly?", answer="no, they swim").with_inputs("question")]
    with dspy.context(lm=task_lm, adapter=dspy.ChatAdapter()):
        GEPA(_agent_metric, max_metric_calls=4, reflection_lm=reflection_lm, use_merge=False,
             instruction_proposer=InstructionProposer(truncate_history_outputs=True)).compile(
            agent, trainset=trainset, valset=trainset)
    assert reflection_lm.history
    user = reflection_lm.history[-1]["messages"][-1]["content"]
    assert '"Context": {"messages":' in user and "characters cut]" in user and LONG_OBSERVATION not in user
