"""Strict and loose evaluation of a response against a prompt's instructions.

Strict: the checker judges the response as given (an empty response follows nothing).
Loose (the reference's rule): the instruction counts as followed when the checker accepts any of
the response, the response without its first line, without its last line, without both, and each
of those with every ``*`` removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.ifbench.registry import Args, Verdict, get_checker


@dataclass(frozen=True)
class ConstraintResult:
    """The verdict on one instruction of a prompt."""

    instruction_id: str
    followed: bool
    measured: str


def loose_variants(response: str) -> list[str]:
    """The response variants the loose rule tries, in order (the full response first)."""
    lines = response.split("\n")
    cut = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return cut + [variant.replace("*", "") for variant in cut]


def judge(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None, prompt: str, loose: bool) -> Verdict:
    """One instruction's verdict under the strict or loose rule."""
    check = get_checker(instruction_id).check
    args = Args(instruction_id, kwargs)
    if not loose:
        if not response.strip():
            return Verdict(False, "the response is empty")
        return check(response, args, prompt)
    first: Verdict | None = None
    for variant in loose_variants(response):
        if not variant.strip():
            continue
        result = check(variant, args, prompt)
        if result.followed:
            return result
        first = first or result
    return first or Verdict(False, "the response is empty")


def evaluate(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs: Sequence[Mapping[str, Any] | None] | None,
    prompt: str,
    loose: bool = False,
) -> list[ConstraintResult]:
    """Verdicts with measurements for every instruction, in order."""
    kwargs_list = list(kwargs) if kwargs is not None else [None] * len(instruction_id_list)
    if len(kwargs_list) != len(instruction_id_list):
        raise ValueError(
            f"got {len(instruction_id_list)} instruction ids but {len(kwargs_list)} kwargs dicts; they must pair up"
        )
    for instruction_id in instruction_id_list:
        get_checker(instruction_id)  # fail on an unknown id before running any checker
    results = []
    for instruction_id, kw in zip(instruction_id_list, kwargs_list):
        v = judge(instruction_id, response, kw, prompt, loose)
        results.append(ConstraintResult(instruction_id, v.followed, v.measured))
    return results


def follows(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs: Sequence[Mapping[str, Any] | None] | None,
    prompt: str,
    loose: bool = False,
) -> list[bool]:
    """One verdict per instruction, in order. Raises UnknownInstructionError for an unknown id."""
    return [r.followed for r in evaluate(response, instruction_id_list, kwargs, prompt, loose)]
