"""Full ``compile`` runs on the toy two-predictor program with scripted LMs."""

import json

import dspy
import pytest

from gepa_dspy import GEPA, DetailedResults, ScoreWithFeedback

from .toy_task import CleanThenShout, make_examples, make_lms, metric

REQUIRED_FIELDS = [
    "candidates", "parents", "val_aggregate_scores", "val_subscores", "per_val_instance_best_candidates",
    "discovery_eval_counts", "total_metric_calls", "num_full_val_evals", "best_idx", "best_candidate", "seed", "log_dir",
]


def run_toy(budget=120, metric_fn=metric, **kwargs):
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    student = CleanThenShout()
    optimizer = GEPA(metric_fn, max_metric_calls=budget, reflection_lm=reflection, track_stats=True, **kwargs)
    program = optimizer.compile(student, trainset=examples[:8], valset=examples[8:])
    return student, program, optimizer, task, reflection


def test_compile_finds_and_returns_the_improved_program():
    student, program, optimizer, _, reflection = run_toy()
    results = program.detailed_results
    assert isinstance(results, DetailedResults)
    assert results.val_aggregate_scores[0] == pytest.approx(0.25)
    assert results.val_aggregate_scores[results.best_idx] == 1.0
    assert "strip punctuation" in program.clean.signature.instructions.lower()
    assert "uppercase" in program.shout.signature.instructions.lower()
    # the returned program really behaves better
    assert program(text="zebra?").answer == "ZEBRA"
    # the student is untouched
    assert student.clean.signature.instructions == "Copy the text."
    assert student.shout.signature.instructions == "Repeat the word."
    assert reflection.calls >= 2
    for name in REQUIRED_FIELDS:
        assert hasattr(results, name), name
    assert results.total_metric_calls <= 120
    assert results.best_candidate == optimizer.best_candidate_
    assert results.parents[0] == [] and all(len(p) >= 1 for p in results.parents[1:])
    assert results.lineage(results.best_idx)[-1] == 0


def test_same_seed_same_candidates():
    _, p1, _, _, _ = run_toy(seed=7)
    _, p2, _, _, _ = run_toy(seed=7)
    assert p1.detailed_results.candidates == p2.detailed_results.candidates
    assert p1.detailed_results.history == p2.detailed_results.history


def test_parallel_evaluation_gives_the_same_result():
    _, serial, _, _, _ = run_toy(num_threads=1)
    _, parallel, _, _, _ = run_toy(num_threads=4)
    assert serial.detailed_results.candidates == parallel.detailed_results.candidates
    assert serial.detailed_results.val_subscores == parallel.detailed_results.val_subscores


def test_float_metric_gets_generic_feedback():
    def float_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return float(pred.answer == gold.answer)

    _, program, _, _, reflection = run_toy(metric_fn=float_metric, budget=40)
    assert program.detailed_results.total_metric_calls <= 40
    # With no feedback from the metric, the reflection LM is told each run's score in a generic sentence.
    prompts = [str(entry["prompt"] or entry["messages"]) for entry in reflection.history]
    assert prompts, "the reflection LM was never asked"
    assert all("This run scored" in prompt for prompt in prompts)
    assert not any("the answer must be in uppercase" in prompt for prompt in prompts)


def test_score_with_feedback_and_dict_returns():
    seen = []

    def swf_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        seen.append(pred_name)
        result = metric(gold, pred, trace, pred_name, pred_trace)
        if pred_name is None:
            return ScoreWithFeedback(score=result.score, feedback=result.feedback)
        return {"score": result.score, "feedback": result.feedback}

    _, program, _, _, _ = run_toy(metric_fn=swf_metric)
    assert program.detailed_results.val_aggregate_scores[program.detailed_results.best_idx] == 1.0
    assert {"clean", "shout"} & set(seen), "reflection must ask the metric for predictor-level feedback"


def test_current_best_and_all_components():
    _, program, _, _, _ = run_toy(candidate_selection_strategy="current_best", component_selector="all")
    results = program.detailed_results
    assert results.val_aggregate_scores[results.best_idx] == 1.0
    # 'all' mutates both predictors in the first proposal
    first = next(h for h in results.history if h["status"] == "accepted")
    assert first["components"] == ["clean", "shout"]


