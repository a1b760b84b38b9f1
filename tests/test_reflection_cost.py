"""Reflection on real-LM terms (issue 32): replies sized to the LM's cap, retries that do not repeat a failure,
a token bound per proposal, and every call and token counted."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.adapter.evaluation import DSPyEvaluator
from gepa_dspy.adapter.reflection import ReflectionProposer
from gepa_dspy.adapter.reflection.reply_budget import instruction_word_limit, proposal_token_budget
from gepa_dspy.engine.records import Outcome
from gepa_dspy.testing import ScriptedLM as TokenLM

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder

NEW_RULE = "Strip punctuation from the text and reply with the cleaned field only."


def _runs() -> tuple[DSPyEvaluator, list[tuple[str, Outcome]]]:
    examples = make_examples()
    evaluator = DSPyEvaluator(CleanThenShout(), {f"t{i}": e for i, e in enumerate(examples[:3])}, metric)
    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    runs: list[tuple[str, Outcome]] = []
    evaluator.evaluate({"clean": "Copy the text.", "shout": "Repeat the word."}, ["t0", "t1", "t2"],
                       lambda e, o: runs.append((e, o)))
    return evaluator, sorted(runs)


PARENT = {"clean": "Copy the text.", "shout": "Repeat the word."}


class Reflector:
    """A scripted reflection LM: ``answer(prompt)`` gives the reply; keeps every prompt it was sent."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def __call__(self, messages: list[dict[str, Any]], model: str) -> str:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        return self.answer(prompt)


@pytest.mark.parametrize("cap, words", [(None, 400), (256, 91), (1024, 365), (8192, 400), (16, 25)])
def test_the_word_limit_comes_from_the_lm_cap_with_room_to_spare(cap: int | None, words: int) -> None:
    assert instruction_word_limit(cap) == words
    if cap is not None and cap >= 100:
        assert words * 1.4 <= cap * 0.5 + 1  # about half the cap in tokens
    lm = TokenLM(lambda m, model: "", max_tokens=cap)
    evaluator, runs = _runs()
    prompt = ReflectionProposer(lm, evaluator).render_prompt("Copy the text.", ReflectionProposer(
        lm, evaluator).build_reflective_records(PARENT, "clean", runs))
    assert f"at most {words} words" in prompt and "no headings or sections" in prompt


def test_a_truncated_reply_is_retried_once_asking_for_fewer_words_then_adopted() -> None:
    long_answer = "```text\n" + "Strip punctuation carefully. " * 80 + "\n```"
    reflector = Reflector(lambda p: f"```text\n{NEW_RULE}\n```" if "cut off at the length limit" in p else long_answer)
    lm = TokenLM(reflector, model="reflect", max_tokens=64)
    evaluator, runs = _runs()
    proposer = ReflectionProposer(lm, evaluator)
    result = proposer.propose(PARENT, "clean", runs)
    assert result.text == NEW_RULE and result.rejections == ["truncated"]
    assert len(reflector.prompts) == 2
    assert "at most 25 words" in reflector.prompts[0] and "at most 25 words" in reflector.prompts[1]
    counters = proposer.reflection_counters()
    assert counters["reflection_shorter_retries"] == 1 and counters["reflection_lm_calls"] == 2
    assert counters["reflection_completion_tokens"] == 64 + len(f"```text\n{NEW_RULE}\n```".split())


def test_a_reply_truncated_again_after_the_shorter_request_is_not_paid_for_a_third_time() -> None:
    reflector = Reflector(lambda p: "Strip punctuation, always, in every case " * 60)  # unfenced, always too long
    lm = TokenLM(reflector, model="reflect", max_tokens=300)
    evaluator, runs = _runs()
    proposer = ReflectionProposer(lm, evaluator, max_attempts=5, max_tokens_per_proposal=10_000)
    result = proposer.propose(PARENT, "clean", runs)
    # An unfenced reply cut at the cap parses, but it is never adopted.
    assert result.text is None and result.rejections == ["truncated", "truncated"]
    assert "at most 107 words" in reflector.prompts[0] and "at most 53 words" in reflector.prompts[1]


def test_an_unchanged_reply_ends_the_proposal_without_paying_again() -> None:
    reflector = Reflector(lambda p: "```text\nCopy the text.\n```")
    lm = TokenLM(reflector, model="reflect")
    evaluator, runs = _runs()
    result = ReflectionProposer(lm, evaluator, max_attempts=3).propose(PARENT, "clean", runs)
    assert result.text is None and result.rejections == ["unchanged"] and len(reflector.prompts) == 1


