"""What the engine needs from the outside world: something that runs candidates, something that proposes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

from .candidate import Candidate
from .records import Outcome

#: Called once per finished run, possibly from a worker thread: (example id, outcome).
OutcomeSink = Callable[[str, Outcome], None]


@runtime_checkable
class Evaluator(Protocol):
    """Runs a candidate on examples. Every call of ``sink`` is one paid metric call.

    Implementations may run examples concurrently. If ``sink`` raises, stop starting new examples
    and re-raise once the ones in flight have finished (and been passed to ``sink``).
    """

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None: ...


@dataclass
class ProposalResult:
    """A proposed instruction (or None when every attempt was rejected) and why attempts failed."""

    text: str | None
    rejections: list[str] = field(default_factory=list)


@runtime_checkable
class Proposer(Protocol):
    """Writes a new instruction for one component from the parent's runs on a minibatch."""

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult: ...


@runtime_checkable
class StopCondition(Protocol):
    """Asked before every iteration; returns a reason to stop, or None to go on."""

    def __call__(self) -> str | None: ...
