"""Turning the user's budget options into one number of metric calls."""

from __future__ import annotations

import math

#: Reflective proposals per predictor for each ``auto`` level.
AUTO_PROPOSALS_PER_PREDICTOR = {"light": 6, "medium": 12, "heavy": 18}


def auto_budget(level: str, num_predictors: int, valset_size: int, minibatch_size: int) -> int:
    """Metric calls for an ``auto`` level:

    ``budget = V + P * 2b + ceil(P / 3) * V`` with ``P = k * num_predictors`` proposals
    (k = 6 light, 12 medium, 18 heavy), V the valset size and b the minibatch size: the seed
    evaluation, a parent and a child minibatch run per proposal, and a full validation pass for
    the third of proposals expected to be accepted.
    """
    if level not in AUTO_PROPOSALS_PER_PREDICTOR:
        raise ValueError(f"auto must be one of {sorted(AUTO_PROPOSALS_PER_PREDICTOR)}, got {level!r}")
    proposals = AUTO_PROPOSALS_PER_PREDICTOR[level] * max(1, num_predictors)
    return valset_size + proposals * 2 * minibatch_size + math.ceil(proposals / 3) * valset_size


def full_evals_budget(max_full_evals: int, trainset_size: int, valset_size: int) -> int:
    """``max_full_evals`` passes over train + val (as in ``dspy.GEPA``)."""
    return max_full_evals * (trainset_size + valset_size)