def test_a_copying_reply_is_retried_with_a_note_saying_so() -> None:
    def answer(prompt: str) -> str:
        if "pasted records" in prompt:
            return f"```text\n{NEW_RULE}\n```"
        record_feedback = prompt.split("Feedback: ", 1)[1].split("\n", 1)[0]
        return f"```text\n{NEW_RULE}\nInput: it is a fine day today! Feedback: {record_feedback}\n```"

    examples = [dspy.Example(text="it is a fine day today!", answer="IT IS A FINE DAY TODAY").with_inputs("text")]
    evaluator = DSPyEvaluator(CleanThenShout(), {"t0": examples[0]}, metric)
    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    runs: list[tuple[str, Outcome]] = []
    evaluator.evaluate(PARENT, ["t0"], lambda e, o: runs.append((e, o)))
    reflector = Reflector(answer)
    proposer = ReflectionProposer(TokenLM(reflector, model="reflect"), evaluator)
    result = proposer.propose(PARENT, "clean", runs)
    assert result.text == NEW_RULE and result.rejections == ["pasted_records"]
    assert proposer.reflection_counters()["reflection_noted_retries"] == 1


def test_reflection_tokens_per_proposal_are_bounded() -> None:
    reflector = Reflector(lambda p: "I will now write a better instruction for it.")  # a preamble, 9 tokens
    lm = TokenLM(reflector, model="reflect")
    evaluator, runs = _runs()
    proposer = ReflectionProposer(lm, evaluator, max_attempts=5, max_tokens_per_proposal=15)
    result = proposer.propose(PARENT, "clean", runs)
    assert result.rejections == ["preamble", "preamble"] and len(reflector.prompts) == 2
    assert proposer.reflection_counters()["reflection_token_budget_stops"] == 1
    assert proposal_token_budget(256) == 512 and proposal_token_budget(None) == 2240


def test_detailed_results_report_reflection_calls_tokens_and_rejections() -> None:
    reflection = TokenLM(lambda messages, model: reflection_responder(messages), model="reflect", max_tokens=256)
    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    examples = make_examples()
    results = GEPA(metric, max_metric_calls=60, reflection_lm=reflection, track_stats=True, use_merge=False).compile(
        CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results
    counters = results.counters
    stats = reflection.stats()
    assert counters["reflection_lm_calls"] == stats.requests_by_model["reflect"] == counters["reflection_calls"]
    assert counters["reflection_completion_tokens"] == stats.completion_tokens_by_model["reflect"] > 0
    assert counters["reflection_prompt_tokens"] > counters["reflection_completion_tokens"]
    assert counters["reflection_unmeasured_calls"] == 0 and counters["reflection_token_budget_stops"] == 0


@pytest.mark.parametrize("reply", [f"Here it is:\n```text\n{NEW_RULE}\n", f"{NEW_RULE}\n```"])
def test_a_block_never_closed_is_read_when_the_lm_ended_below_its_cap(reply: str) -> None:
    reflector = Reflector(lambda p: reply)
    evaluator, runs = _runs()
    proposer = ReflectionProposer(TokenLM(reflector, model="reflect", max_tokens=1024), evaluator)
    result = proposer.propose(PARENT, "clean", runs)
    assert result.text == NEW_RULE and result.rejections == [] and len(reflector.prompts) == 1
    assert proposer.reflection_counters()["reflection_unclosed_fences_read"] == 1


def test_a_block_never_closed_is_truncated_when_the_lm_hit_its_cap_or_reported_no_usage() -> None:
    unclosed = "```text\n" + "Strip punctuation carefully. " * 80
    evaluator, runs = _runs()
    at_cap = ReflectionProposer(TokenLM(Reflector(lambda p: unclosed), model="reflect", max_tokens=64), evaluator,
                                max_attempts=1)
    assert at_cap.propose(PARENT, "clean", runs).rejections == ["truncated"]

    # An LM that reports no usage: whether it stopped at its cap is unknown, so the strict reading stays.
    unknown = ReflectionProposer(TokenLM(Reflector(lambda p: ""), model="reflect"), evaluator, max_attempts=1)
    unknown._ask = lambda prompt, reroll: (f"```text\n{NEW_RULE}\n", 12, None)
    assert unknown.propose(PARENT, "clean", runs).rejections == ["truncated"]
    assert unknown.reflection_counters()["reflection_unclosed_fences_read"] == 0


@pytest.mark.parametrize("reply, expected", [
    (f"{NEW_RULE}\n```", (NEW_RULE, "ok")),                       # a bare fence closing the block before it
    ("The step fails on dates, as the records show.\n```text\n", (None, "blank")),  # opened, nothing written
    ("Analysis:\n- item fails\n```python\n", (None, "blank")),
    ("```text\n", (None, "blank")),
])
def test_an_unclosed_block_is_read_after_an_opening_fence_and_before_a_bare_closing_one(reply, expected) -> None:
    from gepa_dspy.adapter.reflection.reply_checks import extract_unclosed_instruction

    assert extract_unclosed_instruction(reply) == expected
