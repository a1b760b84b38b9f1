"""Strategy protocols: small, swappable decisions of the search (cf. Optuna's samplers).

Each strategy is a plain object; the ones that keep state expose it through ``state_dict`` /
``load_state_dict`` so a checkpoint can restore them exactly.
"""

from __future__ import annotations

import random
from typing import Protocol, Sequence, runtime_checkable

from .pareto import sample_pareto_parent
from .pool import CandidatePool


@runtime_checkable
class ParentSelector(Protocol):
    """Picks the candidate to mutate next."""

    def select(self, pool: CandidatePool, rng: random.Random) -> int: ...


@runtime_checkable
class ComponentSelector(Protocol):
    """Picks which predictors of the parent get a new instruction."""

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]: ...


@runtime_checkable
class AcceptanceCriterion(Protocol):
    """Decides whether a child beats its parent on the shared minibatch."""

    def accept(self, parent_scores: Sequence[float], child_scores: Sequence[float]) -> bool: ...


class ParetoParentSelector:
    """Sample among non-dominated candidates, proportionally to the examples each one leads on."""

    name = "pareto"

    def select(self, pool: CandidatePool, rng: random.Random) -> int:
        return sample_pareto_parent(pool.val_scores, pool.aggregate_scores(), rng)


class CurrentBestParentSelector:
    """Always the candidate with the best validation mean (ties: earliest). The paper's ablation."""

    name = "current_best"

    def select(self, pool: CandidatePool, rng: random.Random) -> int:
        return pool.best_index()


class RoundRobinComponentSelector:
    """One predictor at a time, cycling through them separately for every candidate."""

    name = "round_robin"

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]:
        names = pool.component_names
        position = pool.next_component[parent_id] % len(names)
        pool.next_component[parent_id] = (position + 1) % len(names)
        return [names[position]]


class AllComponentSelector:
    """Every predictor at once."""

    name = "all"

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]:
        return list(pool.component_names)


class StrictImprovement:
    """Accept iff the child's minibatch sum is strictly greater than the parent's."""

    def accept(self, parent_scores: Sequence[float], child_scores: Sequence[float]) -> bool:
        return sum(child_scores) > sum(parent_scores)


PARENT_SELECTORS: dict[str, type] = {"pareto": ParetoParentSelector, "current_best": CurrentBestParentSelector}
COMPONENT_SELECTORS: dict[str, type] = {"round_robin": RoundRobinComponentSelector, "all": AllComponentSelector}


def make_parent_selector(spec: str | ParentSelector) -> ParentSelector:
    if isinstance(spec, str):
        if spec not in PARENT_SELECTORS:
            raise ValueError(f"candidate_selection_strategy must be one of {sorted(PARENT_SELECTORS)}, got {spec!r}")
        return PARENT_SELECTORS[spec]()
    if not isinstance(spec, ParentSelector):
        raise TypeError(f"candidate_selection_strategy must be a name or have select(pool, rng); got {spec!r}")
    return spec


def make_component_selector(spec: str | ComponentSelector) -> ComponentSelector:
    if isinstance(spec, str):
        if spec not in COMPONENT_SELECTORS:
            raise ValueError(f"component_selector must be one of {sorted(COMPONENT_SELECTORS)}, got {spec!r}")
        return COMPONENT_SELECTORS[spec]()
    if not isinstance(spec, ComponentSelector):
        raise TypeError(f"component_selector must be a name or have select(pool, parent_id); got {spec!r}")
    return spec
