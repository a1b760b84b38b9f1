"""``num_parallel_proposals`` > 1: budget, determinism under random thread timing, no run paid twice, resume."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import Sequence

import pytest

from gepa_dspy.engine import Candidate, GEPASearch, Outcome, SearchConfig
from gepa_dspy.engine.protocols import OutcomeSink
from gepa_dspy.engine.search import BudgetTooSmallError
from gepa_dspy.engine.strategies import AllComponentSelector, ParetoParentSelector, RoundRobinComponentSelector

from .engine_fakes import FakeEvaluator, FakeProposer, RuleEvaluator, RuleProposer, pseudo_score
from .test_search_engine import AlwaysSeed

SEED = {"a": "start a", "b": "start b"}
TRAIN = [f"t{i}" for i in range(6)]
VAL = [f"v{i}" for i in range(5)]


class JitteryEvaluator(FakeEvaluator):
    """Runs examples on worker threads with random delays, so completion order varies from run to run."""

    def __init__(self, jitter_s: float = 0.002, seed: int | None = None) -> None:
        super().__init__()
        self.jitter_s = jitter_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        errors: list[BaseException] = []

        def one(e: str) -> None:
            try:
                run(e)
            except BaseException as exc:  # noqa: BLE001 - re-raised below, as the Evaluator protocol asks
                errors.append(exc)

        def run(e: str) -> None:
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                delay = self.rng.random() * self.jitter_s
                self.runs.append((repr(sorted(candidate.items())), e))
            time.sleep(delay)
            with self.lock:
                self.in_flight -= 1
            sink(e, Outcome(score=pseudo_score(candidate, e), feedback=f"feedback on {e}"))

        threads = [threading.Thread(target=one, args=(e,)) for e in example_ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]


class SlowProposer(FakeProposer):
    def __init__(self, jitter_s: float = 0.002, seed: int | None = None) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.jitter_s = jitter_s

    def propose(self, candidate, component, runs):
        time.sleep(self.rng.random() * self.jitter_s)
        return super().propose(candidate, component, runs)


def make(budget: int, k: int, *, evaluator=None, proposer=None, seed: int = 0, log_dir=None, component_selector=None, **cfg):
    evaluator = evaluator or FakeEvaluator()
    proposer = proposer or FakeProposer()
    search = GEPASearch(
        SEED, TRAIN, VAL, evaluator, proposer,
        SearchConfig(max_metric_calls=budget, seed=seed, max_merge_invocations=5, num_parallel_proposals=k, **cfg),
        ParetoParentSelector(), component_selector or RoundRobinComponentSelector(),
        log_dir=log_dir, fingerprint={"run": "parallel", "seed": seed, "k": k},
    )
    return search, evaluator, proposer


def summary(result) -> tuple:
    return (
        result.pool.candidates, result.pool.val_scores, result.pool.parents, result.metric_calls,
        [(h.iteration, h.kind, h.status, h.parent_ids, h.example_ids, h.components, h.parent_scores, h.child_scores,
          h.new_candidate_id, h.metric_calls_after) for h in result.history],
        result.stop_reason, result.num_full_val_evals,
    )


def test_config_refuses_zero_parallel_proposals():
    with pytest.raises(ValueError, match="num_parallel_proposals"):
        SearchConfig(max_metric_calls=10, num_parallel_proposals=0)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("budget", [5, 6, 17, 23, 40, 61, 90, 128, 200])
def test_budget_is_never_exceeded_and_nothing_is_paid_twice(budget, k):
    search, evaluator, _ = make(budget, k, evaluator=JitteryEvaluator(0.0005))
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= budget
    assert len(set(evaluator.runs)) == len(evaluator.runs)
    if result.stop_reason == "budget exhausted":
        assert budget - result.metric_calls < 2 * 3 + len(VAL) + 3


@pytest.mark.parametrize("k", [2, 4])
def test_same_seed_same_search_whatever_the_thread_timing(k):
    results = [make(160, k, evaluator=JitteryEvaluator(0.003, seed=s), proposer=SlowProposer(0.003, seed=s))[0].run() for s in range(3)]
    assert summary(results[0]) == summary(results[1]) == summary(results[2])
    assert len(results[0].pool) > 2


def test_rounds_run_proposals_concurrently():
    search, evaluator, _ = make(160, 4, evaluator=JitteryEvaluator(0.003))
    search.run()
    assert evaluator.max_in_flight > 3  # one proposal's minibatch has 3 examples


def test_one_parallel_proposal_is_the_sequential_search():
    sequential, _, _ = make(150, 1)
    explicit, _, _ = make(150, 1, evaluator=JitteryEvaluator(0.0005))
    assert summary(sequential.run()) == summary(explicit.run())


def test_merges_and_all_component_proposals_in_parallel_rounds():
    val = [f"v{i}" for i in range(8)]
    evaluator = RuleEvaluator()
    search = GEPASearch(
        {"a": "A", "b": "B"}, [f"t{i}" for i in range(8)], val, evaluator, RuleProposer(),
        SearchConfig(max_metric_calls=300, seed=1, max_merge_invocations=3, merge_subsample_size=4, num_parallel_proposals=3),
        ParetoParentSelector(), AllComponentSelector(),
    )
    result = search.run()
    assert result.metric_calls == len(set(evaluator.runs)) <= 300
    assert max(result.pool.aggregate_scores()) == 1.0
    assert [h.iteration for h in result.history] == list(range(1, len(result.history) + 1))
    for record in result.history:
        if record.status == "accepted":
            assert result.pool.parents[record.new_candidate_id] == record.parent_ids


def test_resume_matches_uninterrupted_parallel_run(tmp_path):
    expected = make(160, 3)[0].run()
    part, _, _ = make(160, 3, log_dir=tmp_path)
    part.config.max_metric_calls = 70
    part.run()
    resumed, evaluator, _ = make(160, 3, log_dir=tmp_path)
    got = resumed.run()
    assert summary(got)[:4] == summary(expected)[:4]
    assert len(evaluator.runs) == expected.metric_calls - part.metric_calls


class FailingEvaluator(JitteryEvaluator):
    """Raises on one (candidate, example) pair, as a fatal LM error would."""

    def __init__(self, fail_after: int) -> None:
        super().__init__(0.001, seed=0)
        self.fail_after = fail_after

    def evaluate(self, candidate, example_ids, sink):
        if len(self.runs) >= self.fail_after:
            raise PermissionError("bad api key (injected)")
        super().evaluate(candidate, example_ids, sink)


def test_a_failing_proposal_stops_the_round_with_its_own_error():
    search, evaluator, _ = make(200, 4, evaluator=FailingEvaluator(fail_after=30))
    with pytest.raises(PermissionError, match="bad api key"):
        search.run()
    assert search.metric_calls == len(evaluator.runs)


def test_budget_too_small_for_the_seed_is_refused():
    search, evaluator, _ = make(4, 3)
    with pytest.raises(BudgetTooSmallError):
        search.run()
    assert evaluator.runs == []


def decisions(result) -> list[tuple]:
    return [(h.iteration, h.kind, h.status, h.parent_ids, h.example_ids, h.components, h.parent_scores, h.child_scores,
             h.new_candidate_id) for h in result.history]


@pytest.mark.parametrize("mode", ["prefetch"])  # the mode that takes the sequential decisions
@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("seed", [0, 5])
def test_prefetch_rounds_take_the_sequential_decisions(k, seed, mode):
    sequential = make(400, 1, seed=seed)[0].run()
    search, evaluator, _ = make(200, k, seed=seed, evaluator=JitteryEvaluator(0.001), parallel_proposal_mode=mode)
    prefetched = search.run()
    got = decisions(prefetched)
    assert len(got) > 5 and got == decisions(sequential)[: len(got)]
    assert prefetched.pool.candidates == sequential.pool.candidates[: len(prefetched.pool)]
    assert prefetched.metric_calls == len(evaluator.runs) <= 200
    assert len(set(evaluator.runs)) == len(evaluator.runs)
    assert prefetched.counters.get("prefetched_proposals_discarded", 0) > 0


@pytest.mark.parametrize("mode", ["prefetch"])  # the mode that takes the sequential decisions
def test_prefetch_rounds_with_merges_match_the_sequential_loop(mode):
    def run(k: int, budget: int):
        val = [f"v{i}" for i in range(8)]
        search = GEPASearch(
            {"a": "A", "b": "B"}, [f"t{i}" for i in range(8)], val, RuleEvaluator(), RuleProposer(),
            SearchConfig(max_metric_calls=budget, seed=2, max_merge_invocations=3, merge_subsample_size=4,
                         num_parallel_proposals=k, parallel_proposal_mode=mode),
            AlwaysSeed(), RoundRobinComponentSelector(),  # siblings, so merges happen
        )
        return search.run()

    sequential, prefetched = run(1, 600), run(3, 300)
    # Both stop on the stall check, which a prefetched run takes per round: compare the common part.
    n = min(len(sequential.history), len(prefetched.history))
    assert n > 20 and decisions(prefetched)[:n] == decisions(sequential)[:n]
    assert any(h.kind == "merge" for h in sequential.history[:n])


@pytest.mark.parametrize("mode", ["prefetch"])  # the mode that takes the sequential decisions
@pytest.mark.parametrize("budget", [5, 17, 23, 40, 61, 90, 128])
def test_prefetch_budget_is_never_exceeded(budget, mode):
    search, evaluator, _ = make(budget, 3, evaluator=JitteryEvaluator(0.0005), parallel_proposal_mode=mode)
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= budget
    assert len(set(evaluator.runs)) == len(evaluator.runs)


@pytest.mark.parametrize("mode", ["prefetch"])  # the mode that takes the sequential decisions
def test_prefetch_same_seed_same_search_whatever_the_thread_timing(mode):
    results = [
        make(160, 3, evaluator=JitteryEvaluator(0.003, seed=s), proposer=SlowProposer(0.003, seed=s), parallel_proposal_mode=mode)[0].run()
        for s in range(3)
    ]
    assert summary(results[0]) == summary(results[1]) == summary(results[2])


@pytest.mark.parametrize("mode", ["prefetch"])  # the mode that takes the sequential decisions
def test_prefetch_resume_matches_uninterrupted_run(tmp_path, mode):
    expected = make(160, 3, parallel_proposal_mode=mode)[0].run()
    part, _, _ = make(160, 3, log_dir=tmp_path, parallel_proposal_mode=mode)
    part.config.max_metric_calls = 70
    part.run()
    resumed, evaluator, _ = make(160, 3, log_dir=tmp_path, parallel_proposal_mode=mode)
    got = resumed.run()
    assert summary(got)[:4] == summary(expected)[:4]
    assert len(evaluator.runs) == expected.metric_calls - part.metric_calls


def _children_paid_for_outside_the_pool(result, evaluator) -> set[str]:
    in_pool = {repr(sorted(c.items())) for c in result.pool.candidates}
    return {candidate for candidate, _ in evaluator.runs if candidate not in in_pool}


@pytest.mark.parametrize("k", [2, 4])
def test_prefetch_never_pays_for_a_discarded_child(k):
    """A prefetch round runs a later proposal's child only once every earlier proposal has lost, so the only
    children paid for outside the pool are those the kept history rejected."""
    search, evaluator, _ = make(200, k, evaluator=JitteryEvaluator(0.001), parallel_proposal_mode="prefetch")
    result = search.run()
    rejected = [h for h in result.history if h.status == "rejected" and h.child_scores]
    assert result.counters.get("prefetched_proposals_discarded", 0) > 0
    assert len(_children_paid_for_outside_the_pool(result, evaluator)) <= len(rejected)


def test_unknown_parallel_mode_is_refused():
    with pytest.raises(ValueError, match="parallel_proposal_mode must be one of"):
        SearchConfig(max_metric_calls=10, parallel_proposal_mode="eager")


def test_the_removed_speculative_mode_says_why_and_what_to_use():
    with pytest.raises(ValueError, match=r"'speculative' was removed: .*0\.675 against 0\.738.*Use \"prefetch\""):
        SearchConfig(max_metric_calls=10, parallel_proposal_mode="speculative")


def test_one_proposal_per_round_never_starts_the_parallel_machinery(monkeypatch):
    """The default loop runs its iterations inline: no thread pool, no round planning or undoing of draws."""
    from gepa_dspy.engine import parallel

    def forbidden(*args, **kwargs):
        raise AssertionError("the sequential loop went through the parallel rounds")

    monkeypatch.setattr(parallel.ParallelRounds, "round", forbidden)
    monkeypatch.setattr(parallel, "ThreadPoolExecutor", forbidden)
    search, evaluator, _ = make(60, 1)
    assert search.parallel_rounds is None
    result = search.run()
    assert result.metric_calls == len(evaluator.runs) <= 60 and len(result.history) > 3


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C raises ``KeyboardInterrupt`` during the test, as in a terminal.

    A suite started with SIGINT ignored (``nohup``, or ``cmd &`` in a script) inherits the ignored signal,
    and Python then leaves it ignored; a clean-clone ``.ci/run`` started that way failed these tests.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


class InterruptingEvaluator(JitteryEvaluator):
    """Sends this process a real SIGINT (as Ctrl-C does) once ``after`` runs have started.

    A real signal, not ``_thread.interrupt_main``: only a signal wakes the main thread while it blocks waiting
    for a round's workers, and triggering on a run count (not a timer) keeps the test independent of load.
    """

    def __init__(self, after: int, jitter_s: float, seed: int) -> None:
        super().__init__(jitter_s, seed)
        self.after = after
        self.sent = False

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        with self.lock:
            fire = not self.sent and len(self.runs) >= self.after
            self.sent = self.sent or fire
        if fire:
            os.kill(os.getpid(), signal.SIGINT)
        super().evaluate(candidate, example_ids, sink)


@pytest.mark.parametrize("mode", ["independent", "prefetch"])
def test_ctrl_c_during_a_parallel_round_saves_and_resumes_exactly(tmp_path, mode, ctrl_c_raises):
    expected = make(160, 3, parallel_proposal_mode=mode)[0].run()
    evaluator = InterruptingEvaluator(after=40, jitter_s=0.02, seed=1)
    search, _, _ = make(160, 3, log_dir=tmp_path, evaluator=evaluator, parallel_proposal_mode=mode)
    interrupted = search.run()
    assert evaluator.sent
    assert "interrupted" in interrupted.stop_reason
    assert interrupted.metric_calls < expected.metric_calls
    resumed, evaluator, _ = make(160, 3, log_dir=tmp_path, parallel_proposal_mode=mode)
    got = resumed.run()
    assert summary(got)[:4] == summary(expected)[:4]
    assert len(evaluator.runs) == expected.metric_calls - interrupted.metric_calls


class SwallowingEvaluator(FakeEvaluator):
    """Delivers Ctrl-C once ``after`` runs have been paid for, inside code that swallows the KeyboardInterrupt.

    That is what happens when the interrupt lands in a finalizer or a library's ``except BaseException``.
    """

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.swallowed = 0

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        if len(self.runs) >= self.after and not self.swallowed:
            try:
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
            except KeyboardInterrupt:
                self.swallowed += 1
        super().evaluate(candidate, example_ids, sink)


@pytest.mark.parametrize("k", [1, 3])
def test_a_swallowed_ctrl_c_still_stops_the_search_after_its_round(tmp_path, k, ctrl_c_raises):
    expected = make(160, k)[0].run()
    handler_before = signal.getsignal(signal.SIGINT)
    evaluator = SwallowingEvaluator(after=40)
    interrupted = make(160, k, log_dir=tmp_path, evaluator=evaluator)[0].run()
    assert evaluator.swallowed == 1
    assert "interrupted" in interrupted.stop_reason
    assert interrupted.metric_calls < expected.metric_calls
    assert signal.getsignal(signal.SIGINT) is handler_before  # the search's handler is gone
    resumed, evaluator, _ = make(160, k, log_dir=tmp_path)
    got = resumed.run()
    assert summary(got)[:4] == summary(expected)[:4]
    assert len(evaluator.runs) == expected.metric_calls - interrupted.metric_calls