def test_budget_options():
    _, program, _, _, _ = run_toy(budget=None, max_full_evals=3)  # 3 * (8 + 8)
    assert program.detailed_results.budget == 48
    _, program, _, _, _ = run_toy(budget=None, auto="light")
    assert program.detailed_results.budget == 8 + 12 * 2 * 3 + 4 * 8


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({}, "exactly one of"),
        ({"auto": "light", "max_metric_calls": 10}, "exactly one of"),
        ({"auto": "huge"}, "auto must be one of"),
        ({"max_metric_calls": 0}, "positive int"),
        ({"max_metric_calls": 10, "reflection_minibatch_size": 0}, "positive int"),
        ({"max_metric_calls": 10, "candidate_selection_strategy": "best"}, "candidate_selection_strategy"),
        ({"max_metric_calls": 10, "component_selector": "random"}, "component_selector"),
        ({"max_metric_calls": 10, "perfect_score": 0.0}, "perfect_score"),
        ({"max_metric_calls": 10, "num_threads": -2}, "num_threads"),
        ({"max_metric_calls": 10, "max_merge_invocations": -1}, "max_merge_invocations"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, error):
    with pytest.raises(ValueError, match=error):
        GEPA(metric, **kwargs)


def test_metric_must_take_five_arguments():
    with pytest.raises(TypeError, match="five arguments"):
        GEPA(lambda gold, pred: 1.0, max_metric_calls=10)


def test_unknown_keyword_is_rejected_and_dspy_logging_options_are_ignored():
    with pytest.raises(TypeError, match="unexpected"):
        GEPA(metric, max_metric_calls=10, not_an_option=1)
    with pytest.warns(UserWarning, match="use_wandb"):
        GEPA(metric, max_metric_calls=10, use_wandb=True)


def test_bad_datasets_fail_before_any_lm_call():
    task, reflection = make_lms()
    dspy.configure(lm=task)
    optimizer = GEPA(metric, max_metric_calls=50, reflection_lm=reflection)
    with pytest.raises(ValueError, match="trainset must be a non-empty"):
        optimizer.compile(CleanThenShout(), trainset=[])
    with pytest.raises(ValueError, match="valset must be a non-empty"):
        optimizer.compile(CleanThenShout(), trainset=make_examples(), valset=[])
    with pytest.raises(ValueError, match="with_inputs"):
        optimizer.compile(CleanThenShout(), trainset=[dspy.Example(text="a", answer="A")])
    with pytest.raises(TypeError, match="not a dspy.Example"):
        optimizer.compile(CleanThenShout(), trainset=[{"text": "a"}])
    assert task.calls == 0 and reflection.calls == 0


def test_program_without_predictors_is_rejected():
    class Empty(dspy.Module):
        def forward(self, text):
            return dspy.Prediction(answer=text)

    task, reflection = make_lms()
    with pytest.raises(ValueError, match="no predictors"):
        GEPA(metric, max_metric_calls=50, reflection_lm=reflection).compile(Empty(), trainset=make_examples())


def test_budget_too_small_for_seed_evaluation():
    task, reflection = make_lms()
    dspy.configure(lm=task)
    with pytest.raises(ValueError, match="cannot pay for evaluating the seed"):
        GEPA(metric, max_metric_calls=3, reflection_lm=reflection).compile(CleanThenShout(), trainset=make_examples())
    assert task.calls == 0


def test_valset_defaults_to_trainset_and_shares_the_cache():
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()[:6]
    program = GEPA(metric, max_metric_calls=60, reflection_lm=reflection, track_stats=True).compile(CleanThenShout(), trainset=examples)
    results = program.detailed_results
    assert len(results.val_subscores[0]) == 6
    assert results.cache_hits > 0  # parent minibatch runs reuse the full-valset runs


def test_track_best_outputs_gives_each_val_example_its_best_predictions(tmp_path):
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()[:6]
    optimizer = GEPA(metric, max_metric_calls=60, reflection_lm=reflection, track_stats=True,
                     track_best_outputs=True, log_dir=str(tmp_path))
    program = optimizer.compile(CleanThenShout(), trainset=examples, valset=examples)  # inference-time search
    results = program.detailed_results
    best = results.best_outputs_valset
    assert set(best) == set(range(len(examples)))
    for j, pairs in best.items():
        assert [i for i, _ in pairs] == sorted(results.per_val_instance_best_candidates[j])
        for i, prediction in pairs:
            assert isinstance(prediction, dspy.Prediction)
            assert (prediction.answer == examples[j].answer) == (results.val_subscores[i][j] == 1.0)
    assert any(p.answer == examples[j].answer for j, pairs in best.items() for _, p in pairs)
    assert results.counters["best_outputs_left_out"] == 0
    saved = json.loads((tmp_path / "results.json").read_text())["best_outputs_valset"]
    assert saved["0"] == [[i, {"answer": p.answer}] for i, p in best[0]]
    # A second compile on the finished log_dir resumes and rebuilds the same outputs from the stored runs.
    task_calls = task.calls
    again = GEPA(metric, max_metric_calls=60, reflection_lm=reflection, track_stats=True, track_best_outputs=True,
                 log_dir=str(tmp_path)).compile(CleanThenShout(), trainset=examples, valset=examples)
    assert {j: [(i, p.answer) for i, p in pairs] for j, pairs in again.detailed_results.best_outputs_valset.items()} \
        == {j: [(i, p.answer) for i, p in pairs] for j, pairs in best.items()}
    assert task.calls == task_calls  # nothing was run again


