import random

from gepa_dspy.engine import CandidatePool
from gepa_dspy.engine.merge import crossover, find_merge, stratified_subsample


def test_crossover_takes_the_changed_side_and_the_better_side_when_both_changed():
    ancestor = {"a": "A", "b": "B", "c": "C", "d": "D"}
    left = {"a": "A1", "b": "B", "c": "C1", "d": "D"}
    right = {"a": "A", "b": "B2", "c": "C2", "d": "D"}
    assert crossover(ancestor, left, right, 0.4, 0.6) == {"a": "A1", "b": "B2", "c": "C2", "d": "D"}
    assert crossover(ancestor, left, right, 0.6, 0.4)["c"] == "C1"


def lineage_pool() -> CandidatePool:
    pool = CandidatePool(component_names=["a", "b"])
    pool.add({"a": "A", "b": "B"}, [], "seed", [0.0, 0.0, 0.0, 0.0], 4)
    pool.add({"a": "A1", "b": "B"}, [0], "reflection", [1.0, 1.0, 0.0, 0.0], 8)
    pool.add({"a": "A", "b": "B2"}, [0], "reflection", [0.0, 0.0, 1.0, 1.0], 12)
    return pool


def test_find_merge_uses_common_ancestor_and_never_repeats_a_triplet():
    pool = lineage_pool()
    tried: set[tuple[int, int, int]] = set()
    plan = find_merge(pool, random.Random(0), tried)
    assert plan is not None
    assert {plan.left, plan.right} == {1, 2} and plan.ancestor == 0
    assert plan.merged == {"a": "A1", "b": "B2"}
    tried.add((plan.left, plan.right, plan.ancestor))
    assert find_merge(pool, random.Random(0), tried) is None


def test_no_merge_between_a_candidate_and_its_descendant():
    pool = CandidatePool(component_names=["a", "b"])
    pool.add({"a": "A", "b": "B"}, [], "seed", [0.0, 1.0], 2)
    pool.add({"a": "A1", "b": "B"}, [0], "reflection", [1.0, 0.0], 4)
    pool.add({"a": "A1", "b": "B1"}, [1], "reflection", [0.0, 1.0], 6)
    assert find_merge(pool, random.Random(0), set()) is None


def test_no_merge_when_crossover_is_already_in_pool():
    pool = lineage_pool()
    pool.add({"a": "A1", "b": "B2"}, [1], "reflection", [0.5, 0.5, 0.5, 0.5], 16)
    assert find_merge(pool, random.Random(0), set()) is None


def test_stratified_subsample_balances_wins_losses_and_ties():
    left = [1, 1, 1, 1, 0, 0, 0.5, 0.5]
    right = [0, 0, 0, 0, 1, 1, 0.5, 0.5]
    picked = stratified_subsample(left, right, 6, random.Random(3))
    kinds = ["L" if left[j] > right[j] else "R" if right[j] > left[j] else "T" for j in picked]
    assert kinds.count("L") == 2 and kinds.count("R") == 2 and kinds.count("T") == 2
    assert stratified_subsample(left, right, 20, random.Random(0)) == list(range(8))


def _merge_search(merge_acceptance=None):
    from gepa_dspy.engine import GEPASearch, SearchConfig
    from gepa_dspy.engine.strategies import RoundRobinComponentSelector

    from .engine_fakes import RuleEvaluator, RuleProposer
    from .test_search_engine import AlwaysSeed

    return GEPASearch(
        {"a": "A", "b": "B"}, [f"t{i}" for i in range(8)], [f"v{i}" for i in range(8)], RuleEvaluator(), RuleProposer(),
        SearchConfig(max_metric_calls=600, seed=2, max_merge_invocations=3, merge_subsample_size=4),
        AlwaysSeed(), RoundRobinComponentSelector(),  # siblings, so merges happen
        merge_acceptance=merge_acceptance,
    )


def test_merge_acceptance_goes_through_the_acceptance_criterion():
    """Regression: merges were judged by a hard-coded rule beside ``AcceptanceCriterion``; now ``merge_acceptance``
    decides, called with the better parent's subsample scores and the merge's, and the default keeps the old rule."""
    seen = []

    class Refuse:
        def accept(self, parent_scores, child_scores):
            seen.append((list(parent_scores), list(child_scores)))
            return False

    refused = _merge_search(Refuse()).run()
    merges = [h for h in refused.history if h.kind == "merge"]
    assert merges and all(h.status == "rejected" for h in merges) and "merge" not in refused.pool.origins
    assert len(seen) == len(merges)
    for (parent, child), h in zip(seen, merges):
        assert sum(parent) == max(h.parent_scores) and child == h.child_scores

    default = _merge_search().run()
    judged = [h for h in default.history if h.kind == "merge" and h.status in ("accepted", "rejected")]
    assert judged
    for h in judged:  # the rule before the change: accepted iff the merge's sum is at least the better parent's
        assert (h.status == "accepted") == (sum(h.child_scores) >= max(h.parent_scores))
