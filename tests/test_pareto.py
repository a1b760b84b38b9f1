import random

import pytest

from gepa_dspy.engine.pareto import (
    leader_counts,
    non_dominated,
    per_instance_fronts,
    sample_pareto_parent,
    selection_probabilities,
)


def test_fronts_hold_every_candidate_tied_for_best():
    table = [[1, 0, 0.5], [1, 1, 0.2], [0, 0, 0.5]]
    assert per_instance_fronts(table) == [{0, 1}, {1}, {0, 2}]


def test_candidate_whose_fronts_are_all_covered_by_others_is_dominated():
    # 2 leads only on example 2, where 0 also leads; 0 leads on 0 where 1 also leads... but 1 alone leads on 1.
    table = [[1, 0, 0.5], [1, 1, 0.2], [0, 0, 0.5]]
    fronts = per_instance_fronts(table)
    agg = [sum(r) / 3 for r in table]
    survivors = non_dominated(fronts, agg)
    # candidate 2 is dominated (its only front also holds 0); then 0 is needed for example 2.
    assert survivors == {0, 1}
    assert leader_counts(fronts, survivors) == {0: 2, 1: 2}


def test_identical_leaders_keep_the_stronger_older_one():
    table = [[1, 0], [1, 0], [0, 1]]
    agg = [0.5, 0.5, 0.5]
    assert non_dominated(per_instance_fronts(table), agg) == {0, 2}


def test_a_candidate_leading_nowhere_is_never_selected():
    table = [[1, 1, 1], [0, 0, 0]]
    assert selection_probabilities(table, [1.0, 0.0]) == {0: 1.0}


def test_selection_probabilities_proportional_to_examples_led():
    # 0 leads alone on 3 examples, 1 alone on 1.
    table = [[1, 1, 1, 0], [0, 0, 0, 1]]
    probs = selection_probabilities(table, [0.75, 0.25])
    assert probs == pytest.approx({0: 0.75, 1: 0.25})


def test_sampling_matches_probabilities_and_is_seeded():
    table = [[1, 1, 1, 0], [0, 0, 0, 1]]
    agg = [0.75, 0.25]
    draws = [sample_pareto_parent(table, agg, random.Random(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same draw
    rng = random.Random(0)
    picks = [sample_pareto_parent(table, agg, rng) for _ in range(4000)]
    assert picks.count(0) / len(picks) == pytest.approx(0.75, abs=0.03)


def test_single_candidate_pool():
    assert selection_probabilities([[0.2, 0.3]], [0.25]) == {0: 1.0}
