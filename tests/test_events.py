"""Typed search events and user callbacks (issue 31): order, content, and failing callbacks losing no work."""

from __future__ import annotations

import logging

import pytest

from gepa_dspy.engine import GEPASearch, SearchConfig
from gepa_dspy.engine import events as ev
from gepa_dspy.engine.strategies import ParetoParentSelector, RoundRobinComponentSelector

from .engine_fakes import FakeEvaluator, FakeProposer, RuleEvaluator, RuleProposer

SEED = {"a": "start a", "b": "start b"}
TRAIN = [f"t{i}" for i in range(8)]
VAL = [f"v{i}" for i in range(8)]


def run_search(budget: int, callbacks, *, log_dir=None, evaluator=None, proposer=None, **cfg):
    evaluator = evaluator or RuleEvaluator()
    search = GEPASearch(
        SEED, TRAIN, VAL, evaluator, proposer or RuleProposer(),
        SearchConfig(max_metric_calls=budget, seed=0, use_merge=True, max_merge_invocations=5, **cfg),
        ParetoParentSelector(), RoundRobinComponentSelector(), log_dir=log_dir, fingerprint={"run": "events"},
        callbacks=callbacks,
    )
    return search.run(), evaluator


def test_events_tell_the_whole_run_in_order(tmp_path) -> None:
    seen: list[ev.SearchEvent] = []
    result, evaluator = run_search(120, [seen.append], log_dir=tmp_path)
    kinds = [type(e) for e in seen]
    assert kinds[0] is ev.RunStarted and kinds[-1] is ev.RunEnded
    assert seen[0].budget == 120 and seen[0].metric_calls == 0 and not seen[0].resumed
    end = seen[-1]
    assert end.metric_calls == result.metric_calls and end.num_candidates == len(result.pool)
    assert end.stop_reason == result.stop_reason

    # Every candidate is announced once, the seed first.
    added = [e for e in seen if isinstance(e, ev.CandidateAdded)]
    assert [e.index for e in added] == list(range(len(result.pool)))
    assert added[0].origin == "seed" and added[0].parent_ids == ()
    # One verdict per recorded iteration, with the record's scores.
    verdicts = [e for e in seen if isinstance(e, (ev.ChildAccepted, ev.ChildRejected))]
    assert len(verdicts) == len(result.history)
    for event, record in zip(verdicts, result.history):
        assert event.iteration == record.iteration and list(event.child_scores) == record.child_scores
        assert isinstance(event, ev.ChildAccepted) == (record.status == "accepted")
    starts = [e for e in seen if isinstance(e, ev.IterationStarted)]
    assert [e.iteration for e in starts] == [r.iteration for r in result.history]
    # Paid batches add up to the metric calls; budget updates climb to the total.
    batches = [e for e in seen if isinstance(e, ev.EvaluationBatchDone)]
    assert sum(len(e.example_ids) for e in batches) == result.metric_calls == len(evaluator.runs)
    updates = [e.metric_calls for e in seen if isinstance(e, ev.BudgetUpdate)]
    assert updates == sorted(updates) and updates[-1] == result.metric_calls
    assert all(e.budget == 120 for e in seen if isinstance(e, ev.BudgetUpdate))
    proposals = [e for e in seen if isinstance(e, ev.ProposalMade)]
    assert proposals and all(e.text for e in proposals)
    checkpoints = [e for e in seen if isinstance(e, ev.CheckpointSaved)]
    assert checkpoints and checkpoints[0].path.endswith("gepa_state.json")
    merges = [e for e in seen if isinstance(e, ev.MergeAttempted)]
    assert len(merges) == sum(1 for r in result.history if r.kind == "merge")


def test_rejected_proposals_are_reported() -> None:
    class NoProposer(FakeProposer):
        def propose(self, candidate, component, runs):
            from gepa_dspy.engine import ProposalResult

            return ProposalResult(text=None, rejections=["unchanged", "empty"])

    seen: list[ev.SearchEvent] = []
    result, _ = run_search(40, [seen.append], evaluator=FakeEvaluator(), proposer=NoProposer())
    rejected = [e for e in seen if isinstance(e, ev.ProposalRejected)]
    assert rejected and rejected[0].reasons == ("unchanged", "empty")
    verdicts = [e for e in seen if isinstance(e, ev.ChildRejected)]
    assert verdicts and all(e.status in {"no_proposal", "skipped_perfect"} for e in verdicts)


def test_a_raising_callback_is_logged_and_counted_and_loses_no_work(caplog) -> None:
    calls = {"n": 0}

    def broken(event: ev.SearchEvent) -> None:
        calls["n"] += 1
        raise RuntimeError("tracker is down")

    seen: list[ev.SearchEvent] = []
    with caplog.at_level(logging.WARNING, logger="gepa_dspy"):
        result, _ = run_search(120, [broken, seen.append])
    reference, _ = run_search(120, [])
    # Same search as without callbacks, every event still reached the healthy callback.
    assert [c for c in result.pool.candidates] == [c for c in reference.pool.candidates]
    assert result.metric_calls == reference.metric_calls
    assert calls["n"] == len(seen) == result.counters["callback_errors"]
    assert "tracker is down" in caplog.text and "callback" in caplog.text
    assert sum("Traceback" in r.exc_text for r in caplog.records if r.exc_text) == 1  # traceback only once


def test_non_callable_callback_is_refused() -> None:
    with pytest.raises(TypeError, match="callables"):
        ev.EventDispatcher(["not a function"])  # type: ignore[list-item]


def test_no_callbacks_means_no_observing_wrapper() -> None:
    evaluator = FakeEvaluator()
    search = GEPASearch(SEED, TRAIN, VAL, evaluator, FakeProposer(), SearchConfig(max_metric_calls=30, seed=0),
                        ParetoParentSelector(), RoundRobinComponentSelector())
    assert search.budgeted_evaluator.evaluator is evaluator
