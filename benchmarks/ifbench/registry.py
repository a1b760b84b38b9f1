"""The checker registry: instruction id -> one small function that judges a response.

Every checker has the signature ``check(response, args, prompt) -> Verdict``. ``args`` wraps the
instruction's kwargs dict (see :class:`Args`); ``prompt`` is the full prompt, which a few checkers
need (e.g. to find the sentence they must repeat). Checkers judge the response exactly as given;
the strict/loose policy lives in :mod:`benchmarks.ifbench.following`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """One checker's judgement: whether the constraint holds and what was measured."""

    followed: bool
    measured: str


class UnknownInstructionError(KeyError):
    """Raised for an instruction id that has no registered checker."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0])


class CheckerArgumentError(ValueError):
    """Raised when an instruction's kwargs lack a value its checker needs (or hold a bad one)."""


class Args:
    """Read access to one instruction's kwargs with clear errors for missing or malformed values.

    The data files store every possible kwarg for every instruction, with ``None`` for unused ones,
    and store integers as floats (``5.0``); the accessors normalise both.
    """

    def __init__(self, instruction_id: str, values: Mapping[str, Any] | None) -> None:
        self.instruction_id = instruction_id
        self.values = dict(values or {})

    def has(self, name: str) -> bool:
        """Whether ``name`` is present and not None."""
        return self.values.get(name) is not None

    def raw(self, name: str) -> Any:
        """The value of ``name``; raises CheckerArgumentError when it is missing or None."""
        value = self.values.get(name)
        if value is None:
            raise CheckerArgumentError(f"instruction {self.instruction_id!r} needs kwarg {name!r}, got none")
        return value

    def int(self, name: str) -> int:
        """``name`` as an int (accepts 5, 5.0 and "5")."""
        value = self.raw(name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be a whole number, got {value!r}"
            ) from None
        if number != int(number):
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be a whole number, got {value!r}"
            )
        return int(number)

    def float(self, name: str) -> float:
        """``name`` as a float."""
        value = self.raw(name)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be a number, got {value!r}"
            ) from None

    def str(self, name: str) -> str:
        """``name`` as a non-empty string."""
        value = self.raw(name)
        if not isinstance(value, str) or not value:
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be a non-empty string, got {value!r}"
            )
        return value

    def str_list(self, name: str) -> list[str]:
        """``name`` as a list of strings."""
        value = self.raw(name)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be a list of strings, got {value!r}"
            )
        return list(value)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        """``name`` as one of ``allowed``."""
        value = self.str(name)
        if value not in allowed:
            raise CheckerArgumentError(
                f"instruction {self.instruction_id!r}: kwarg {name!r} must be one of {allowed}, got {value!r}"
            )
        return value


CheckFn = Callable[[str, Args, str], Verdict]


@dataclass(frozen=True)
class Checker:
    """A registered checker: the instruction id, a one-line description and the function."""

    instruction_id: str
    description: str
    check: CheckFn


REGISTRY: dict[str, Checker] = {}


def checker(instruction_id: str, description: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator that registers ``fn`` as the checker of ``instruction_id``."""

    def register(fn: CheckFn) -> CheckFn:
        if instruction_id in REGISTRY:
            raise RuntimeError(f"two checkers registered for {instruction_id!r}")
        REGISTRY[instruction_id] = Checker(instruction_id, description, fn)
        return fn

    return register


def get_checker(instruction_id: str) -> Checker:
    """The checker for ``instruction_id``; raises UnknownInstructionError naming it."""
    try:
        return REGISTRY[instruction_id]
    except KeyError:
        raise UnknownInstructionError(
            f"unknown IFBench instruction id {instruction_id!r}: no checker is registered for it "
            f"({len(REGISTRY)} ids are known; see benchmarks.ifbench.registry.REGISTRY)"
        ) from None


def verdict(followed: bool, measured: str) -> Verdict:
    """Shorthand used by the checkers."""
    return Verdict(bool(followed), measured)
