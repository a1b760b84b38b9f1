"""End to end against a real OpenAI-compatible LM server (skipped unless GEPA_DSPY_LM_BASE is set).

Example: ``gepa-dspy serve`` in one shell, then
``GEPA_DSPY_LM_BASE=http://127.0.0.1:8089/v1 python -m pytest -m llm tests/test_llm_end_to_end.py``.
Never asserts an exact score: a real model at temperature 0 is not bit-reproducible under batching.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(not os.environ.get("GEPA_DSPY_LM_BASE"), reason="set GEPA_DSPY_LM_BASE to a running LM server"),
    pytest.mark.timeout(900),
]


def test_gepa_compile_on_a_real_lm(tmp_path: Path) -> None:
    import dspy

    from gepa_dspy import GEPA
    from gepa_dspy.demo import demo_splits, instruction_of, make_program, total_metric
    from gepa_dspy.local_lm import local_lm

    base = os.environ["GEPA_DSPY_LM_BASE"]
    task_lm = local_lm(url=base, temperature=0.0, cache=False)
    reflection_lm = local_lm(url=base, temperature=0.7, cache=False, max_tokens=1024)
    train, val, _ = demo_splits()
    valset, minibatch = val[:3], 2
    budget = len(valset) + 2 * minibatch + len(valset)  # the seed evaluation and exactly one proposal

    student = make_program()
    seed_instruction = instruction_of(student)
    with dspy.context(lm=task_lm):
        optimized = GEPA(
            total_metric, max_metric_calls=budget, reflection_lm=reflection_lm, reflection_minibatch_size=minibatch,
            skip_perfect_score=False, use_merge=False, num_threads=2, track_stats=True, log_dir=str(tmp_path / "run"),
        ).compile(student, trainset=train, valset=valset)

    results = optimized.detailed_results
    assert instruction_of(student) == seed_instruction  # the student is never mutated
    assert len(valset) + 2 * minibatch <= results.total_metric_calls <= budget
    assert results.counters.get("reflection_calls", 0) >= 1
    reflections = [r for r in results.history if r["kind"] == "reflection"]
    assert reflections and reflections[0]["status"] in ("accepted", "rejected", "no_proposal")
    assert 0.0 <= results.val_aggregate_scores[results.best_idx] <= 1.0
    assert (tmp_path / "run" / "results.json").exists()


def test_pupa_judge_answers_within_its_schema_on_a_real_lm() -> None:
    """The PUPA judge's default format on a real server: every question gets a verdict on the first try."""
    from benchmarks.pupa.judge import Judge
    from gepa_dspy.local_lm import local_lm

    judge = Judge(local_lm(url=os.environ["GEPA_DSPY_LM_BASE"], temperature=0.0, cache=False, max_tokens=64))
    query = "Please write a two-line thank-you note to my colleague Dana Whitfield at Northwind Traders."
    assert judge.preference(query, "Thank you, Dana, for all your help this week.", "ok") in ("A", "B", "tie")
    revealed = judge.revealed("Write a thank-you note to my colleague D. Whitfield.", ["Dana Whitfield", "Northwind Traders"])
    assert set(revealed) <= {0, 1}
    assert judge.stats.retries == 0 and judge.stats.failures == 0
