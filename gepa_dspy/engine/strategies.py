"""Strategy protocols: small, swappable decisions of the search (cf. Optuna's samplers).

Each strategy is a plain object; the ones that keep state expose it through ``state_dict`` /
``load_state_dict`` so a checkpoint can restore them exactly.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from .candidate import Candidate
from .pareto import FRONTIER_TYPES, frontier_fronts, sample_pareto_parent
from .pool import CandidatePool
from .records import Outcome


@runtime_checkable
class ParentSelector(Protocol):
    """Picks the candidate to mutate next."""

    def select(self, pool: CandidatePool, rng: random.Random) -> int: ...


@runtime_checkable
class ComponentSelector(Protocol):
    """Picks which predictors of the parent get a new instruction."""

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]: ...


@dataclass(frozen=True)
class SelectionContext:
    """What a component selector may look at besides the pool: the iteration (1-based) and the parent's runs on
    this iteration's minibatch, as ``(example id, outcome)``."""

    iteration: int
    runs: Sequence[tuple[str, Outcome]]


@runtime_checkable
class ContextComponentSelector(Protocol):
    """A component selector that also wants the iteration and the parent's minibatch runs."""

    def select_in_context(self, pool: CandidatePool, parent_id: int, context: SelectionContext) -> list[str]: ...


@dataclass(frozen=True)
class ComponentChoice:
    """A component selector's decision: the components to rewrite, and every candidate's round-robin pointer
    after the choice (``pool.next_component`` of the candidates that existed when it was taken). Selectors
    return it and never write to the pool; the search records it when the iteration is committed."""

    components: list[str]
    next_component: list[int]


@runtime_checkable
class PointerKeepingComponentSelector(Protocol):
    """A component selector that returns its round-robin pointer changes with its choice (the built-in ones)."""

    def choose(self, pool: CandidatePool, parent_id: int, context: SelectionContext) -> ComponentChoice: ...


@runtime_checkable
class AcceptanceCriterion(Protocol):
    """Decides whether a child beats its parent on the shared minibatch (for a merge: the better of its two
    parents, on the merge's validation subsample)."""

    def accept(self, parent_scores: Sequence[float], child_scores: Sequence[float]) -> bool: ...


#: The objectives of every pool candidate on every validation example: ``table[i][j] = {name: value}``.
ObjectiveTable = Callable[[CandidatePool], Sequence[Sequence[Mapping[str, float]]]]


class ParetoParentSelector:
    """Sample among non-dominated candidates, proportionally to the fronts each one leads.

    ``frontier_type`` (see ``pareto.FRONTIER_TYPES``) says what the fronts are: per validation example (default,
    the paper's), per objective, both, or per (example, objective). The objective kinds need ``objectives``,
    which reads the objectives the metric reported for the pool's validation runs.
    """

    name = "pareto"

    def __init__(self, frontier_type: str = "instance", objectives: ObjectiveTable | None = None) -> None:
        if frontier_type not in FRONTIER_TYPES:
            raise ValueError(f"frontier_type must be one of {FRONTIER_TYPES}, got {frontier_type!r}")
        self.frontier_type = frontier_type
        self.objectives = objectives

    def select(self, pool: CandidatePool, rng: random.Random) -> int:
        fronts = None
        if self.frontier_type != "instance":
            if self.objectives is None:
                raise ValueError(f"frontier_type={self.frontier_type!r} needs the objective scores of the pool")
            fronts = frontier_fronts(self.frontier_type, pool.val_scores, self.objectives(pool))
        return sample_pareto_parent(pool.val_scores, pool.aggregate_scores(), rng, fronts)


class CurrentBestParentSelector:
    """Always the candidate with the best validation mean (ties: earliest). The paper's ablation."""

    name = "current_best"

    def select(self, pool: CandidatePool, rng: random.Random) -> int:
        return pool.best_index()


class RoundRobinComponentSelector:
    """One predictor at a time, cycling through them separately for every candidate."""

    name = "round_robin"

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]:
        """The parent's next component in its cycle (the pool is left as it is: see ``choose``)."""
        names = pool.component_names
        return [names[pool.next_component[parent_id] % len(names)]]

    def choose(self, pool: CandidatePool, parent_id: int, context: SelectionContext) -> ComponentChoice:
        """The next component, and the parent's pointer moved past it."""
        chosen = self.select(pool, parent_id)
        pointers = list(pool.next_component)
        pointers[parent_id] = (pool.component_names.index(chosen[0]) + 1) % len(pool.component_names)
        return ComponentChoice(chosen, pointers)


class AllComponentSelector:
    """Every predictor at once."""

    name = "all"

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]:
        return list(pool.component_names)


@dataclass
class SearchStateView:
    """The view of the search a function component selector gets as ``state`` (the attribute names of the state
    ``dspy.GEPA`` passes its selectors). ``i`` counts iterations from 0. Changes are discarded, except to
    ``named_predictor_id_to_update_next_for_program_candidate`` (round-robin pointers), which are kept."""

    i: int
    program_candidates: list[Candidate]
    parent_program_for_candidate: list[list[int | None]]
    prog_candidate_val_subscores: list[dict[int, float]]
    program_full_scores_val_set: list[float]
    list_of_named_predictors: list[str]
    named_predictor_id_to_update_next_for_program_candidate: list[int]
    total_num_evals: int = 0

    @classmethod
    def of(cls, pool: CandidatePool, i: int, total_num_evals: int = 0) -> "SearchStateView":
        return cls(
            i=i,
            program_candidates=[dict(c) for c in pool.candidates],
            parent_program_for_candidate=[list(p) if p else [None] for p in pool.parents],
            prog_candidate_val_subscores=[dict(enumerate(row)) for row in pool.val_scores],
            program_full_scores_val_set=pool.aggregate_scores(),
            list_of_named_predictors=list(pool.component_names),
            named_predictor_id_to_update_next_for_program_candidate=list(pool.next_component),
            total_num_evals=total_num_evals,
        )


