"""A two-predictor toy task whose scripted LM obeys instruction keywords, so better instructions score better.

``clean`` (text -> cleaned) strips punctuation only if its instruction says "strip punctuation";
``shout`` (cleaned -> answer) upper-cases only if its instruction says "uppercase". The gold answer
is the upper-cased word without punctuation. The scripted reflection LM reads the feedback in its
prompt and adds the missing keyword to the instruction.
"""

from __future__ import annotations

import re
import string
from typing import Any

import dspy

from .scripted_lm import ScriptedLM, chat_reply, input_value, instruction_of, output_fields_of

WORDS = ["apple!", "river", "stone?", "cloud", "tiger.", "maple", "ocean,", "piano", "lemon;", "eagle",
         "sugar!", "vivid", "zebra?", "amber", "quiet.", "noble"]


def make_examples(words: list[str] = WORDS) -> list[dspy.Example]:
    return [dspy.Example(text=w, answer=w.strip(string.punctuation).upper()).with_inputs("text") for w in words]


class CleanThenShout(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.clean = dspy.Predict(dspy.Signature("text -> cleaned").with_instructions("Copy the text."))
        self.shout = dspy.Predict(dspy.Signature("cleaned -> answer").with_instructions("Repeat the word."))

    def forward(self, text: str) -> dspy.Prediction:
        cleaned = self.clean(text=text).cleaned
        return self.shout(cleaned=cleaned)


def task_responder(messages: list[dict[str, Any]]) -> str:
    instruction = instruction_of(messages).lower()
    fields = output_fields_of(messages)
    if fields == ["cleaned"]:
        text = input_value(messages, "text")
        if "strip punctuation" in instruction:
            text = text.strip(string.punctuation)
        return chat_reply(cleaned=text)
    word = input_value(messages, "cleaned")
    return chat_reply(answer=word.upper() if "uppercase" in instruction else word)


def metric(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None, pred_trace: Any = None) -> dspy.Prediction:
    answer = str(pred.answer)
    has_punct = any(c in string.punctuation for c in answer)
    upper = answer == answer.upper()
    score = 1.0 if answer == gold.answer else 0.5 if (upper or not has_punct) and (upper != (not has_punct)) else 0.0
    problems = []
    if has_punct:
        problems.append("the answer must not contain punctuation (strip punctuation)")
    if not upper:
        problems.append("the answer must be in uppercase")
    if pred_name == "clean":
        problems = [p for p in problems if "punctuation" in p]
    elif pred_name == "shout":
        problems = [p for p in problems if "uppercase" in p]
    feedback = f"Expected {gold.answer!r}, got {answer!r}. " + ("; ".join(problems) or "Correct.")
    return dspy.Prediction(score=score, feedback=feedback)


def reflection_responder(messages: list[dict[str, Any]]) -> str:
    prompt = messages[-1]["content"]
    current = prompt.split("<<<CURRENT INSTRUCTION>>>", 1)[1].split("<<<END>>>", 1)[0].strip()
    records = prompt.split("## Records of the step at work", 1)[1]
    additions = []
    if "strip punctuation" in records and "strip punctuation" not in current.lower():
        additions.append("Always strip punctuation from the text.")
    if "uppercase" in records and "uppercase" not in current.lower():
        additions.append("Write the word in uppercase.")
    new = " ".join([current, *additions]) if additions else current + " Be careful."
    return f"Here is the improved instruction:\n```\n{new}\n```"


def make_lms() -> tuple[ScriptedLM, ScriptedLM]:
    return ScriptedLM(task_responder, model="task"), ScriptedLM(reflection_responder, model="reflection")
