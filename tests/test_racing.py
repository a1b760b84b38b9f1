"""Racing validation: the order, the stop rule and the search with val_policy="racing"."""

from __future__ import annotations

import pytest

from gepa_dspy.engine import GEPASearch, Outcome, SearchConfig
from gepa_dspy.engine.racing import race, racing_order, sign_test_p_value
from gepa_dspy.engine.strategies import ParetoParentSelector, RoundRobinComponentSelector

from .engine_fakes import FakeEvaluator, FakeProposer, RuleEvaluator, RuleProposer


def test_sign_test_p_value():
    assert sign_test_p_value(0, 0) == 1.0
    assert sign_test_p_value(0, 5) == pytest.approx(1 / 32)
    assert sign_test_p_value(1, 7) == pytest.approx(9 / 256)
    assert sign_test_p_value(3, 3) > 0.5


def test_order_puts_the_parents_weak_examples_first_then_the_thinly_held_ones():
    table = [
        [1.0, 0.0, 1.0, 0.5],  # parent 0
        [1.0, 1.0, 0.0, 0.5],  # 1 leads alone on example 1
        [0.0, 0.0, 1.0, 1.0],  # 2 leads alone on example 3
    ]
    # gaps of the parent: ex1 1.0, ex3 0.5, ex0 0, ex2 0; fronts: ex0 {0,1}, ex2 {0,2}
    assert racing_order(table, 0) == [1, 3, 0, 2]


def scripted(scores):
    seen = []

    def evaluate(positions):
        seen.extend(positions)
        return [scores[j] for j in positions]

    return evaluate, seen


def test_a_child_that_keeps_losing_and_leads_nowhere_is_raced_out_early():
    table = [[1.0] * 12, [0.0] * 6 + [1.0] * 6]
    evaluate, seen = scripted([0.0] * 12)
    result = race(table, 0, evaluate, chunk_size=2, significance=0.05)
    assert result.raced_out and result.examples_seen == 6 == len(seen)
    assert result.child_wins == 0 and result.child_losses == 6 and result.p_value <= 0.05


def test_a_child_that_leads_somewhere_is_scored_fully_even_when_worse_on_average():
    table = [[1.0] * 10 + [0.0], [0.5] * 11]
    child = [0.0] * 10 + [1.0]  # worse than its parent everywhere but example 10, where nobody scores 1
    evaluate, seen = scripted(child)
    result = race(table, 0, evaluate, chunk_size=3, significance=0.05)
    assert not result.raced_out and result.scores == child and sorted(seen) == list(range(11))


def test_ties_carry_no_evidence():
    table = [[1.0] * 8]
    evaluate, _ = scripted([1.0] * 8)
    result = race(table, 0, evaluate, chunk_size=1, significance=0.05)
    assert result.scores == [1.0] * 8 and result.p_value == 1.0


def make_search(budget, policy, evaluator=None, proposer=None, log_dir=None, **cfg):
    evaluator = evaluator or FakeEvaluator()
    search = GEPASearch(
        {"a": "start a", "b": "start b"}, [f"t{i}" for i in range(6)], [f"v{i}" for i in range(12)],
        evaluator, proposer or FakeProposer(),
        SearchConfig(max_metric_calls=budget, val_policy=policy, **cfg),
        ParetoParentSelector(), RoundRobinComponentSelector(), fingerprint={"run": policy}, log_dir=log_dir,
    )
    return search, evaluator


@pytest.mark.parametrize("budget", [12, 40, 97, 200])
def test_racing_keeps_the_budget_and_the_pool_fully_scored(budget):
    search, evaluator = make_search(budget, "racing", racing_chunk_size=3)
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= budget
    assert all(len(row) == 12 for row in result.pool.val_scores)


class OverfitEvaluator(FakeEvaluator):
    """Every rewrite wins on training examples and is worse than the seed on every validation example."""

    def evaluate(self, candidate, example_ids, sink):
        rewrites = sum(text.count("+r") for text in candidate.values())
        for e in example_ids:
            self.runs.append((repr(sorted(candidate.items())), e))
            score = min(1.0, 0.2 * rewrites) if e.startswith("t") else (1.0 if rewrites == 0 else 0.5)
            sink(e, Outcome(score=score, feedback=""))


def test_racing_saves_validation_runs_on_children_that_lost():
    full, _ = make_search(300, "full", evaluator=OverfitEvaluator())
    raced, _ = make_search(300, "racing", evaluator=OverfitEvaluator(), racing_chunk_size=3)
    a, b = full.run(), raced.run()
    # Without racing, every minibatch winner pays for all 12 validation examples; with it, 6 (p = 1/64 after 6).
    assert a.counters.get("reflection_accepted", 0) > 0 and "reflection_raced_out" not in a.counters
    assert b.counters.get("reflection_accepted", 0) == 0
    assert b.counters["val_runs_saved_by_racing"] == 6 * b.counters["reflection_raced_out"]
    assert len(b.pool) == 1 and b.best_candidate == a.pool.candidates[0]
    assert b.counters["reflection_raced_out"] > a.counters["reflection_accepted"]  # more proposals, same budget
    assert b.counters.get("reflection_raced_out", 0) > 0
    assert b.counters["val_runs_saved_by_racing"] > 0
    statuses = [h.status for h in b.history]
    assert "raced_out" in statuses


def test_racing_is_deterministic_and_resumes_exactly(tmp_path):
    first, _ = make_search(150, "racing", evaluator=OverfitEvaluator(), racing_chunk_size=2)
    second, _ = make_search(150, "racing", evaluator=OverfitEvaluator(), racing_chunk_size=2)
    a, b = first.run(), second.run()
    assert a.pool.candidates == b.pool.candidates and a.metric_calls == b.metric_calls
    assert [h.status for h in a.history] == [h.status for h in b.history]
    # Stopped at 70 metric calls, then resumed to 150: the same decisions as the uninterrupted run.
    part, _ = make_search(70, "racing", evaluator=OverfitEvaluator(), racing_chunk_size=2, log_dir=tmp_path)
    part.run()
    rest, evaluator = make_search(150, "racing", evaluator=OverfitEvaluator(), racing_chunk_size=2, log_dir=tmp_path)
    resumed = rest.run()
    assert [h.status for h in resumed.history] == [h.status for h in a.history]
    assert resumed.metric_calls == a.metric_calls and resumed.counters["val_runs_saved_by_racing"] == a.counters["val_runs_saved_by_racing"]


def test_on_a_task_where_children_improve_racing_finds_the_same_best():
    full, _ = make_search(200, "full", evaluator=RuleEvaluator(), proposer=RuleProposer())
    raced, _ = make_search(200, "racing", evaluator=RuleEvaluator(), proposer=RuleProposer())
    a, b = full.run(), raced.run()
    assert b.pool.aggregate_scores()[b.best_index] >= a.pool.aggregate_scores()[a.best_index]