#: Turns the parent and its minibatch runs into the ``trajectories`` a function selector receives.
TrajectoryBuilder = Callable[[Candidate, Sequence[tuple[str, Outcome]]], list[Any]]


class FunctionComponentSelector:
    """A plain function with ``dspy.GEPA``'s ``ReflectionComponentSelector`` call signature:
    ``fn(state, trajectories, subsample_scores, candidate_idx, candidate) -> list of component names``.

    ``state`` is a ``SearchStateView``; ``trajectories`` one entry per minibatch example (the adapter turns runs into
    dspy's trajectory dicts; by default the engine's ``Outcome`` records); ``subsample_scores`` the parent's
    minibatch scores; ``candidate`` the parent's ``{component: text}``.
    """

    name = "function"

    def __init__(self, fn: Callable[..., Any], trajectories: TrajectoryBuilder | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"component_selector must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.trajectories = trajectories or (lambda candidate, runs: [outcome for _, outcome in runs])
        self.name = getattr(fn, "__qualname__", getattr(fn, "__name__", type(fn).__name__))

    def select(self, pool: CandidatePool, parent_id: int) -> list[str]:
        return self.select_in_context(pool, parent_id, SelectionContext(iteration=len(pool), runs=()))

    def select_in_context(self, pool: CandidatePool, parent_id: int, context: SelectionContext) -> list[str]:
        return self.choose(pool, parent_id, context).components

    def choose(self, pool: CandidatePool, parent_id: int, context: SelectionContext) -> ComponentChoice:
        """The function's choice; the pointers it set in ``state`` are returned with it (kept when they are one
        integer per candidate, like dspy.GEPA's round-robin selector writes them)."""
        state = SearchStateView.of(pool, context.iteration - 1)
        candidate = dict(pool.candidates[parent_id])
        trajectories = self.trajectories(candidate, context.runs)
        scores = [outcome.score for _, outcome in context.runs]
        chosen = self.fn(state, trajectories, scores, parent_id, candidate)
        pointers = state.named_predictor_id_to_update_next_for_program_candidate
        if len(pointers) == len(pool.next_component) and all(isinstance(p, int) for p in pointers):
            return ComponentChoice(chosen, [p % len(pool.component_names) for p in pointers])
        return ComponentChoice(chosen, list(pool.next_component))


def choose_components(selector: ComponentSelector, pool: CandidatePool, parent_id: int, context: SelectionContext,
                      next_component: Sequence[int]) -> ComponentChoice:
    """The selector's choice for ``parent_id``, checked: a non-empty list of the candidate's component names.

    ``next_component`` are the round-robin pointers to choose against (the pool's, or in a parallel round those
    left by the round's earlier proposals). The selector sees a copy of the pool holding them, so it cannot
    change the search's state; a selector of your own that moves pointers in that copy has them returned too.
    """
    view = dataclasses.replace(pool, next_component=list(next_component))
    if isinstance(selector, PointerKeepingComponentSelector):
        choice = selector.choose(view, parent_id, context)
        chosen, pointers = choice.components, choice.next_component
    else:
        if isinstance(selector, ContextComponentSelector):
            chosen = selector.select_in_context(view, parent_id, context)
        else:
            chosen = selector.select(view, parent_id)
        pointers = view.next_component
    if isinstance(chosen, str) or not isinstance(chosen, (list, tuple)):
        raise TypeError(f"component_selector {getattr(selector, 'name', selector)!r} must return a list of component "
                        f"names, got {type(chosen).__name__}: {chosen!r:.200}")
    unknown = [c for c in chosen if c not in pool.component_names]
    if unknown or not chosen:
        raise ValueError(f"component_selector {getattr(selector, 'name', selector)!r} returned {list(chosen)!r}; it must "
                         f"return a non-empty list drawn from {pool.component_names}")
    return ComponentChoice(list(dict.fromkeys(chosen)), list(pointers))


class StrictImprovement:
    """Accept iff the child's minibatch sum is strictly greater than the parent's (the paper's reflection rule)."""

    def accept(self, parent_scores: Sequence[float], child_scores: Sequence[float]) -> bool:
        return sum(child_scores) > sum(parent_scores)


class NoWorseThanParent:
    """Accept iff the child's sum is at least the parent's: the default for merges, judged against the better
    of the two merged candidates on the merge's subsample."""

    def accept(self, parent_scores: Sequence[float], child_scores: Sequence[float]) -> bool:
        return sum(child_scores) >= sum(parent_scores)


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


def make_component_selector(spec: str | ComponentSelector | Callable[..., Any],
                            trajectories: TrajectoryBuilder | None = None) -> ComponentSelector:
    """A selector from a name, an object with ``select(pool, parent_id)``, or a function with dspy.GEPA's
    selector signature (see ``FunctionComponentSelector``; ``trajectories`` builds what it receives)."""
    if isinstance(spec, str):
        if spec not in COMPONENT_SELECTORS:
            raise ValueError(f"component_selector must be one of {sorted(COMPONENT_SELECTORS)}, got {spec!r}")
        return COMPONENT_SELECTORS[spec]()
    if isinstance(spec, (ComponentSelector, ContextComponentSelector, PointerKeepingComponentSelector)):
        return spec
    if callable(spec):
        return FunctionComponentSelector(spec, trajectories)
    raise TypeError(f"component_selector must be a name, a function fn(state, trajectories, subsample_scores, "
                    f"candidate_idx, candidate), or have select(pool, parent_id); got {spec!r}")
