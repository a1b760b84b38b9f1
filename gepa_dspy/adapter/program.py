"""Reading and writing the instructions of a DSPy program's predictors."""

from __future__ import annotations

import copy

import dspy

from ..engine.candidate import Candidate


class ProgramStructureError(ValueError):
    """The student program cannot be optimized as it is (no predictors, duplicate names, ...)."""


def named_predictors(program: dspy.Module) -> list[tuple[str, dspy.Predict]]:
    """The program's predictors with their names, checked: at least one, names unique."""
    if not isinstance(program, dspy.Module):
        raise TypeError(f"GEPA optimizes a dspy.Module; got {type(program).__name__}")
    pairs = list(program.named_predictors())
    if not pairs:
        raise ProgramStructureError(
            f"{type(program).__name__} has no predictors (dspy.Predict / ChainOfThought / ...) for GEPA to optimize"
        )
    names = [name for name, _ in pairs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ProgramStructureError(f"predictor names must be unique; repeated: {dupes}")
    return pairs


def seed_candidate(program: dspy.Module) -> Candidate:
    """The program's current instructions, by predictor name."""
    return {name: pred.signature.instructions for name, pred in named_predictors(program)}


def build_program(student: dspy.Module, candidate: Candidate) -> dspy.Module:
    """A deep copy of ``student`` whose predictors carry the candidate's instructions (student untouched)."""
    program = student.deepcopy() if hasattr(student, "deepcopy") else copy.deepcopy(student)
    predictors = dict(named_predictors(program))
    unknown = sorted(set(candidate) - set(predictors))
    if unknown:
        raise ProgramStructureError(f"candidate names predictors the program does not have: {unknown}")
    for name, text in candidate.items():
        predictors[name].signature = predictors[name].signature.with_instructions(text)
    return program
