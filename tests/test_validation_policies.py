"""GEPA(val_policy="racing") and held-out selection (selection_fraction / selection_set) through compile."""

from __future__ import annotations

import dspy
import pytest

from gepa_dspy import GEPA

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder


def compile_toy(budget=80, log_dir=None, **kwargs):
    seen: list[str] = []

    def recording_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        if pred_name is None:
            seen.append(gold.text)
        return metric(gold, pred, trace, pred_name, pred_trace)

    dspy.configure(lm=ScriptedLM(task_responder))
    examples = make_examples()
    optimizer = GEPA(recording_metric, max_metric_calls=budget, reflection_lm=ScriptedLM(reflection_responder),
                     track_stats=True, log_dir=log_dir, **kwargs)
    program = optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    return program, program.detailed_results, seen, examples


def test_racing_keeps_the_budget_and_finds_the_improved_program():
    program, results, _, _ = compile_toy(budget=120, val_policy="racing")
    assert results.total_metric_calls <= 120
    assert results.val_aggregate_scores[results.best_idx] == 1.0
    assert program(text="zebra?").answer == "ZEBRA"


def test_held_out_examples_are_run_only_at_the_end_and_choose_the_returned_program():
    program, results, seen, examples = compile_toy(budget=90, selection_fraction=0.25)
    assert results.total_metric_calls <= 90
    selection = results.selection
    assert selection["num_examples"] == 2 and results.selected_idx in selection["finalists"]
    assert set(selection["val_means"]) == set(selection["finalists"]) >= set(selection["held_out_means"])
    # The last runs are the finalists' runs on the 2 held-out validation examples, which no earlier run touched.
    n_end = len(selection["held_out_means"]) * selection["num_examples"]
    head, tail = seen[:-n_end], seen[-n_end:]
    assert len(set(tail)) == 2 and set(tail) <= {ex.text for ex in examples[8:]} and set(tail).isdisjoint(head)
    chosen = results.candidate_instructions[results.selected_idx]
    assert program.clean.signature.instructions == chosen["clean"]
    assert program.shout.signature.instructions == chosen["shout"]


def test_an_explicit_selection_set_is_never_seen_by_the_search():
    extra = [dspy.Example(text=w, answer=w.strip("!?.").upper()).with_inputs("text") for w in ("delta!", "omega?")]
    dspy.configure(lm=ScriptedLM(task_responder))
    examples = make_examples()
    texts: list[str] = []

    def recording_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        if pred_name is None:
            texts.append(gold.text)
        return metric(gold, pred, trace, pred_name, pred_trace)

    results = GEPA(recording_metric, max_metric_calls=90, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                   selection_set=extra, selection_top_k=2).compile(CleanThenShout(), trainset=examples[:8],
                                                                    valset=examples[8:]).detailed_results
    first = min(i for i, t in enumerate(texts) if t in ("delta!", "omega?"))
    assert all(t in ("delta!", "omega?") for t in texts[first:])
    assert len(results.selection["held_out_means"]) == min(2, len(results.candidates))


def test_held_out_selection_resumes_without_paying_twice(tmp_path):
    _, first, _, _ = compile_toy(budget=90, log_dir=tmp_path, selection_fraction=0.25)
    _, again, seen, _ = compile_toy(budget=90, log_dir=tmp_path, selection_fraction=0.25)
    assert seen == [] and again.selected_idx == first.selected_idx and again.selection == first.selection


@pytest.mark.parametrize("kwargs, error, message", [
    ({"val_policy": "fast"}, ValueError, "val_policy"),
    ({"selection_fraction": 1.0}, ValueError, "strictly between 0 and 1"),
    ({"selection_fraction": "0.2"}, ValueError, "strictly between 0 and 1"),
    ({"selection_fraction": 0.2, "selection_set": []}, ValueError, "not both"),
    ({"selection_top_k": 0}, ValueError, "selection_top_k"),
])
def test_bad_validation_policy_arguments_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        GEPA(metric, max_metric_calls=10, **kwargs)


def test_selection_fraction_needs_a_separate_valset():
    dspy.configure(lm=ScriptedLM(task_responder))
    with pytest.raises(ValueError, match="valset separate"):
        GEPA(metric, max_metric_calls=40, reflection_lm=ScriptedLM(reflection_responder),
             selection_fraction=0.25).compile(CleanThenShout(), trainset=make_examples()[:8])
