"""``GEPA(num_parallel_proposals=k, parallel_proposal_mode=...)`` end to end on the scripted toy task."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest

from benchmarks import orchestration as bench
from gepa_dspy import GEPA
from gepa_dspy.engine.checkpoint import CheckpointMismatchError

from .toy_task import CleanThenShout, make_examples, make_lms, metric


def compile_toy(budget: int = 120, **kwargs):
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    optimizer = GEPA(metric, max_metric_calls=budget, reflection_lm=reflection, track_stats=True, num_threads=4, **kwargs)
    return optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results


@pytest.mark.parametrize("mode", ["independent", "prefetch"])
def test_parallel_proposals_find_the_best_program_within_budget(mode):
    results = compile_toy(num_parallel_proposals=3, parallel_proposal_mode=mode)
    assert results.total_metric_calls <= 120
    assert results.val_aggregate_scores[results.best_idx] == 1.0
    again = compile_toy(num_parallel_proposals=3, parallel_proposal_mode=mode)
    assert again.candidate_instructions == results.candidate_instructions and again.history == results.history


def test_bad_parallel_arguments_are_refused():
    with pytest.raises(ValueError, match="num_parallel_proposals"):
        GEPA(metric, max_metric_calls=10, num_parallel_proposals=0)
    with pytest.raises(ValueError, match="parallel_proposal_mode"):
        GEPA(metric, max_metric_calls=10, num_parallel_proposals=2, parallel_proposal_mode="eager")
    with pytest.raises(ValueError, match="'speculative' was removed"):
        GEPA(metric, max_metric_calls=10, num_parallel_proposals=2, parallel_proposal_mode="speculative")


def test_a_checkpoint_from_another_parallel_setting_is_refused(tmp_path):
    compile_toy(budget=40, log_dir=str(tmp_path))
    with pytest.raises(CheckpointMismatchError, match="num_parallel_proposals"):
        compile_toy(budget=40, log_dir=str(tmp_path), num_parallel_proposals=2)


def test_benchmark_runs_the_parallel_mode(tmp_path: Path):
    out = tmp_path / "orchestration.json"
    code = bench.main(["--budget", "30", "--latency-ms", "0", "--num-threads", "2", "--n-train", "6", "--n-val", "4",
                       "--parallel-proposals", "3", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["parallel_proposals"] == 3
    assert list(report["runs"]) == ["ours", "ours_parallel", "ours_prefetch", "dspy"]
    for name in ("ours", "ours_parallel", "ours_prefetch"):
        assert report["runs"][name]["metric_calls"] <= 30
        assert f"ratios_{name}_over_dspy" in report
    table = bench.format_table(report)
    assert "k=3 independent" in table and "indep/dspy" in table and "speculative" not in table
    assert "k=3 prefetch" in table and "prefetch/dspy" in table


def test_quality_sweep_reports_every_seed(tmp_path: Path):
    out = tmp_path / "quality.json"
    code = bench.main(["--quality-seeds", "2", "--budget", "24", "--latency-ms", "0", "--num-threads", "2", "--n-train", "6",
                       "--n-val", "4", "--parallel-proposals", "2", "--only", "ours", "--only", "ours_prefetch",
                       "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["summary"]) == {"ours", "ours_prefetch"}
    for row in report["summary"].values():
        assert [r["seed"] for r in row["per_seed"]] == [0, 1]
        assert row["max_metric_calls"] <= 24
        assert row["min_best_val_score"] <= row["mean_best_val_score"] <= row["max_best_val_score"]


@pytest.mark.parametrize("mode", ["independent", "prefetch"])
def test_parallel_proposals_under_injected_lm_faults_keep_the_budget(mode, monkeypatch):
    from .scripted_lm import ScriptedLM
    from .test_faults import flaky
    from .toy_task import reflection_responder, task_responder

    monkeypatch.setattr("gepa_dspy.adapter.evaluation.time.sleep", lambda s: None)
    runs = []
    for _ in range(2):
        dspy.configure(lm=ScriptedLM(flaky(task_responder, 0.15, seed=1, garbage_rate=0.1)))
        examples = make_examples()
        optimizer = GEPA(metric, max_metric_calls=100, reflection_lm=ScriptedLM(flaky(reflection_responder, 0.15, seed=2)),
                         track_stats=True, num_threads=3, num_parallel_proposals=3, parallel_proposal_mode=mode)
        results = optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results
        assert results.total_metric_calls <= 100
        assert results.counters.get("failed_runs_parse_error", 0) + results.counters.get("failed_runs_lm_error", 0) > 0
        runs.append(results)
    assert runs[0].val_aggregate_scores[runs[0].best_idx] >= runs[0].val_aggregate_scores[0]
