"""The search loop with pure-Python fakes: budget accounting, determinism, checkpoints."""

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gepa_dspy.engine import GEPASearch, SearchConfig
from gepa_dspy.engine.evaluation_cache import EvaluationCache
from gepa_dspy.engine.checkpoint import CheckpointMismatchError
from gepa_dspy.engine.journal import JsonlJournal
from gepa_dspy.engine.records import Outcome
from gepa_dspy.engine.search import BudgetTooSmallError, CHECKPOINT_FILE, STOP_FILE
from gepa_dspy.engine.strategies import ParetoParentSelector, RoundRobinComponentSelector

from .engine_fakes import FakeEvaluator, FakeProposer, RuleEvaluator, RuleProposer

SEED = {"a": "start a", "b": "start b"}
TRAIN = [f"t{i}" for i in range(6)]
VAL = [f"v{i}" for i in range(5)]


def make_search(budget: int, *, log_dir=None, seed=0, use_merge=True, val=VAL, fingerprint=None, **cfg) -> tuple[GEPASearch, FakeEvaluator, FakeProposer]:
    evaluator, proposer = FakeEvaluator(), FakeProposer()
    search = GEPASearch(
        SEED, TRAIN, val, evaluator, proposer,
        SearchConfig(max_metric_calls=budget, seed=seed, use_merge=use_merge, max_merge_invocations=5, **cfg),
        ParetoParentSelector(), RoundRobinComponentSelector(),
        log_dir=log_dir, fingerprint=fingerprint or {"run": "x", "seed": seed},
    )
    return search, evaluator, proposer


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    budget=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=50),
    use_merge=st.booleans(),
    minibatch=st.integers(min_value=1, max_value=4),
)
@example(budget=1, seed=0, use_merge=True, minibatch=3)
@example(budget=len(VAL), seed=0, use_merge=True, minibatch=3)
@example(budget=200, seed=0, use_merge=True, minibatch=3)
def test_budget_is_never_exceeded(budget, seed, use_merge, minibatch):
    search, evaluator, _ = make_search(budget, seed=seed, use_merge=use_merge, minibatch_size=minibatch)
    if budget < len(VAL):
        with pytest.raises(BudgetTooSmallError):
            search.run()
        assert evaluator.runs == []
        return
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= budget
    # Stopping early only when the next step could not be paid for: a reflection step's worst case is
    # 2 minibatches + the valset, a merge's a subsample of at most 5 + the valset.
    if result.stop_reason == "budget exhausted":
        assert budget - result.metric_calls < 2 * minibatch + len(VAL) + 5


def test_cache_hits_are_free_and_counted():
    search, evaluator, _ = make_search(150)
    result = search.run()
    assert len(set(evaluator.runs)) == len(evaluator.runs)  # nothing evaluated twice
    assert result.cache_hits > 0


def test_same_seed_same_search_other_seed_other_search():
    r1, _, _ = make_search(120, seed=3)
    r2, _, _ = make_search(120, seed=3)
    r3, _, _ = make_search(120, seed=4)
    a, b, c = r1.run(), r2.run(), r3.run()
    assert a.pool.candidates == b.pool.candidates and a.pool.val_scores == b.pool.val_scores
    assert [h.example_ids for h in a.history] == [h.example_ids for h in b.history]
    assert [h.example_ids for h in a.history] != [h.example_ids for h in c.history]


class AlwaysSeed:
    """A custom ParentSelector: always the seed, so its children are siblings."""

    def select(self, pool, rng):
        return 0


def test_merge_combines_two_siblings_module_by_module():
    val = [f"v{i}" for i in range(8)]
    search = GEPASearch(
        {"a": "A", "b": "B"}, [f"t{i}" for i in range(8)], val, RuleEvaluator(), RuleProposer(),
        SearchConfig(max_metric_calls=200, seed=0, max_merge_invocations=1, merge_subsample_size=4),
        AlwaysSeed(), RoundRobinComponentSelector(),
    )
    result = search.run()
    merges = [h for h in result.history if h.kind == "merge"]
    assert len(merges) == 1  # max_merge_invocations
    merge = merges[0]
    assert merge.status == "accepted"
    left, right = merge.parent_ids
    merged = result.pool.candidates[merge.new_candidate_id]
    seed = result.pool.candidates[0]
    for name in ("a", "b"):
        changed = [c[name] for c in (result.pool.candidates[left], result.pool.candidates[right]) if c[name] != seed[name]]
        assert merged[name] in (changed or [seed[name]])
    assert result.pool.parents[merge.new_candidate_id] == [left, right]
    assert result.pool.origins[merge.new_candidate_id] == "merge"
    # the merge subsample run cost at most the subsample size before the full evaluation
    assert len(merge.example_ids) == 4


def test_resume_from_log_dir_matches_uninterrupted_run(tmp_path):
    full, _, _ = make_search(160)
    expected = full.run()
    # Run to a smaller budget, then resume with the full budget: journal + checkpoint carry the state over.
    part, _, _ = make_search(160, log_dir=tmp_path)
    part.config.max_metric_calls = 60
    part.run()
    resumed, evaluator, _ = make_search(160, log_dir=tmp_path)
    got = resumed.run()
    assert got.pool.candidates == expected.pool.candidates
    assert got.pool.val_scores == expected.pool.val_scores
    assert got.metric_calls == expected.metric_calls
    assert len(evaluator.runs) == expected.metric_calls - part.metric_calls  # nothing paid twice