def test_track_best_outputs_needs_track_stats_and_is_off_by_default():
    with pytest.raises(ValueError, match="track_best_outputs=True needs track_stats=True"):
        GEPA(metric, max_metric_calls=10, track_best_outputs=True)
    _, program, _, _, _ = run_toy(budget=40)
    assert program.detailed_results.best_outputs_valset is None


def test_candidate_programs_and_best_score_per_val_task_as_in_dspy_gepa():
    student, program, _, _, _ = run_toy()
    results = program.detailed_results
    best = results.candidate_program(results.best_idx)
    assert best(text="zebra?").answer == "ZEBRA"
    assert results.candidate_program(0).clean.signature.instructions == "Copy the text."
    student.clean.signature = student.clean.signature.with_instructions("Changed later.")
    assert results.candidate_program(0).clean.signature.instructions == "Copy the text."
    assert results.highest_score_achieved_per_val_task == {
        j: max(row[j] for row in results.val_subscores) for j in range(len(results.val_subscores[0]))}
    assert set(results.highest_score_achieved_per_val_task.values()) == {1.0}
    restored = DetailedResults(**{k: v for k, v in results.to_dict().items() if k != "best_outputs_valset"})
    with pytest.raises(RuntimeError, match="compile"):
        restored.candidate_program(0)


def _metric_with_objectives(gold, pred, trace=None, pred_name=None, pred_trace=None):
    result = metric(gold, pred, trace, pred_name, pred_trace)
    answer = str(pred.answer)
    return dspy.Prediction(score=result.score, feedback=result.feedback,
                           objective_scores={"correct": float(answer == gold.answer), "short": 1.0 / len(answer)})


def test_objective_scores_are_summarised_per_candidate_as_in_dspy_gepa(tmp_path):
    _, plain, _, _, _ = run_toy(budget=80)
    assert plain.detailed_results.val_aggregate_subscores is None
    assert plain.detailed_results.objective_pareto_front is None and plain.detailed_results.per_objective_best_candidates is None
    _, program, _, _, _ = run_toy(budget=80, metric_fn=_metric_with_objectives, log_dir=str(tmp_path))
    results = program.detailed_results
    assert results.candidates == plain.detailed_results.candidates  # objectives never steer the search
    subs = results.val_aggregate_subscores
    assert len(subs) == len(results.candidates) and all(set(s) == {"correct", "short"} for s in subs)
    words = make_examples()[8:]
    assert subs[0]["correct"] == pytest.approx(sum(results.val_subscores[0][j] == 1.0 for j in range(len(words))) / len(words))
    for name in ("correct", "short"):
        best = max(s[name] for s in subs)
        assert results.objective_pareto_front[name] == best
        assert results.per_objective_best_candidates[name] == {i for i, s in enumerate(subs) if s[name] == best}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["objective_pareto_front"] == results.objective_pareto_front
    assert saved["per_objective_best_candidates"] == {k: sorted(v) for k, v in results.per_objective_best_candidates.items()}
    # The objectives are stored with every run, so a resumed (here: finished) run reports the same.
    _, again, _, _, _ = run_toy(budget=80, metric_fn=_metric_with_objectives, log_dir=str(tmp_path))
    assert again.detailed_results.val_aggregate_subscores == subs


@pytest.mark.parametrize("objectives, message", [
    ("fast", "objective_scores of type str"),
    ({"speed": float("nan")}, "objective_scores\\['speed'\\] = nan"),
    ({"speed": "high"}, "objective_scores\\['speed'\\] = 'high'"),
])
def test_bad_objective_scores_are_a_clear_error_naming_the_example(objectives, message):
    def bad(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return dspy.Prediction(score=1.0, feedback="ok", objective_scores=objectives)

    with pytest.raises(TypeError, match=message + ".*for example"):
        run_toy(budget=40, metric_fn=bad)
