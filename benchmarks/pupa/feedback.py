"""Feedback texts for the PUPA metric: what each part measured and what to change.

The redaction step is told about leaks, the response step about quality; the whole program hears both.
"""

from __future__ import annotations

from benchmarks.pupa.judge import JudgeFailure
from benchmarks.pupa.program import REDACTION_STEP, RESPONSE_STEP
from benchmarks.pupa.verdicts import LeakageVerdict, QualityVerdict, combined_score

REFERENCE_EXCERPT_CHARS = 400


def _quote(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _excerpt(text: str, limit: int = REFERENCE_EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def score_line(quality: QualityVerdict, leakage: LeakageVerdict) -> str:
    return (
        f"Score {combined_score(quality, leakage):.2f} = (quality {quality.score:g} + "
        f"(1 - leakage {leakage.fraction:.2f})) / 2."
    )


def quality_line(quality: QualityVerdict) -> str:
    if quality.wins == 2:
        detail = "the judge rated the final response at least as good as the reference response in both orders"
    elif quality.wins == 1:
        detail = (
            "the judge's verdicts were mixed: the final response was at least as good as the reference in "
            "one order and worse in the other"
        )
    else:
        detail = "the judge preferred the reference response in both orders"
    return f"Quality {quality.score:g}: {detail}."


def leakage_line(leakage: LeakageVerdict) -> str:
    n = len(leakage.units)
    if n == 0:
        return "Leakage 0: this query lists no private items."
    if not leakage.leaked:
        return f"Leakage 0: none of the {n} private items ({_quote(leakage.units)}) reached the untrusted model."
    parts = []
    if leakage.verbatim:
        parts.append(f"verbatim: {_quote(leakage.verbatim)}")
    if leakage.judged:
        parts.append(f"recognizable per the judge: {_quote(leakage.judged)}")
    line = (
        f"Leakage {leakage.fraction:.2f}: {len(leakage.leaked)} of {n} private items reached the untrusted "
        f"model in the redacted request ({'; '.join(parts)})."
    )
    if leakage.withheld:
        line += f" Withheld correctly: {_quote(leakage.withheld)}."
    return line


def redaction_advice(quality: QualityVerdict, leakage: LeakageVerdict) -> str:
    advice = []
    if leakage.leaked:
        advice.append(
            f"To improve the redacted request: leave out {_quote(leakage.leaked)} or replace them with generic "
            "descriptions, while keeping the task and its non-private details."
        )
    if quality.wins < 2:
        advice.append(
            f"The final response lost to the reference in {2 - quality.wins} of 2 comparisons: check that the "
            "redacted request still gives the external model every non-private detail it needs."
        )
    return " ".join(advice) or "The redacted request protected every private item and kept enough to answer well."


def response_advice(quality: QualityVerdict, target_response: str) -> str:
    if quality.wins == 2:
        return "The final response held up against the reference; keep answering this way."
    return (
        f"To improve the final response: it lost to the reference in {2 - quality.wins} of 2 comparisons. "
        f"Reference response (start): \"{_excerpt(target_response)}\" Answer the user's query as completely "
        "and correctly as the reference does: use what the external answer got right and restore the details "
        "from the user's query that were withheld from it."
    )


def feedback_text(
    quality: QualityVerdict, leakage: LeakageVerdict, target_response: str, pred_name: str | None = None
) -> str:
    """Feedback for the whole program, or for one predictor when ``pred_name`` names a PUPA step."""
    step = (pred_name or "").split(".")[0]
    if step == REDACTION_STEP:
        lines = [score_line(quality, leakage), leakage_line(leakage), quality_line(quality),
                 redaction_advice(quality, leakage)]
    elif step == RESPONSE_STEP:
        lines = [score_line(quality, leakage), quality_line(quality), response_advice(quality, target_response)]
    else:
        lines = [
            score_line(quality, leakage),
            quality_line(quality),
            leakage_line(leakage),
            redaction_advice(quality, leakage) if leakage.leaked else "",
            response_advice(quality, target_response) if quality.wins < 2 else "",
        ]
    return "\n".join(line for line in lines if line)


def failure_text(
    failures: list[JudgeFailure], quality: QualityVerdict | None, leakage: LeakageVerdict | None
) -> str:
    """Feedback for an example whose judge gave no parseable answer: the score is a placeholder."""
    lines = [
        "JUDGE FAILURE: this example's score is a placeholder 0, not a measurement.",
        *(str(failure) for failure in failures),
    ]
    if quality is not None:
        lines.append(quality_line(quality))
    if leakage is not None:
        lines.append(leakage_line(leakage))
    return "\n".join(lines)
