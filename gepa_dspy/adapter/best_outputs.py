"""``track_best_outputs``: each validation example's best outputs, for GEPA as inference-time search.

As in ``dspy.GEPA``: with ``valset=trainset, track_stats=True, track_best_outputs=True``,
``program.detailed_results.best_outputs_valset[j]`` lists ``(candidate index, prediction)`` for every
candidate with the best score on validation example ``j``. The predictions are rebuilt from the stored runs,
so their field values are JSON snapshots (strings, numbers, lists, dicts) of what the program returned; that
is also what a resumed run has.
"""

from __future__ import annotations

import logging

import dspy

from ..engine.evaluation_cache import OutcomeLookup
from ..engine.candidate import candidate_key
from ..engine.search_result import SearchResult

logger = logging.getLogger("gepa_dspy")


def best_outputs_valset(result: SearchResult, lookup: OutcomeLookup) -> tuple[dict[int, list[tuple[int, dspy.Prediction]]], int]:
    """Per validation index, ``(candidate index, prediction)`` for each candidate on that example's front.

    Returns the mapping and the number of front entries left out because the run failed there (it has no
    output) or is not stored; a left-out entry is logged.
    """
    pool = result.pool
    keys = [candidate_key(c) for c in pool.candidates]
    best: dict[int, list[tuple[int, dspy.Prediction]]] = {}
    left_out = 0
    for j, (example_id, front) in enumerate(zip(result.val_ids, pool.fronts())):
        best[j] = []
        for i in sorted(front):
            outcome = lookup(keys[i], example_id)
            if outcome is None or outcome.failure or not outcome.output:
                left_out += 1
                logger.info("GEPA: no output of candidate %d on validation example %d for best_outputs_valset (%s)",
                            i, j, "not stored" if outcome is None else outcome.failure or "empty output")
                continue
            best[j].append((i, dspy.Prediction(**outcome.output)))
    return best, left_out
