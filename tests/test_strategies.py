import random

import pytest

from gepa_dspy.engine import CandidatePool
from gepa_dspy.engine.sampler import EpochMinibatchSampler
from gepa_dspy.engine.strategies import (
    AllComponentSelector,
    CurrentBestParentSelector,
    NoWorseThanParent,
    SelectionContext,
    choose_components,
    ParetoParentSelector,
    RoundRobinComponentSelector,
    StrictImprovement,
    make_component_selector,
    make_parent_selector,
)


def make_pool() -> CandidatePool:
    pool = CandidatePool(component_names=["a", "b", "c"])
    pool.add({"a": "1", "b": "1", "c": "1"}, [], "seed", [0.5, 0.5], 2)
    pool.add({"a": "2", "b": "1", "c": "1"}, [0], "reflection", [1.0, 0.0], 4)
    pool.add({"a": "2", "b": "3", "c": "1"}, [1], "reflection", [0.5, 0.5], 6)
    return pool


def choose_and_record(selector, pool, parent_id):
    """What the search does: choose against the pool's pointers, then record the choice's pointers."""
    choice = choose_components(selector, pool, parent_id, SelectionContext(1, ()), pool.next_component)
    pool.next_component[:len(choice.next_component)] = choice.next_component
    return choice.components


def test_round_robin_cycles_per_candidate_and_children_continue_the_cycle():
    pool = CandidatePool(component_names=["a", "b", "c"])
    pool.add({"a": "", "b": "", "c": ""}, [], "seed", [0.0], 1)
    rr = RoundRobinComponentSelector()
    assert [choose_and_record(rr, pool, 0) for _ in range(4)] == [["a"], ["b"], ["c"], ["a"]]
    child = pool.add({"a": "x", "b": "", "c": ""}, [0], "reflection", [1.0], 2)
    assert choose_and_record(rr, pool, child) == ["b"]  # the parent's cycle was at "b"
    assert choose_and_record(rr, pool, 0) == ["b"]


def test_component_selection_returns_its_choice_and_leaves_the_pool_alone():
    """Regression: the round-robin selector used to advance ``pool.next_component`` itself (and the search undid
    it for discarded proposals); now the choice carries the new pointers and the pool is untouched."""
    pool = CandidatePool(component_names=["a", "b", "c"])
    pool.add({"a": "", "b": "", "c": ""}, [], "seed", [0.0], 1)
    rr = RoundRobinComponentSelector()
    assert rr.select(pool, 0) == ["a"] and rr.select(pool, 0) == ["a"]
    choice = choose_components(rr, pool, 0, SelectionContext(1, ()), pool.next_component)
    assert (choice.components, choice.next_component, pool.next_component) == (["a"], [1], [0])
    # Chosen against other pointers (those a parallel round's earlier proposal left), the pool is still untouched.
    assert choose_components(rr, pool, 0, SelectionContext(2, ()), [2]).components == ["c"]
    assert pool.next_component == [0]


def test_a_selector_of_your_own_that_moves_pointers_has_them_recorded_not_written():
    class Mover:
        def select(self, pool, parent_id):
            pool.next_component[parent_id] = 2
            return ["b"]

    pool = make_pool()
    choice = choose_components(Mover(), pool, 1, SelectionContext(1, ()), pool.next_component)
    assert choice.components == ["b"] and choice.next_component[1] == 2 and pool.next_component[1] == 0


def test_merge_acceptance_is_no_worse_than_the_better_parent():
    acc = NoWorseThanParent()
    assert acc.accept([1, 0], [0, 1]) and acc.accept([0, 0], [0, 1]) and not acc.accept([1, 1], [1, 0])


def test_all_components():
    assert AllComponentSelector().select(make_pool(), 0) == ["a", "b", "c"]


def test_current_best_ties_go_to_earliest():
    pool = make_pool()
    assert CurrentBestParentSelector().select(pool, random.Random(0)) == 0


def test_pareto_selector_only_returns_front_members():
    pool = make_pool()
    picks = {ParetoParentSelector().select(pool, random.Random(s)) for s in range(50)}
    assert picks <= {0, 1, 2} and 1 in picks


def test_strict_acceptance():
    acc = StrictImprovement()
    assert acc.accept([0, 0.5, 1], [0.5, 0.5, 1])
    assert not acc.accept([0, 0.5, 1], [0, 0.5, 1])
    assert not acc.accept([1, 1, 1], [0, 1, 1])


def test_strategy_factories_validate():
    with pytest.raises(ValueError, match="candidate_selection_strategy"):
        make_parent_selector("best")
    with pytest.raises(ValueError, match="component_selector"):
        make_component_selector("random")
    with pytest.raises(TypeError):
        make_parent_selector(42)  # type: ignore[arg-type]


def test_sampler_epochs_cover_every_id_once_and_reshuffle():
    ids = [f"t{i}" for i in range(7)]
    sampler = EpochMinibatchSampler(ids, 3, seed=1)
    first_epoch = [e for _ in range(2) for e in sampler.next_batch()]
    assert len(set(first_epoch)) == 6
    third = sampler.next_batch()  # last id of epoch 0 plus two from epoch 1
    assert len(set(third)) == 3
    seen = []
    sampler2 = EpochMinibatchSampler(ids, 3, seed=1)
    for _ in range(7):
        seen += sampler2.next_batch()
    assert sorted(seen) == sorted(ids * 3)


def test_sampler_state_round_trip_continues_identically():
    ids = [f"t{i}" for i in range(10)]
    a = EpochMinibatchSampler(ids, 3, seed=5)
    for _ in range(4):
        a.next_batch()
    b = EpochMinibatchSampler(ids, 3, seed=99)
    b.load_state_dict(a.state_dict())
    assert [a.next_batch() for _ in range(6)] == [b.next_batch() for _ in range(6)]


def test_sampler_batch_larger_than_set():
    sampler = EpochMinibatchSampler(["x", "y"], 5, seed=0)
    batch = sampler.next_batch()  # each id once, then padded to 5 as dspy.GEPA does (repeats are cache hits)
    assert sorted(set(batch)) == ["x", "y"] and len(batch) == 5 and batch[2:] == [batch[1], batch[0], batch[1]]
