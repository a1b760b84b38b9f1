"""Held-out selection in the engine: finalists by validation rank, chosen on examples the search never saw."""

from __future__ import annotations

import pytest

from gepa_dspy.engine import GEPASearch, SearchConfig
from gepa_dspy.engine.holdout_selection import finalists, reserve, select_on_holdout
from gepa_dspy.engine.pool import CandidatePool
from gepa_dspy.engine.records import Outcome
from gepa_dspy.engine.search import BudgetTooSmallError
from gepa_dspy.engine.strategies import ParetoParentSelector, RoundRobinComponentSelector

from .engine_fakes import FakeEvaluator, FakeProposer

SEED = {"a": "start a", "b": "start b"}
TRAIN = [f"t{i}" for i in range(6)]
VAL = [f"v{i}" for i in range(5)]
HOLDOUT = [f"h{i}" for i in range(4)]


def make_search(budget, *, holdout=HOLDOUT, top_k=3, log_dir=None, seed=0):
    evaluator, proposer = FakeEvaluator(), FakeProposer()
    search = GEPASearch(
        SEED, TRAIN, VAL, evaluator, proposer,
        SearchConfig(max_metric_calls=budget, seed=seed, holdout_top_k=top_k),
        ParetoParentSelector(), RoundRobinComponentSelector(),
        log_dir=log_dir, fingerprint={"run": "holdout", "seed": seed}, holdout_ids=holdout,
    )
    return search, evaluator


def pool_with(val_means: list[float]) -> CandidatePool:
    pool = CandidatePool(component_names=["a"])
    for i, mean in enumerate(val_means):
        pool.add({"a": f"c{i}"}, [] if i == 0 else [0], "seed" if i == 0 else "reflection", [mean, mean], 0)
    return pool


def test_finalists_are_the_top_k_by_validation_mean_ties_to_the_earlier():
    assert finalists(pool_with([0.2, 0.9, 0.5, 0.9, 0.1]), 3) == [1, 3, 2]
    assert finalists(pool_with([0.2]), 3) == [0]


def test_the_best_held_out_mean_wins_ties_go_to_validation_then_age():
    pool = pool_with([0.2, 0.9, 0.5, 0.8])
    held_out = {"c1": 0.5, "c2": 1.0, "c3": 0.5}
    evaluate = lambda cand, ids: [Outcome(score=held_out.get(cand["a"], 0.0), feedback="") for _ in ids]  # noqa: E731
    selection = select_on_holdout(pool, ["h0", "h1"], 3, evaluate, lambda c, ids: len(ids), lambda: 100)
    assert selection.finalists == [1, 3, 2]
    assert selection.chosen == 2
    assert selection.means() == {1: 0.5, 3: 0.5, 2: 1.0}
    tie = select_on_holdout(pool, ["h0"], 2, evaluate, lambda c, ids: len(ids), lambda: 100)
    assert tie.chosen == 1  # 0.5 each on held-out; #1 has the better validation mean


def test_finalists_that_no_longer_fit_are_left_out():
    pool = pool_with([0.2, 0.9, 0.5])
    evaluate = lambda cand, ids: [Outcome(score=1.0 if cand["a"] == "c2" else 0.0, feedback="") for _ in ids]  # noqa: E731
    left = iter([4, 2, 0])
    selection = select_on_holdout(pool, ["h0", "h1"], 3, evaluate, lambda c, ids: len(ids), lambda: next(left))
    assert list(selection.scores) == [1, 2]
    none_fit = select_on_holdout(pool, ["h0", "h1"], 3, evaluate, lambda c, ids: len(ids), lambda: 1)
    assert none_fit.scores == {} and none_fit.chosen == pool.best_index()


@pytest.mark.parametrize("budget", [len(VAL) + reserve(3, len(HOLDOUT)), 40, 77, 150])
def test_the_search_never_runs_held_out_examples_before_the_end_and_stays_in_budget(budget):
    search, evaluator = make_search(budget)
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= budget
    held_out_runs = [i for i, (_, example) in enumerate(evaluator.runs) if example.startswith("h")]
    assert held_out_runs, "the finalists were never run on the held-out examples"
    # every held-out run comes after every search run
    assert min(held_out_runs) == len(evaluator.runs) - len(held_out_runs)
    selection = result.holdout
    assert selection is not None and set(selection.scores) <= set(selection.finalists)
    assert len(selection.scores) == min(3, len(result.pool))
    assert result.best_index == selection.chosen
    assert result.best_candidate == result.pool.candidates[selection.chosen]


def test_a_budget_that_cannot_keep_the_reserve_back_is_refused_before_any_run():
    search, evaluator = make_search(len(VAL) + reserve(3, len(HOLDOUT)) - 1)
    with pytest.raises(BudgetTooSmallError, match="held-out selection"):
        search.run()
    assert evaluator.runs == []


def test_without_held_out_examples_the_search_is_unchanged():
    with_none, _ = make_search(90, holdout=())
    plain = GEPASearch(SEED, TRAIN, VAL, FakeEvaluator(), FakeProposer(), SearchConfig(max_metric_calls=90),
                       ParetoParentSelector(), RoundRobinComponentSelector(), fingerprint={"run": "holdout", "seed": 0})
    a, b = with_none.run(), plain.run()
    assert a.holdout is None and a.pool.candidates == b.pool.candidates and a.metric_calls == b.metric_calls


def test_resume_after_the_search_ended_pays_nothing_twice(tmp_path):
    first, evaluator = make_search(90, log_dir=tmp_path)
    expected = first.run()
    again, evaluator2 = make_search(90, log_dir=tmp_path)
    result = again.run()
    assert evaluator2.runs == []
    assert result.best_index == expected.best_index and result.holdout.scores == expected.holdout.scores
