"""A toy benchmark with the benchmark-module interface, for the comparison harness tests.

The program repeats a word; the gold answer is the word in uppercase. The scripted task LM upper-cases
only when its instruction mentions "uppercase", and the scripted reflection LM always proposes such an
instruction, so any optimizer that tries a proposal finds the perfect prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import dspy

from benchmarks.common import Splits
from gepa_dspy.testing import (
    ChatPromptError,
    ScriptedLM,
    parse_input_fields,
    parse_instructions,
    parse_requested_output_fields,
    reply_for_prompt,
)

WORDS = ["apple", "river", "stone", "cloud", "tiger", "maple", "ocean", "piano", "lemon", "eagle", "sugar",
         "vivid", "zebra", "amber", "quiet", "noble", "cedar", "delta", "ember", "frost", "grape", "honey",
         "ivory", "jolly"]

PROPOSAL = "Write the given word in uppercase letters."


def load_splits(scale: str = "small", seed: int = 0, data_dir: Any = None,
                sizes: tuple[int, int, int] | None = None) -> Splits:
    """Disjoint seeded train/val/test samples of ``WORDS``."""
    n_train, n_val, n_test = sizes or (6, 6, 6)
    words = list(WORDS)
    random.Random(seed).shuffle(words)
    examples = [dspy.Example(word=w, answer=w.upper()).with_inputs("word") for w in words]
    return Splits(train=examples[:n_train], val=examples[n_train:n_train + n_val],
                  test=examples[n_train + n_val:n_train + n_val + n_test])


class Repeat(dspy.Module):
    """One predictor: word -> answer."""

    def __init__(self) -> None:
        super().__init__()
        self.say = dspy.Predict(dspy.Signature("word -> answer").with_instructions("Repeat the word."))

    def forward(self, word: str) -> dspy.Prediction:
        return self.say(word=word)


def make_program() -> Repeat:
    return Repeat()


def metric(gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
           pred_trace: Any = None) -> dspy.Prediction:
    answer = str(getattr(pred, "answer", ""))
    score = 1.0 if answer == gold.answer else 0.0
    feedback = "Correct." if score else f"Expected {gold.answer!r}, got {answer!r}: the answer must be in uppercase."
    return dspy.Prediction(score=score, feedback=feedback)


def task_responder(messages: list[dict[str, Any]], model: str) -> str:
    fields = parse_requested_output_fields(messages)
    if fields == ["answer"]:
        word = parse_input_fields(messages).get("word", "")
        upper = "uppercase" in parse_instructions(messages).lower()
        return reply_for_prompt(messages, {"answer": word.upper() if upper else word})
    return reply_for_prompt(messages, {}, default=PROPOSAL)


def reflection_responder(messages: list[dict[str, Any]], model: str) -> str:
    """DSPy-signature prompts (MIPROv2's proposer) get every field filled; raw GEPA reflection prompts get
    a fenced instruction."""
    try:
        parse_requested_output_fields(messages)
    except ChatPromptError:
        return f"```\n{PROPOSAL}\n```"
    return reply_for_prompt(messages, {}, default=PROPOSAL)


def server_responder(messages: list[dict[str, Any]], model: str) -> str:
    """One responder for a scripted server that serves both roles: models ending in "reflection" reflect."""
    if model.endswith("reflection"):
        return reflection_responder(messages, model)
    return task_responder(messages, model)


def lm_factory(role: str) -> ScriptedLM:
    """An ``LMFactory`` of scripted LMs: reflection role -> reflection responder, others -> task responder."""
    if role == "reflection":
        return ScriptedLM(reflection_responder, model="scripted-reflection")
    return ScriptedLM(task_responder, model="scripted-task")


class FlaggingMetric:
    """``metric`` with PUPA's self-description: ``settings`` and ``stats``, and a placeholder 0 (counted in
    ``flagged_results``) for every word in ``flag_words``, as PUPA gives when its judge fails."""

    def __init__(self, flag_words: frozenset[str] = frozenset()) -> None:
        self.flag_words = flag_words
        self.calls = 0
        self.flagged = 0

    @property
    def settings(self) -> dict[str, str]:
        return {"judge_format": "json_schema"}

    @property
    def stats(self) -> "FlaggingStats":
        return FlaggingStats(results=self.calls, flagged_results=self.flagged, judge=JudgeCounters(questions=self.calls))

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
        self.calls += 1
        if gold.word in self.flag_words:
            self.flagged += 1
            return dspy.Prediction(score=0.0, feedback="JUDGE FAILURE: placeholder 0")
        return metric(gold, pred, trace, pred_name, pred_trace)


@dataclass(frozen=True)
class JudgeCounters:
    questions: int


@dataclass(frozen=True)
class FlaggingStats:
    results: int
    flagged_results: int
    judge: JudgeCounters
