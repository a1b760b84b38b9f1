"""The record of a finished optimization, attached to the returned program as ``detailed_results``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from .engine.result import SearchResult


@dataclass
class DetailedResults:
    """Everything about a GEPA run: the pool, lineage, scores and budget accounting.

    ``candidates[i]`` maps predictor names to instructions; ``parents[i]`` lists the indices it came
    from (empty for the seed, two for a merge); ``val_subscores[i][j]`` is candidate i's score on
    validation example j; ``per_val_instance_best_candidates[j]`` is the set of candidates with the
    best score on example j; ``discovery_eval_counts[i]`` is the number of metric calls spent when
    candidate i was found.
    """

    candidates: list[dict[str, str]]
    parents: list[list[int]]
    origins: list[str]
    val_aggregate_scores: list[float]
    val_subscores: list[list[float]]
    per_val_instance_best_candidates: list[set[int]]
    discovery_eval_counts: list[int]
    total_metric_calls: int
    num_full_val_evals: int
    best_idx: int
    best_candidate: dict[str, str]
    seed: int
    log_dir: str | None
    budget: int
    stop_reason: str
    cache_hits: int
    counters: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    score_curve: list[tuple[int, float]] = field(default_factory=list)
    #: With ``track_best_outputs``: per validation index, ``(candidate index, prediction)`` for each candidate
    #: with the best score on that example (see ``gepa_dspy.adapter.best_outputs``); else None.
    best_outputs_valset: dict[int, list[tuple[int, Any]]] | None = None
    #: When the metric reports ``objective_scores``: each candidate's mean per objective on the valset, the best
    #: mean per objective, and the candidates reaching it (see ``gepa_dspy.adapter.objectives``); else None.
    val_aggregate_subscores: list[dict[str, float]] | None = None
    objective_pareto_front: dict[str, float] | None = None
    per_objective_best_candidates: dict[str, set[int]] | None = None
    #: LM calls, tokens and dollars per role (task, reflection) and model: ``CostLedger.to_dict()``; set by compile.
    cost_ledger: dict[str, Any] | None = None
    #: Builds a runnable program from a candidate (set by ``compile``; not saved by ``to_dict``).
    program_builder: Callable[[dict[str, str]], Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_search(cls, result: SearchResult, *, seed: int, log_dir: str | None, budget: int,
                    best_outputs_valset: dict[int, list[tuple[int, Any]]] | None = None,
                    objectives: Any = None) -> "DetailedResults":
        """``objectives``: an ``ObjectiveSummary`` (or anything with its three attributes), or None."""
        pool = result.pool
        best = pool.best_index()
        return cls(
            candidates=[dict(c) for c in pool.candidates],
            parents=[list(p) for p in pool.parents],
            origins=list(pool.origins),
            val_aggregate_scores=pool.aggregate_scores(),
            val_subscores=[list(r) for r in pool.val_scores],
            per_val_instance_best_candidates=pool.fronts(),
            discovery_eval_counts=list(pool.discovery_metric_calls),
            total_metric_calls=result.metric_calls,
            num_full_val_evals=result.num_full_val_evals,
            best_idx=best,
            best_candidate=dict(pool.candidates[best]),
            seed=seed,
            log_dir=log_dir,
            budget=budget,
            stop_reason=result.stop_reason,
            cache_hits=result.cache_hits,
            counters=dict(result.counters),
            history=[asdict(r) for r in result.history],
            score_curve=list(result.curve),
            best_outputs_valset=best_outputs_valset,
            val_aggregate_subscores=None if objectives is None else objectives.val_aggregate_subscores,
            objective_pareto_front=None if objectives is None else objectives.objective_pareto_front,
            per_objective_best_candidates=None if objectives is None else objectives.per_objective_best_candidates,
        )

    @property
    def highest_score_achieved_per_val_task(self) -> dict[int, float]:
        """The best score any candidate reached on each validation example (as in ``dspy.GEPA``)."""
        return {j: max(row[j] for row in self.val_subscores) for j in range(len(self.per_val_instance_best_candidates))}

    def candidate_program(self, idx: int) -> Any:
        """Candidate ``idx`` as a runnable program (``dspy.GEPA`` keeps programs in ``candidates``; we keep
        instruction dicts there). Available on the results of a ``compile`` in this process."""
        if self.program_builder is None:
            raise RuntimeError("candidate_program needs the results of a compile() call in this process; "
                               "elsewhere, apply candidates[idx] with gepa_dspy.adapter.build_program(student, ...)")
        return self.program_builder(self.candidates[idx])

    def lineage(self, idx: int) -> list[int]:
        """Candidate ``idx`` and its ancestors, following first parents back to the seed."""
        chain = [idx]
        while self.parents[chain[-1]]:
            chain.append(self.parents[chain[-1]][0])
        return chain

    def to_dict(self) -> dict[str, Any]:
        best_outputs = self.best_outputs_valset
        data = asdict(replace(self, best_outputs_valset=None, program_builder=None))
        del data["program_builder"]
        data["per_val_instance_best_candidates"] = [sorted(s) for s in self.per_val_instance_best_candidates]
        if self.per_objective_best_candidates is not None:
            data["per_objective_best_candidates"] = {k: sorted(v) for k, v in self.per_objective_best_candidates.items()}
        if best_outputs is not None:  # predictions as plain dicts of their fields
            data["best_outputs_valset"] = {j: [[i, dict(p.items()) if hasattr(p, "items") else p] for i, p in pairs]
                                           for j, pairs in best_outputs.items()}
        return data
