"""Issue 27 items 11 and 12: a search that cannot make progress says why; the stop file is honoured once."""

from __future__ import annotations

import logging

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.engine.search import STOP_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


def compile_in(log_dir=None, program=None, budget=40, task=None, **kwargs):
    dspy.configure(lm=task or ScriptedLM(task_responder))
    examples = make_examples()
    return GEPA(metric, max_metric_calls=budget, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                log_dir=None if log_dir is None else str(log_dir), use_merge=False, **kwargs).compile(
        program or CleanThenShout(), trainset=examples[:8], valset=examples[8:])


def test_the_stop_file_is_removed_when_honoured_and_logged(tmp_path, caplog):
    """Item 12: the next compile resumes instead of stopping at once, silently."""
    (tmp_path / STOP_FILE).write_text("")
    with caplog.at_level(logging.WARNING, logger="gepa_dspy"):
        stopped = compile_in(tmp_path, budget=60)
    assert "stop requested" in stopped.detailed_results.stop_reason
    assert "stop requested" in caplog.text and "removed" in caplog.text
    assert not (tmp_path / STOP_FILE).exists()
    resumed = compile_in(tmp_path, budget=60)
    assert "stop requested" not in resumed.detailed_results.stop_reason
    assert len(resumed.detailed_results.candidate_instructions) > len(stopped.detailed_results.candidate_instructions)


class AlwaysRaises(CleanThenShout):
    def forward(self, text):
        raise RuntimeError("bug in user code (injected)")


def test_a_program_whose_every_run_raises_is_a_clear_error_not_a_stalled_seed():
    """Item 11."""
    from gepa_dspy.engine.budgeted_evaluator import ProgramFailedError

    with pytest.raises(ProgramFailedError, match="bug in user code") as info:
        compile_in(program=AlwaysRaises(), budget=40)
    assert "program_error" in str(info.value)


class OutageError(ConnectionError):
    pass


def test_a_task_lm_fully_down_with_few_runs_left_is_lm_unavailable(tmp_path, monkeypatch):
    """Fewer runs than max_consecutive_lm_failures fit in the budget: still LMUnavailableError, state saved."""
    from gepa_dspy import LMUnavailableError

    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)

    def down(messages):
        raise OutageError("connection refused (injected)")

    with pytest.raises(LMUnavailableError, match="connection refused"):
        compile_in(tmp_path, budget=15, task=ScriptedLM(down))
    assert (tmp_path / "evaluations.jsonl").exists()
    # Once the LM is back, the same log_dir resumes and reruns the failed runs.
    program = compile_in(tmp_path, budget=15)
    assert program.detailed_results.val_aggregate_scores[0] > 0


def test_a_search_that_ends_while_the_lm_is_down_says_so(tmp_path, monkeypatch):
    """Some runs worked, then the LM went down with too few runs left to reach max_consecutive_lm_failures."""
    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)
    calls = {"n": 0}

    def goes_down(messages):
        calls["n"] += 1
        if calls["n"] > 16:  # the seed's 8 validation runs (2 LM calls each) work, then the LM is gone
            raise OutageError("connection refused (injected)")
        return task_responder(messages)

    program = compile_in(tmp_path, budget=30, task=ScriptedLM(goes_down), num_threads=1)
    results = program.detailed_results
    assert "LM may be down" in results.stop_reason
    assert results.counters["final_consecutive_lm_failures"] >= 1
