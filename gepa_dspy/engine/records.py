"""Plain records the engine passes around and persists (all JSON-serialisable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Kinds of failure an evaluation can record; ``None`` means the run and the metric succeeded.
FAILURE_KINDS = ("lm_error", "lm_request_error", "program_error", "parse_error", "metric_error")
#: Failures that say nothing about the candidate (the LM or the network to it was down): a resumed search
#: forgets them and runs them again instead of serving them from the journal.
RETRIED_ON_RESUME = ("lm_error",)


@dataclass
class Outcome:
    """The result of running one candidate on one example (one metric call).

    ``trace`` and ``output`` are JSON-safe snapshots that the adapter writes and reads back (the engine
    never interprets them): they let a cached run feed reflection without running the program again.
    """

    score: float
    feedback: str
    failure: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    #: Named sub-scores the metric reported besides ``score`` (reported, never used to select).
    objectives: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Outcome":
        return cls(
            score=float(data["score"]),
            feedback=str(data.get("feedback", "")),
            failure=data.get("failure"),
            trace=list(data.get("trace") or []),
            output=dict(data.get("output") or {}),
            objectives={str(k): float(v) for k, v in (data.get("objectives") or {}).items()},
        )


@dataclass
class IterationRecord:
    """What one iteration of the search did, for logs and ``detailed_results``."""

    iteration: int
    kind: str  # "reflection" | "merge"
    status: str  # "accepted" | "rejected" | "skipped_perfect" | "no_proposal" | "duplicate" | ...
    parent_ids: list[int]
    components: list[str] = field(default_factory=list)
    example_ids: list[str] = field(default_factory=list)
    parent_scores: list[float] = field(default_factory=list)
    child_scores: list[float] = field(default_factory=list)
    new_candidate_id: int | None = None
    metric_calls_after: int = 0
    note: str = ""
