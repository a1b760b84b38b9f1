"""Turning the user's budget options into one number of metric calls, exactly as ``dspy.GEPA`` does.

A user migrating from ``dspy.GEPA`` with ``auto="light"`` must buy the same search, so ``auto_budget`` gives
``dspy.GEPA.auto_budget``'s number for the same program and data (``tests/test_dropin.py`` checks it against
DSPy's own method over a grid of inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Candidate count DSPy associates with each ``auto`` level (``AUTO_RUN_SETTINGS`` in dspy.teleprompt.gepa).
AUTO_CANDIDATES = {"light": 6, "medium": 12, "heavy": 18}

#: dspy.GEPA's sizing assumptions: minibatches of 35 examples and a full validation every 5 trials.
_SIZING_MINIBATCH = 35
_SIZING_FULL_EVAL_EVERY = 5
#: Bootstrapping runs dspy counts per candidate.
_BOOTSTRAP_RUNS_PER_CANDIDATE = 5


def auto_budget(level: str, num_components: int, valset_size: int) -> int:
    """Metric calls for an ``auto`` level, as ``dspy.GEPA`` computes them.

    With ``n`` candidates for the level (6 / 12 / 18) and ``p = max(1, num_components)``, DSPy plans
    ``T = int(max(4 p log2(n), 1.5 n))`` trials and pays, for a valset of ``V`` examples: one seed evaluation
    (``V``), ``5 n`` bootstrap runs, ``35 T`` minibatch runs, and ``V`` for each full evaluation: one per 5 trials,
    plus one, plus a final one when ``T < 5``.
    """
    if level not in AUTO_CANDIDATES:
        raise ValueError(f"auto must be one of {sorted(AUTO_CANDIDATES)}, got {level!r}")
    if valset_size < 0:
        raise ValueError(f"valset_size must be >= 0, got {valset_size}")
    candidates = AUTO_CANDIDATES[level]
    components = max(1, num_components)
    trials = int(max(4 * components * math.log2(candidates), 1.5 * candidates))
    total = valset_size + _BOOTSTRAP_RUNS_PER_CANDIDATE * candidates + _SIZING_MINIBATCH * trials
    if trials == 0:
        return total
    full_evals = (trials + 1) // _SIZING_FULL_EVAL_EVERY + 1 + (1 if trials < _SIZING_FULL_EVAL_EVERY else 0)
    return total + full_evals * valset_size


def full_evals_budget(max_full_evals: int, trainset_size: int, valset_size: int) -> int:
    """``max_full_evals`` passes over train + val (as in ``dspy.GEPA``; pass ``valset_size=0`` when no valset was
    given, as DSPy then counts the trainset once)."""
    return max_full_evals * (trainset_size + valset_size)


@dataclass(frozen=True)
class BudgetPlan:
    """What a budget buys, logged at the start of ``compile``.

    Every proposal pays a parent and a child minibatch (``2 b`` runs, less when the parent's runs are cached);
    an accepted one also pays a full validation (``V``). ``most_proposals`` assumes none is accepted,
    ``proposals_if_third_accepted`` that one in three is (the assumption of gepa_dspy's old ``auto`` sizing).
    """

    budget: int
    seed_evaluation: int
    minibatch_size: int
    valset_size: int
    most_proposals: int
    proposals_if_third_accepted: int

    @classmethod
    def for_budget(cls, budget: int, minibatch_size: int, valset_size: int, trainset_size: int) -> "BudgetPlan":
        b = max(1, min(minibatch_size, trainset_size))
        after_seed = max(0, budget - valset_size)
        return cls(budget=budget, seed_evaluation=valset_size, minibatch_size=b, valset_size=valset_size,
                   most_proposals=after_seed // (2 * b),
                   proposals_if_third_accepted=int(after_seed / (2 * b + valset_size / 3)))

    def describe(self) -> str:
        return (f"budget {self.budget} metric calls: seed evaluation {self.seed_evaluation}, then about "
                f"{self.proposals_if_third_accepted} proposals if one in three is accepted (2x{self.minibatch_size} "
                f"minibatch runs each, plus {self.valset_size} validation runs when accepted), at most "
                f"{self.most_proposals} if none is")
