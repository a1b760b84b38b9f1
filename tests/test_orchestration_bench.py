"""Smoke tests for benchmarks/orchestration.py: the scripted task, the scripted reflection and a tiny run."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from dspy.adapters.chat_adapter import ChatAdapter  # noqa: E402
from dspy.adapters.json_adapter import JSONAdapter  # noqa: E402

from benchmarks import orchestration as bench  # noqa: E402
from gepa_dspy.testing import ScriptedLM  # noqa: E402


def _route_messages(instruction: str, question: str) -> list[dict]:
    sig = dspy.Signature("question -> topic", instruction)
    return ChatAdapter().format(sig, demos=[], inputs={"question": question})


def test_dataset_is_balanced_and_seeded() -> None:
    train, val = bench.build_dataset(seed=3, n_train=12, n_val=6)
    assert (len(train), len(val)) == (12, 6)
    assert sorted(ex.topic for ex in train + val) == sorted(bench.TOPICS * 3)
    assert [ex.topic for ex in bench.build_dataset(3, 12, 6)[0]] == [ex.topic for ex in train]
    assert set(train[0].inputs().keys()) == {"question"}


def test_task_lm_is_right_only_where_the_instruction_knows() -> None:
    question = "Question 7 is about botany."
    knows = bench.instruction_with(bench.TOPICS_KEY, ["music", "botany"])
    assert "topic ## ]]\nbotany" in bench.task_responder(_route_messages(knows, question), "task")
    assert "unknown" in bench.task_responder(_route_messages(bench.SEED_ROUTE_INSTRUCTION, question), "task")

    program = bench.TopicQA()
    program.route.signature = program.route.signature.with_instructions(knows)
    program.answer.signature = program.answer.signature.with_instructions(
        bench.instruction_with(bench.RULES_KEY, ["botany"]))
    with dspy.context(lm=ScriptedLM(bench.task_responder)):
        pred = program(question=question)
    gold = dspy.Example(question=question, topic="botany", answer="7:botany")
    assert (pred.topic, pred.answer) == ("botany", "7:botany")
    assert bench.metric(gold, pred).score == 1.0


def test_metric_gives_partial_credit_and_named_feedback() -> None:
    gold = dspy.Example(question="Question 1 is about music.", topic="music", answer="1:music")
    half = bench.metric(gold, dspy.Prediction(topic="music", answer="I do not know."))
    assert half.score == 0.5 and "needs rule music" in half.feedback
    route = bench.metric(gold, dspy.Prediction(topic="unknown", answer="x"), pred_name="route")
    assert route.score == 0.0 and route.feedback == "Wrong topic: this question needs topic music."


def test_reflection_adds_the_first_missing_item_in_each_prompt_format() -> None:
    reflect = bench.ReflectionResponder(noise_modulus=0)
    current = bench.instruction_with(bench.TOPICS_KEY, ["music"])
    feedback = "Feedback: Wrong topic: this question needs topic geology. ... needs topic botany."
    expected = bench.instruction_with(bench.TOPICS_KEY, ["music", "geology"])

    raw = reflect([{"role": "user", "content": f"Current: {current}\n{feedback}\nReply in a fenced block."}], "r")
    assert f"```\n{expected}\n```" in raw

    sig = dspy.Signature("current_instruction, examples_with_feedback -> new_instruction")
    json_messages = JSONAdapter().format(sig, demos=[], inputs={"current_instruction": current,
                                                               "examples_with_feedback": feedback})
    assert json.loads(reflect(json_messages, "r")) == {"new_instruction": expected}
    chat_messages = ChatAdapter().format(sig, demos=[], inputs={"current_instruction": current,
                                                               "examples_with_feedback": feedback})
    assert ChatAdapter().parse(sig, reflect(chat_messages, "r")) == {"new_instruction": expected}


def test_reflection_is_deterministic_with_some_decoys() -> None:
    reflect = bench.ReflectionResponder()
    prompts = [f"{bench.instruction_with(bench.RULES_KEY, [])} needs rule music. variant {i}" for i in range(40)]
    first = [reflect.propose(p) for p in prompts]
    assert first == [reflect.propose(p) for p in prompts]
    assert 0 < reflect.counts.decoys < 40  # some proposals are useless, so some children get rejected
    assert reflect.propose("no known key at all") == "Answer carefully." and reflect.counts.unrecognized == 1


def test_decoy_percent_sets_the_share_of_decoys() -> None:
    prompts = [f"{bench.instruction_with(bench.RULES_KEY, [])} needs rule music. variant {i}" for i in range(400)]
    shares = {}
    for percent in (0, 80, 100):
        reflect = bench.ReflectionResponder(decoy_percent=percent)
        for prompt in prompts:
            reflect.propose(prompt)
        shares[percent] = reflect.counts.decoys / len(prompts)
    assert shares[0] == 0.0 and shares[100] == 1.0 and 0.72 < shares[80] < 0.88
    with pytest.raises(ValueError, match="decoy_percent"):
        bench.ReflectionResponder(decoy_percent=101)


def _check_run(run: dict, budget: int, strict_budget: bool) -> None:
    assert run["metric_calls"] is not None and run["metric_calls"] > 0
    if strict_budget:
        assert run["metric_calls"] <= budget
    assert run["task_lm_calls"] == 2 * run["metric_calls"]  # two predictors, one LM call each, no cache
    assert run["reflection_lm_calls"] >= 1 and run["lm_errors"] == 0
    assert run["lm_calls"] == run["task_lm_calls"] + run["reflection_lm_calls"]
    assert 0.0 <= run["overhead_fraction"] <= 1.0 and run["wall_s"] > 0


def test_tiny_benchmark_runs_both_optimizers(tmp_path: Path) -> None:
    implementations = bench.available_implementations()
    assert "dspy" in implementations
    report = bench.run_benchmark(budget=30, latency_ms=0, num_threads=2, seed=0, n_train=6, n_val=4,
                                 implementations=implementations)
    for name in implementations:
        _check_run(report["runs"][name], budget=30, strict_budget=name == "ours")
    table = bench.format_table(report)
    assert "wall time (s)" in table and "dspy.GEPA" in table
    if "ours" in implementations:
        assert report["ratios_ours_over_dspy"]["wall_s"] > 0 and "ours/dspy" in table
    json.dumps(report)  # JSON-ready


def test_cli_writes_the_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results" / "orchestration.json"
    code = bench.main(["--budget", "16", "--latency-ms", "1", "--num-threads", "2", "--seed", "1",
                       "--n-train", "4", "--n-val", "3", "--only", "dspy", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["budget"] == 16 and report["settings"]["seed"] == 1
    assert list(report["runs"]) == ["dspy"]
    assert "wall time (s)" in capsys.readouterr().out


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        bench.run_benchmark(budget=0, implementations=["dspy"])
    with pytest.raises(ValueError):
        bench.run_benchmark(budget=10, implementations=["nope"])


def test_the_server_charges_per_generated_token_and_the_report_counts_reflection_tokens() -> None:
    import time

    from gepa_dspy.testing import ScriptedOpenAIServer

    with ScriptedOpenAIServer(lambda messages, model: "word " * 50, latency_s=0.0, per_token_s=0.004,
                              models=["r"]) as server:
        lm = dspy.LM("openai/r", api_base=server.url, api_key="x", cache=False)
        lm("warm up")
        started = time.perf_counter()
        lm("hello")
        elapsed = time.perf_counter() - started
        assert server.stats().completion_tokens_by_model == {"r": 100}
    assert elapsed >= 0.2  # 50 tokens x 4 ms

    report = bench.run_benchmark(budget=30, latency_ms=0, per_token_ms=0.5, num_threads=2, seed=0, n_train=6,
                                 n_val=4, implementations=["ours", "dspy"])
    assert report["settings"]["per_token_ms"] == 0.5
    for run in report["runs"].values():
        assert run["reflection_tokens"] > 0 and run["task_tokens"] > 0
    ours = report["runs"]["ours"]
    assert ours["reflection_counters"]["reflection_completion_tokens"] == ours["reflection_tokens"]
    assert ours["reflection_counters"]["reflection_lm_calls"] == ours["reflection_lm_calls"]
    assert "reflection tokens generated" in bench.format_table(report)
    json.dumps(report)
