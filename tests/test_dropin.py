"""Drop-in fidelity with dspy.GEPA: code written for dspy.GEPA runs unchanged with gepa_dspy.GEPA (issue 28)."""

import json

import dspy
import pytest

from gepa_dspy import GEPA, DetailedResults

from .toy_task import CleanThenShout, make_examples, make_lms, metric


def compile_toy(budget=80, metric_fn=metric, **kwargs):
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    optimizer = GEPA(metric_fn, max_metric_calls=budget, reflection_lm=reflection, track_stats=True, **kwargs)
    return optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]), optimizer


# ---------------------------------------------------------------- detailed_results has dspy's shape and meanings
def test_detailed_results_is_a_dspy_gepa_result_with_dspys_types_and_meanings(tmp_path):
    from dspy.teleprompt.gepa.gepa import DspyGEPAResult

    program, optimizer = compile_toy(log_dir=str(tmp_path))
    r = program.detailed_results
    assert isinstance(r, DspyGEPAResult) and isinstance(r, DetailedResults)
    # candidates are programs; best_candidate is the best one, callable as in dspy
    assert all(isinstance(c, dspy.Module) for c in r.candidates)
    assert r.best_candidate is r.candidates[r.best_idx]
    assert r.best_candidate(text="zebra?").answer == "ZEBRA"
    assert dict(r.candidates[0].named_predictors())["clean"].signature.instructions == "Copy the text."
    assert r.candidates[r.best_idx].clean.signature.instructions == r.candidate_instructions[r.best_idx]["clean"]
    # parents: [None] for the seed, indices otherwise
    assert r.parents[0] == [None] and all(p and all(isinstance(i, int) for i in p) for p in r.parents[1:])
    assert r.lineage(r.best_idx)[-1] == 0
    # val_subscores: one {val index: score} per candidate; per_val_instance_best_candidates: {val index: set}
    assert all(isinstance(row, dict) and sorted(row) == list(range(8)) for row in r.val_subscores)
    assert isinstance(r.per_val_instance_best_candidates, dict)
    for j, front in r.per_val_instance_best_candidates.items():
        best = max(row[j] for row in r.val_subscores)
        assert front == {i for i, row in enumerate(r.val_subscores) if row[j] == best}
    assert r.highest_score_achieved_per_val_task == {j: max(row[j] for row in r.val_subscores) for j in range(8)}
    assert r.val_score_table == [[row[j] for j in range(8)] for row in r.val_subscores]
    # discovery_eval_counts: metric calls spent when each candidate was found (non-decreasing, seed = valset size)
    assert r.discovery_eval_counts[0] == 8 and r.discovery_eval_counts == sorted(r.discovery_eval_counts)
    assert r.total_metric_calls <= 80 and r.seed == 0 and r.log_dir == str(tmp_path)
    # to_dict: dspy's keys (candidates as instruction dicts, as dspy's to_dict gives them) plus ours, JSON-ready
    data = r.to_dict()
    dspy_keys = {"candidates", "parents", "val_aggregate_scores", "best_outputs_valset", "val_subscores",
                 "per_val_instance_best_candidates", "val_aggregate_subscores", "per_objective_best_candidates",
                 "objective_pareto_front", "discovery_eval_counts", "total_metric_calls", "num_full_val_evals",
                 "log_dir", "seed", "best_idx"}
    assert dspy_keys <= set(data) and {"counters", "history", "score_curve", "origins"} <= set(data)
    assert data["candidates"] == r.candidate_instructions
    assert isinstance(data["per_val_instance_best_candidates"], dict)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["parents"][0] == [None] and saved["best_idx"] == r.best_idx


def test_detailed_results_is_frozen_like_dspys():
    program, _ = compile_toy(budget=30)
    with pytest.raises(Exception):
        program.detailed_results.seed = 3
