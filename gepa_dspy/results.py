"""The record of a finished optimization, attached to the returned program as ``detailed_results`` (built from
the engine's ``SearchResult``, engine/search_result.py).

``DetailedResults`` *is* a ``dspy.teleprompt.gepa.gepa.DspyGEPAResult`` (a subclass), with dspy's field types and
meanings, so code written against ``dspy.GEPA`` runs unchanged; gepa_dspy's extra record sits on top of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .adapter.compat import DspyGEPAResult
from .engine.search_result import SearchResult


@dataclass(frozen=True)
class DetailedResults(DspyGEPAResult):
    """Everything about a GEPA run.

    As in ``dspy.GEPA`` (inherited fields, same types and meanings):

    - ``candidates[i]``: candidate i as a runnable program (a copy of the student with its instructions);
      ``best_candidate`` is ``candidates[best_idx]``, ``best_idx`` the best mean validation score (ties: earliest);
    - ``parents[i]``: the indices candidate i came from: ``[None]`` for the seed, one index for a reflection,
      two for a merge;
    - ``val_subscores[i]``: ``{validation index j: score}``; ``val_aggregate_scores[i]`` its mean;
    - ``per_val_instance_best_candidates``: ``{validation index j: set of candidates with the best score on j}``;
    - ``discovery_eval_counts[i]``: metric calls spent when candidate i was found;
    - ``best_outputs_valset``, ``val_aggregate_subscores``, ``per_objective_best_candidates``,
      ``objective_pareto_front``, ``total_metric_calls``, ``num_full_val_evals``, ``log_dir``, ``seed``.

    gepa_dspy's additions: ``candidate_instructions[i]`` (candidate i as ``{predictor name: instruction}``),
    ``best_candidate_instructions``, ``val_score_table`` (``val_subscores`` as a list of lists), ``origins``
    (``"seed"``, ``"reflection"``, ``"merge"``), ``budget``, ``stop_reason``, ``cache_hits``, ``counters``,
    ``history`` (one record per iteration), ``score_curve`` (``(metric calls, best mean)`` at each new candidate),
    ``lineage(i)``, ``candidate_program(i)``.
    """

    candidate_instructions: list[dict[str, str]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    budget: int = 0
    stop_reason: str = ""
    cache_hits: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    score_curve: list[tuple[int, float]] = field(default_factory=list)
    # Declared again so they exist whatever DSPy version's DspyGEPAResult we extend (they came after 3.0).
    best_outputs_valset: dict[int, list[tuple[int, Any]]] | None = None
    val_aggregate_subscores: list[dict[str, float]] | None = None
    per_objective_best_candidates: dict[str, set[int]] | None = None
    objective_pareto_front: dict[str, float] | None = None
    #: LM calls, tokens and dollars per role (task, reflection) and model: ``CostLedger.to_dict()``; set by compile.
    cost_ledger: dict[str, Any] | None = None
    #: With held-out selection: the candidate returned (chosen on the held-out examples; ``best_idx`` keeps dspy's
    #: meaning, the best validation mean) and ``selection``: the held-out example count, the finalists, and each
    #: finalist's validation and held-out means side by side. None without held-out selection.
    selected_idx: int | None = None
    selection: dict[str, Any] | None = None

    @classmethod
    def from_search(cls, result: SearchResult, *, build_program: Callable[[dict[str, str]], Any], seed: int,
                    log_dir: str | None, budget: int,
                    best_outputs_valset: dict[int, list[tuple[int, Any]]] | None = None,
                    objectives: Any = None) -> "DetailedResults":
        """``build_program(instructions)``: a runnable program for a candidate. ``objectives``: an
        ``ObjectiveSummary`` (or anything with its three attributes), or None."""
        pool = result.pool
        instructions = [dict(c) for c in pool.candidates]
        return cls(
            candidates=[build_program(c) for c in instructions],
            parents=[list(p) if p else [None] for p in pool.parents],
            val_aggregate_scores=pool.aggregate_scores(),
            val_subscores=[dict(enumerate(row)) for row in pool.val_scores],
            per_val_instance_best_candidates=dict(enumerate(pool.fronts())),
            discovery_eval_counts=list(pool.discovery_metric_calls),
            best_outputs_valset=best_outputs_valset,
            total_metric_calls=result.metric_calls,
            num_full_val_evals=result.num_full_val_evals,
            log_dir=log_dir,
            seed=seed,
            val_aggregate_subscores=None if objectives is None else objectives.val_aggregate_subscores,
            per_objective_best_candidates=None if objectives is None else objectives.per_objective_best_candidates,
            objective_pareto_front=None if objectives is None else objectives.objective_pareto_front,
            candidate_instructions=instructions,
            origins=list(pool.origins),
            budget=budget,
            stop_reason=result.stop_reason,
            cache_hits=result.cache_hits,
            counters=dict(result.counters),
            history=[asdict(r) for r in result.history],
            score_curve=list(result.curve),
            selected_idx=None if result.holdout is None else result.holdout.chosen,
            selection=None if result.holdout is None else {
                "num_examples": len(result.holdout.example_ids),
                "finalists": list(result.holdout.finalists),
                "val_means": {i: pool.aggregate_scores()[i] for i in result.holdout.finalists},
                "held_out_means": result.holdout.means(),
            },
        )

    # Defined here too (same meanings as dspy 3.4's) so every supported DSPy version has them.
    @property
    def best_idx(self) -> int:
        """The candidate with the best mean validation score (ties: the earliest)."""
        scores = self.val_aggregate_scores
        return max(range(len(scores)), key=lambda i: scores[i])

    @property
    def best_candidate(self) -> Any:
        """The best candidate as a program (``candidates[best_idx]``)."""
        return self.candidates[self.best_idx]

    @property
    def highest_score_achieved_per_val_task(self) -> dict[int, float]:
        """``{validation index: the best score any candidate reached there}``."""
        return {j: max(row[j] for row in self.val_subscores) for j in self.per_val_instance_best_candidates}

    @property
    def best_candidate_instructions(self) -> dict[str, str]:
        """The best candidate as ``{predictor name: instruction}`` (``best_candidate`` is the program)."""
        return self.candidate_instructions[self.best_idx]

    @property
    def val_score_table(self) -> list[list[float]]:
        """``val_score_table[i][j]``: candidate i's score on validation example j (``val_subscores`` as lists)."""
        return [[row[j] for j in sorted(row)] for row in self.val_subscores]

    def candidate_program(self, idx: int) -> Any:
        """Candidate ``idx`` as a runnable program: ``candidates[idx]``."""
        return self.candidates[idx]

    def lineage(self, idx: int) -> list[int]:
        """Candidate ``idx`` and its ancestors, following first parents back to the seed."""
        chain = [idx]
        while self.parents[chain[-1]] and self.parents[chain[-1]][0] is not None:
            chain.append(self.parents[chain[-1]][0])
        return chain

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: dspy's ``DspyGEPAResult.to_dict()`` keys (``candidates`` as instruction dicts, as
        there) plus gepa_dspy's fields."""
        best_outputs = None
        if self.best_outputs_valset is not None:  # predictions as plain dicts of their fields
            best_outputs = {j: [[i, dict(p.items()) if hasattr(p, "items") else p] for i, p in pairs]
                            for j, pairs in self.best_outputs_valset.items()}
        return {
            "candidates": [dict(c) for c in self.candidate_instructions],
            "parents": [list(p) for p in self.parents],
            "val_aggregate_scores": list(self.val_aggregate_scores),
            "best_outputs_valset": best_outputs,
            "val_subscores": [dict(row) for row in self.val_subscores],
            "per_val_instance_best_candidates": {j: sorted(s) for j, s in self.per_val_instance_best_candidates.items()},
            "val_aggregate_subscores": self.val_aggregate_subscores,
            "per_objective_best_candidates": (None if self.per_objective_best_candidates is None else
                                              {k: sorted(v) for k, v in self.per_objective_best_candidates.items()}),
            "objective_pareto_front": self.objective_pareto_front,
            "discovery_eval_counts": list(self.discovery_eval_counts),
            "total_metric_calls": self.total_metric_calls,
            "num_full_val_evals": self.num_full_val_evals,
            "log_dir": self.log_dir,
            "seed": self.seed,
            "best_idx": self.best_idx,
            "origins": list(self.origins),
            "budget": self.budget,
            "stop_reason": self.stop_reason,
            "cache_hits": self.cache_hits,
            "counters": dict(self.counters),
            "history": list(self.history),
            "score_curve": [list(p) for p in self.score_curve],
            "cost_ledger": self.cost_ledger,
            "selected_idx": self.selected_idx,
            "selection": self.selection,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], student: Any) -> "DetailedResults":
        """Results saved with ``to_dict`` (e.g. ``log_dir/results.json``), with programs rebuilt from ``student``."""
        from .adapter.program import build_program

        def int_keys(mapping: dict[Any, Any]) -> dict[int, Any]:
            return {int(k): v for k, v in mapping.items()}

        instructions = [dict(c) for c in data["candidates"]]
        per_objective = data.get("per_objective_best_candidates")
        return cls(
            candidates=[build_program(student, c) for c in instructions],
            parents=[list(p) for p in data["parents"]],
            val_aggregate_scores=list(data["val_aggregate_scores"]),
            val_subscores=[int_keys(row) for row in data["val_subscores"]],
            per_val_instance_best_candidates={j: set(s) for j, s in int_keys(data["per_val_instance_best_candidates"]).items()},
            discovery_eval_counts=list(data["discovery_eval_counts"]),
            total_metric_calls=data.get("total_metric_calls"),
            num_full_val_evals=data.get("num_full_val_evals"),
            log_dir=data.get("log_dir"),
            seed=data.get("seed"),
            val_aggregate_subscores=data.get("val_aggregate_subscores"),
            per_objective_best_candidates=None if per_objective is None else {k: set(v) for k, v in per_objective.items()},
            objective_pareto_front=data.get("objective_pareto_front"),
            candidate_instructions=instructions,
            origins=list(data.get("origins", [])),
            budget=int(data.get("budget", 0)),
            stop_reason=str(data.get("stop_reason", "")),
            cache_hits=int(data.get("cache_hits", 0)),
            counters=dict(data.get("counters", {})),
            history=list(data.get("history", [])),
            score_curve=[(int(a), float(b)) for a, b in data.get("score_curve", [])],
            cost_ledger=data.get("cost_ledger"),
            selected_idx=data.get("selected_idx"),
            selection=data.get("selection"),
        )
