"""A scripted GEPA run with accepted and rejected proposals, for the report's tests and its docs screenshot."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import dspy

from gepa_dspy import GEPA
from gepa_dspy.testing import ScriptedLM

from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


def hesitant_reflection():
    """Every third reply proposes an unhelpful instruction (rejected on the minibatch); the others help."""
    calls = itertools.count()
    lock = threading.Lock()

    def respond(messages, model):
        with lock:
            n = next(calls)
        if n % 3 == 0:
            current = messages[-1]["content"].split("<<<CURRENT INSTRUCTION>>>", 1)[1].split("<<<END>>>", 1)[0].strip()
            return f"```\n{current} Keep the text exactly as it was given, including its case.\n```"
        return reflection_responder(messages)

    return respond


def run_scripted_compile(log_dir: str | Path, max_metric_calls: int = 150) -> dspy.Module:
    task = ScriptedLM(lambda messages, model: task_responder(messages), model="openai/gpt-4o-mini")
    reflection = ScriptedLM(hesitant_reflection(), model="openai/gpt-4o")
    examples = make_examples()
    optimizer = GEPA(metric, max_metric_calls=max_metric_calls, reflection_lm=reflection, track_stats=True,
                     log_dir=str(log_dir), display_progress=False)
    with dspy.context(lm=task):
        return optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
