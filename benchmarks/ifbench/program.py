"""The IFBench program: answer the prompt, then rewrite the answer to satisfy every stated constraint."""

from __future__ import annotations

from typing import Any

import dspy


class AnswerPrompt(dspy.Signature):
    """Respond to the user's prompt as helpfully and correctly as you can."""

    prompt: str = dspy.InputField(desc="the user's request, which may state constraints on the answer's form")
    response: str = dspy.OutputField(desc="your answer to the prompt")


class EnforceConstraints(dspy.Signature):
    """Rewrite the draft response so that it satisfies every constraint stated in the prompt (length, format,
    wording, counts, positions, language, case, punctuation and so on) while remaining a correct answer to the
    prompt. Output only the final response text."""

    prompt: str = dspy.InputField(desc="the user's request, including its constraints")
    draft_response: str = dspy.InputField(desc="a first answer that may break some constraints")
    response: str = dspy.OutputField(desc="the final response, meeting every constraint in the prompt")


class IFBenchProgram(dspy.Module):
    """Two ``dspy.ChainOfThought`` stages, as in the GEPA paper: ``answer`` drafts a response, ``rewrite``
    turns it into one that meets the prompt's constraints. The rewrite's output is the program's
    ``response``; the draft is returned too (as ``draft_response``) for feedback."""

    def __init__(self, **predictor_config: Any) -> None:
        super().__init__()
        self.answer = dspy.ChainOfThought(AnswerPrompt, **predictor_config)
        self.rewrite = dspy.ChainOfThought(EnforceConstraints, **predictor_config)

    def forward(self, prompt: str) -> dspy.Prediction:
        draft = self.answer(prompt=prompt).response
        final = self.rewrite(prompt=prompt, draft_response=draft).response
        return dspy.Prediction(response=final, draft_response=draft)


#: Predictor names as ``program.named_predictors()`` reports them.
PREDICTORS = ("answer.predict", "rewrite.predict")


def make_program(*, max_tokens: int | None = None) -> IFBenchProgram:
    """A fresh, unoptimized IFBench program. ``max_tokens`` caps each stage's LM output."""
    config: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    return IFBenchProgram(**config)