def test_checkpoint_is_json_and_refuses_another_run(tmp_path):
    search, _, _ = make_search(40, log_dir=tmp_path)
    search.run()
    data = json.loads(Path(tmp_path, CHECKPOINT_FILE).read_text())
    assert data["format_version"] == 1 and data["pool"]["candidates"]
    other, _, _ = make_search(40, log_dir=tmp_path, fingerprint={"run": "y", "seed": 0})
    with pytest.raises(CheckpointMismatchError, match="different run"):
        other.run()


def test_stop_file_requests_a_graceful_stop(tmp_path):
    (tmp_path / STOP_FILE).write_text("")
    search, _, _ = make_search(200, log_dir=tmp_path)
    result = search.run()
    assert "stop requested" in result.stop_reason
    assert len(result.pool) == 1  # only the seed evaluation ran


def test_torn_journal_line_is_skipped(tmp_path):
    search, _, _ = make_search(40, log_dir=tmp_path)
    search.run()
    journal = tmp_path / "evaluations.jsonl"
    with open(journal, "a") as fh:
        fh.write('{"c": "abc", "e": "v1", "o": {"sco')
    again, _, _ = make_search(40, log_dir=tmp_path)
    result = again.run()
    assert result.counters.get("torn_journal_lines") == 1


def test_a_sealed_cache_refuses_late_outcomes_and_keeps_its_journal_unchanged(tmp_path: Path) -> None:
    journal = JsonlJournal(tmp_path / "evaluations.jsonl")
    cache = EvaluationCache(journal)
    assert cache.put("c", "e1", Outcome(score=1.0, feedback=""))
    cache.seal()
    journal.close()
    # A worker thread finishing after Ctrl-C: not counted, not journaled (the journal would reopen itself).
    assert not cache.put("c", "e2", Outcome(score=1.0, feedback=""))
    assert len(cache) == 1 and cache.late_outcomes == 1
    assert len((tmp_path / "evaluations.jsonl").read_text().splitlines()) == 1
    cache.unseal()
    assert cache.put("c", "e2", Outcome(score=1.0, feedback="")) and len(cache) == 2


class ConstantWorseProposer(FakeProposer):
    """Proposes the same instruction whatever it is shown; its children never beat the parent."""

    def propose(self, candidate, component, runs):
        return FakeProposer.propose(self, {"a": "same", "b": "same"}, component, [])  # counts the call


class SeedWinsEvaluator(FakeEvaluator):
    def evaluate(self, candidate, example_ids, sink):
        for e in example_ids:
            self.runs.append((repr(sorted(candidate.items())), e))
            sink(e, Outcome(score=1.0 if candidate == SEED else 0.0, feedback="worse than the seed"))


def test_a_reflection_like_an_earlier_one_is_a_free_repeat_and_a_stuck_search_stops(tmp_path):
    """Same parent, same component, same minibatch: the reflection prompt would be the same, so the proposer is not
    asked again (DSPy's tests: a one-example trainset and a budget of 4 make exactly one proposer call)."""
    evaluator, proposer = SeedWinsEvaluator(), ConstantWorseProposer()
    config = SearchConfig(max_metric_calls=400, seed=0, use_merge=False, skip_perfect_score=False,
                          max_stalled_iterations=6)
    search = GEPASearch(SEED, ["t0"], ["v0"], evaluator, proposer, config, ParetoParentSelector(),
                        RoundRobinComponentSelector(), log_dir=tmp_path, fingerprint={"run": "repeat"})
    result = search.run()
    statuses = [h.status for h in result.history]
    assert proposer.calls == 2  # component a once, component b once; then every draw is a repeat
    assert statuses[:2] == ["rejected", "rejected"] and set(statuses[2:]) == {"repeat"}
    assert result.stop_reason.startswith("stalled") and result.counters["reflection_repeat"] == 6
    assert result.metric_calls == 4  # the seed on v0 and t0, then one child per component on t0


@pytest.mark.parametrize("k, mode", [(1, "independent"), (2, "independent"), (3, "prefetch")])
def test_a_repeat_within_one_parallel_round_is_skipped_as_in_the_sequential_loop(tmp_path, k, mode):
    """Rewriting every component, each iteration of a one-example trainset asks the same question: only the first
    of a round reflects, the later ones wait for its verdict and are repeats, in every mode as sequentially."""
    from gepa_dspy.engine.strategies import AllComponentSelector

    evaluator, proposer = SeedWinsEvaluator(), ConstantWorseProposer()
    config = SearchConfig(max_metric_calls=400, seed=0, use_merge=False, skip_perfect_score=False,
                          max_stalled_iterations=6, num_parallel_proposals=k, parallel_proposal_mode=mode)
    result = GEPASearch(SEED, ["t0"], ["v0"], evaluator, proposer, config, ParetoParentSelector(),
                        AllComponentSelector(), log_dir=tmp_path, fingerprint={"run": "repeat", "k": k}).run()
    statuses = [h.status for h in result.history]
    assert proposer.calls == 2 and statuses[0] == "rejected" and set(statuses[1:]) == {"repeat"}  # a and b, once
    assert result.metric_calls == 3  # the seed on v0 and t0, the one child on t0
