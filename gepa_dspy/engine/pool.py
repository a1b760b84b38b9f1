"""The candidate pool: every accepted candidate with its lineage and validation scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .candidate import Candidate, candidate_key
from .pareto import non_dominated, per_instance_fronts


@dataclass
class CandidatePool:
    """Accepted candidates, their parents and their per-example validation scores.

    ``val_scores[i][j]`` is candidate ``i``'s score on the ``j``-th validation example.
    """

    component_names: list[str]
    candidates: list[Candidate] = field(default_factory=list)
    parents: list[list[int]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    val_scores: list[list[float]] = field(default_factory=list)
    discovery_metric_calls: list[int] = field(default_factory=list)
    next_component: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.candidates)

    def add(self, candidate: Candidate, parents: list[int], origin: str, val_scores: list[float], metric_calls: int) -> int:
        """Append a candidate and return its index.

        The new candidate continues its first parent's round-robin cycle over components, so the
        component just mutated is not the first one mutated again.
        """
        self.candidates.append(dict(candidate))
        self.parents.append(list(parents))
        self.origins.append(origin)
        self.val_scores.append([float(s) for s in val_scores])
        self.discovery_metric_calls.append(int(metric_calls))
        self.next_component.append(self.next_component[parents[0]] if parents else 0)
        return len(self.candidates) - 1

    def aggregate_scores(self) -> list[float]:
        """Mean validation score of every candidate."""
        return [sum(row) / len(row) if row else 0.0 for row in self.val_scores]

    def best_index(self) -> int:
        """Index of the best mean validation score; ties go to the earliest candidate."""
        agg = self.aggregate_scores()
        return max(range(len(agg)), key=lambda i: (agg[i], -i))

    def index_of(self, candidate: Candidate) -> int | None:
        """Index of a candidate with exactly these instructions, if it is in the pool."""
        key = candidate_key(candidate)
        for i, existing in enumerate(self.candidates):
            if candidate_key(existing) == key:
                return i
        return None

    def ancestors(self, idx: int) -> set[int]:
        """All ancestors of candidate ``idx`` (not including itself)."""
        seen: set[int] = set()
        stack = list(self.parents[idx])
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(self.parents[p])
        return seen

    def fronts(self) -> list[set[int]]:
        """For every validation example, the candidates with the best score on it."""
        return per_instance_fronts(self.val_scores)

    def pareto_set(self) -> set[int]:
        """Candidates that survive the dominance filter."""
        return non_dominated(self.fronts(), self.aggregate_scores())

    def state_dict(self) -> dict[str, Any]:
        return {
            "component_names": self.component_names,
            "candidates": self.candidates,
            "parents": self.parents,
            "origins": self.origins,
            "val_scores": self.val_scores,
            "discovery_metric_calls": self.discovery_metric_calls,
            "next_component": self.next_component,
        }

    @classmethod
    def from_state_dict(cls, data: dict[str, Any]) -> "CandidatePool":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})
