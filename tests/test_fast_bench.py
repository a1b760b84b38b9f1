"""The fast feedback suite (benchmarks/fast): seeded splits, rule-following oracles, rule-naming feedback."""

from __future__ import annotations

import dspy
import pytest

import benchmarks
from benchmarks.compare.cli import build_parser, config_from_args
from benchmarks.fast import TASKS, get
from benchmarks.fast.task import FAST_SIZES, clean_answer

ALL = sorted(TASKS)
NAIVE = {
    "ticket_router": "naive_queue",
    "expense_policy": "naive_decision",
    "name_format": "naive_format",
    "due_date": "naive_date",
}


def _fields(module):
    return module.TASK.input_fields[0], module.TASK.output_field


def _all_examples(splits):
    return [*splits.train, *splits.val, *splits.test]


def _score(module, example, answer):
    _, out = _fields(module)
    return module.metric(example, dspy.Prediction(**{out: answer}))


@pytest.mark.parametrize("task", ALL)
def test_splits_are_deterministic_sized_and_disjoint(task):
    module = get(task)
    first, again, other = module.load_splits(seed=3), module.load_splits(seed=3), module.load_splits(seed=4)
    assert [len(first.train), len(first.val), len(first.test)] == list(FAST_SIZES)
    assert 20 <= FAST_SIZES[0] <= 30 and 20 <= FAST_SIZES[1] <= 30 and FAST_SIZES[2] >= 300
    assert [e.toDict() for e in _all_examples(first)] == [e.toDict() for e in _all_examples(again)]
    assert [e.toDict() for e in first.train + first.val] != [e.toDict() for e in other.train + other.val]
    assert [e.toDict() for e in first.test] == [e.toDict() for e in other.test], "one test split for all seeds"
    field, _ = _fields(module)
    inputs = [e[field] for e in _all_examples(first)]
    assert len(set(inputs)) == len(inputs), "train, val and test must not share an input"
    assert all(set(e.inputs().keys()) == set(module.TASK.input_fields) for e in first.train)


@pytest.mark.parametrize("task", ALL)
def test_inputs_and_answers_are_short(task):
    module = get(task)
    field, out = _fields(module)
    for example in _all_examples(module.load_splits(seed=0)):
        assert len(example[field].split()) <= 40, example[field]  # ~80 tokens at most
        assert len(example[out]) <= 40, example[out]  # ~16 tokens at most


@pytest.mark.parametrize("task", ALL)
def test_rule_following_oracle_scores_one_from_the_text_alone(task):
    module = get(task)
    field, _ = _fields(module)
    splits = module.load_splits(seed=1)
    scores = [_score(module, e, module.solve(e[field])).score for e in _all_examples(splits)]
    assert scores == [1.0] * len(scores)


@pytest.mark.parametrize("task", ALL)
def test_seed_like_answers_score_well_below_one(task):
    module = get(task)
    field, _ = _fields(module)
    naive = getattr(module, NAIVE[task])
    test = module.load_splits(seed=0).test
    mean = sum(_score(module, e, naive(e[field])).score for e in test) / len(test)
    # 0.65: ticket_router's keyword router scores 0.62 on the test split (it was 0.58 before the test split
    # became seed-independent); the 1.5B seed program scores far lower (docs/fast-benchmark.md).
    assert mean < 0.65, f"{task}: answers that ignore the house rules score {mean:.2f}"


@pytest.mark.parametrize("task", ALL)
def test_every_rule_is_exercised_and_some_examples_need_two(task):
    module = get(task)
    examples = module.load_splits(seed=0).test
    used = [set(e.rules.split(",")) for e in examples]
    assert set().union(*used) == {r.id for r in module.TASK.rules}
    assert sum(len(u) >= 2 for u in used) >= 20


@pytest.mark.parametrize("task", ALL)
def test_wrong_answers_get_feedback_naming_a_rule_of_the_task(task):
    module = get(task)
    field, _ = _fields(module)
    naive = getattr(module, NAIVE[task])
    texts = {r.text for r in module.TASK.rules}
    wrong = 0
    for example in module.load_splits(seed=0).val:
        result = _score(module, example, naive(example[field]))
        if result.score == 0.0:
            wrong += 1
            assert "Wrong: expected" in result.feedback
            assert any(text in result.feedback for text in texts), result.feedback
    assert wrong > 0


def _example(module, **fields):
    out = module.TASK.output_field
    inputs = [f for f in fields if f not in (out, "rules")]
    return dspy.Example(**fields).with_inputs(*inputs)


def test_router_feedback_names_the_exception():
    module = get("ticket_router")
    example = _example(module, ticket="Hi, there is a charge of 49 EUR I never made.", queue="trust-safety",
                       rules="fraud")
    result = _score(module, example, "billing")
    assert result.score == 0.0 and module.TASK.rule("fraud").text in result.feedback
    assert _score(module, example, " Trust-Safety ").score == 1.0  # labels ignore case and outer spaces


def test_router_enterprise_outage_needs_two_rules():
    module = get("ticket_router")
    example = _example(module, ticket="[ENT] Your website has been down for an hour.", queue="priority",
                       rules="outage,enterprise")
    assert module.solve(example.ticket) == "priority"
    feedback = _score(module, example, "outage").feedback
    assert module.TASK.rule("enterprise").text in feedback and module.TASK.rule("outage").text in feedback


def test_expense_edges_and_precedence():
    module = get("expense_policy")
    assert module.solve("Team lunch, 150 EUR, receipt attached") == "approve"
    assert module.solve("Team lunch, 151 EUR, receipt attached") == "review"
    assert module.solve("Client dinner, 390 EUR, with receipt") == "approve"
    assert module.solve("Client dinner, 390 EUR, no receipt") == "review"
    assert module.solve("Parking at the station, 25 EUR, no receipt") == "approve"
    assert module.solve("Wine with a client dinner, 20 EUR, with receipt") == "reject"


@pytest.mark.parametrize(("answer", "rule"), [
    ("Anna M. van der Berg", "order"),
    ("BERG, Anna M. (Dr.)", "particle"),
    ("VAN DER BERG, Anna Maria (Dr.)", "middle"),
    ("VAN DER BERG, Anna M.", "title"),
])
def test_name_feedback_names_the_broken_rule(answer, rule):
    module = get("name_format")
    example = _example(module, name="dr. anna maria van der berg", directory_name="VAN DER BERG, Anna M. (Dr.)",
                       rules="order,particle,middle,title")
    assert module.solve(example.name) == example.directory_name
    result = _score(module, example, answer)
    assert result.score == 0.0
    assert f"[{rule}]" in result.feedback, result.feedback


@pytest.mark.parametrize(("answer", "rule"), [
    ("2024-04-03", "format"),
    ("01-MAR-2024", "due"),
    ("04-MAR-2024", "slash"),
    ("03-APR-1924", "short_year"),
])
def test_due_date_feedback_names_the_broken_rule(answer, rule):
    module = get("due_date")
    example = _example(module, message="Invoice INV-12 issued 1 March 2024; pay by 03/04/24.",
                       due_date="03-APR-2024", rules="due,format,slash,short_year")
    assert module.solve(example.message) == "03-APR-2024"
    pred = dspy.Prediction(date_text="03/04/24", due_date=answer)
    result = module.metric(example, pred)
    assert result.score == 0.0
    assert f"[{rule}]" in result.feedback, result.feedback
    assert "'03/04/24'" in result.feedback  # the first step's output is quoted


def test_due_date_is_a_two_predictor_program():
    names = [name for name, _ in get("due_date").make_program().named_predictors()]
    assert names == ["extract", "normalise"]


@pytest.mark.parametrize("task", ALL)
def test_seed_instructions_state_no_rule(task):
    module = get(task)
    instructions = " ".join(p.signature.instructions for _, p in module.make_program().named_predictors())
    for rule in module.TASK.rules:
        assert rule.text not in instructions
    for marker in ("trust-safety, not", "150", "DD-MMM", "capital", "day/month", "parenthes"):
        assert marker not in instructions


def test_clean_answer_keeps_abbreviations():
    assert clean_answer(" 'approve.' ") == "approve"
    assert clean_answer("GARCIA, Anna M.") == "GARCIA, Anna M."
    assert clean_answer("BERG, Anna (Dr.)") == "BERG, Anna (Dr.)"
    assert clean_answer(None) == ""


def test_registered_with_the_comparison_harness():
    assert benchmarks.SUITES["fast"] == tuple(f"fast_{t}" for t in TASKS)
    assert benchmarks.SUITES["all"] == ("hotpotqa", "hover", "ifbench", "pupa")
    args = build_parser().parse_args(["--benchmark", "fast", "--scale", "fast", "--out", "x", "--seeds", "0,1,2"])
    config = config_from_args(args)
    assert config.benchmarks == list(benchmarks.SUITES["fast"])
    assert config.sizes == (25, 25, 300)
    assert (config.mipro.max_bootstrapped_demos, config.mipro.max_labeled_demos) == (4, 4)
    module = benchmarks.get("fast_due_date")
    assert len(module.load_splits(scale="small", seed=0, sizes=(2, 3, 4)).test) == 4


def _record(task, optimizer, seed, scores, curve=(), digest="d"):
    return {"benchmark": f"fast_{task}", "optimizer": optimizer, "seed": seed,
            "test": {"mean": sum(scores) / len(scores), "scores": list(scores)}, "val": {"mean": 0.5},
            "split_digests": {"test": f"{digest}{seed}"}, "curve": [list(p) for p in curve], "metric_calls": 100,
            "prompts": {"instruction_tokens": 12, "demos": 0}, "wall_seconds": {"total": 60.0, "optimize": 50.0},
            "lms": {"task": {"model": "t"}, "reflection": {"model": "r"}}, "budget": 100, "finished_at": "x"}


def test_report_gain_interval_signs_and_verdicts():
    from benchmarks.fast.report import gain

    records = []
    for seed in range(3):
        records.append(_record("a", "baseline", seed, [0, 1] * 50))
        records.append(_record("a", "gepa", seed, [1, 1] * 50))  # +0.5 on every seed
        records.append(_record("a", "dspy_gepa", seed, [1, 1] * 50 if seed else [0, 1] * 50))
    better = gain(records, "gepa", "baseline", rng_seed=1)
    assert better.gain == 0.5 and better.low > 0.3 and better.verdict == "better" and better.signs == "+++"
    same = gain(records, "gepa", "gepa")
    assert same is not None and same.verdict == "no difference"
    mixed = gain(records, "gepa", "dspy_gepa")
    assert mixed.signs == "+00" and mixed.low == 0.0 and mixed.verdict == "within noise"


def test_report_pools_tasks_by_task_mean_and_skips_unpaired_seeds():
    from benchmarks.fast.report import gain

    records = [_record("a", "baseline", 0, [0] * 10), _record("a", "gepa", 0, [1] * 10),
               _record("b", "baseline", 0, [0] * 300), _record("b", "gepa", 0, [0] * 300),
               _record("b", "baseline", 1, [0] * 300), _record("b", "gepa", 1, [1] * 300, digest="other")]
    pooled = gain(records, "gepa", "baseline")
    assert pooled.gain == 0.5  # each task weighs the same, whatever its number of pairs
    assert pooled.unpaired == ("fast_b/seed1",)


def test_one_baseline_run_pairs_with_every_seed_on_the_shared_test_split():
    from benchmarks.fast.report import gain

    shared = {"split_digests": {"test": "same"}}
    records = [{**_record("a", "baseline", 0, [0, 1] * 50), **shared}]
    records += [{**_record("a", "gepa", seed, [1, 1] * 50), **shared} for seed in range(3)]
    records.append(_record("a", "gepa", 3, [1, 1] * 50, digest="other"))  # another test split: not paired
    paired = gain(records, "gepa", "baseline")
    assert paired.signs == "+++" and paired.gain == 0.5
    assert gain(records, "baseline", "gepa") is not None  # the seed-0 gepa run pairs with the baseline
    assert gain(records, "dspy_gepa", "gepa") is None  # only the baseline is seed-free
    # A baseline of the same seed on other test examples (an old per-seed split) gives way to a pairable one, and a
    # run no baseline pairs with is reported, not dropped.
    records.append(_record("a", "baseline", 1, [0, 1] * 50, digest="old"))
    assert gain(records, "gepa", "baseline").signs == "+++"
    assert gain(records, "gepa", "baseline").unpaired == ("fast_a/seed3",)


def test_calls_to_reach_ninety_percent_of_final_val():
    from benchmarks.fast.report import calls_to_reach

    assert calls_to_reach(_record("a", "gepa", 0, [1], curve=[(25, 0.4), (60, 0.82), (90, 0.85), (140, 0.9)])) == 60
    assert calls_to_reach(_record("a", "baseline", 0, [1])) is None


def test_cost_table_counts_reflection_per_accepted_child_and_the_paired_wall_time_ratio():
    from benchmarks.fast.report import cost_frame, cost_markdown, wall_time_ratio

    def run(optimizer, seed, seconds, tokens, candidates, counters=None):
        r = _record("a", optimizer, seed, [1])
        r.update(wall_seconds={"optimize": seconds, "total": seconds + 10},
                 lm_usage={"optimization": {"reflection": {"calls": 3, "completion_tokens": tokens}}},
                 optimizer_details={"candidates": candidates, "counters": counters or {}})
        return r

    records = [run("gepa", 0, 50.0, 600, 3, {"reflection_rejected_truncated": 2, "reflection_rejected_copy": 0}),
               run("dspy_gepa", 0, 100.0, 300, 2),
               run("gepa", 1, 100.0, 0, 1, {"reflection_rejected_truncated": 1, "reflection_rejected_unchanged": 1}),
               run("dspy_gepa", 1, 200.0, 90, 1), _record("a", "baseline", 0, [0])]
    for r, calls in zip(records, (50, 100, 100, 100)):
        r["metric_calls"] = calls
    costs = cost_frame(records)
    assert sorted(costs.optimizer) == ["dspy_gepa", "dspy_gepa", "gepa", "gepa"]  # the baseline reflects nothing
    assert costs.set_index(["optimizer", "seed"]).loc[("gepa", 0), "rejections"] == {"truncated": 2}
    mean, low, high, pairs = wall_time_ratio(costs, "gepa")
    assert pairs == 2 and abs(mean - 0.5) < 1e-9 and low <= mean <= high
    per_call = wall_time_ratio(costs, "gepa", value="seconds_per_call")  # seed 0: half the time for half the calls
    assert abs(per_call[0] - 0.5 ** 0.5) < 1e-9
    text = "\n".join(cost_markdown(records))
    assert "| a | GEPA (ours) | 2 | 2.5 | 150 | 6 | 600 | 2 | 300 | truncated 3, unchanged 1 |" in text
    assert "| a | dspy.GEPA | 2 | 5.0 | 200 | 6 | 390 | 1 | 390 | not counted |" in text
    assert "0.50x" in text and "per metric call spent: 0.71x" in text
    assert "over the same whole pairs: GEPA (ours) 300 (600 for 2), dspy.GEPA 390 (390 for 1)" in text
    assert wall_time_ratio(costs[costs.seed == 0], "gepa") is None  # one pair gives no interval
    records[3].update(attempt=2, resumed_from_checkpoint=True)  # dspy.GEPA seed 1 resumed: only its last attempt
    text = "\n".join(cost_markdown(records))
    assert "Resumed runs (a dspy.GEPA seed 1)" in text and "0.50x" not in text  # one whole pair: no ratio


def test_policy_table_compares_each_validation_policy_with_the_default_loop_of_its_cell():
    from benchmarks.fast.report import policy_markdown

    def run(optimizer, seed, val, test, curve, counters=None):
        r = _record("a", optimizer, seed, [test], curve=curve)
        r.update(val={"mean": val}, optimizer_details={"counters": counters or {}})
        return r

    records = [run("gepa", 0, 0.8, 0.6, [(25, 0.5), (80, 0.8)]), run("gepa", 1, 0.7, 0.6, [(25, 0.4), (60, 0.7)]),
               run("gepa_racing", 0, 0.8, 0.7, [(25, 0.5), (50, 0.8)],
                   {"reflection_raced_out": 2, "val_runs_saved_by_racing": 30}),
               run("gepa_racing", 1, 0.6, 0.6, [(25, 0.4), (70, 0.6)]),  # never reached the default's 0.7
               run("gepa_heldout", 0, 0.7, 0.65, [(25, 0.5), (60, 0.9)]),
               run("gepa_heldout", 2, 0.7, 0.65, [(25, 0.5)])]  # no default run of seed 2: not a cell
    text = "\n".join(policy_markdown(records))
    assert ("| GEPA racing (ours) | 2 | +5.0 (+15.0) | 50 (80; 0.62x) over 1 cells; never reached in 1 of 2 cells "
            "| 2 | 30 |") in text
    assert "| GEPA held-out (ours) | 1 | +5.0 (+20.0) | – (searches on part of the valset) | 0 | 0 |" in text
    assert policy_markdown([r for r in records if r["optimizer"] == "gepa"]) == []
    never = "\n".join(policy_markdown([records[1], records[3]]))  # racing's only cell never reached it
    assert "| GEPA racing (ours) | 1 | +0.0 (+10.0) | never reached in 1 of 1 cells |" in never


def test_report_writes_table(tmp_path):
    import json

    from benchmarks.fast.report import TABLE, write_report

    for r in (_record("a", "baseline", 0, [0, 1]), _record("a", "gepa", 0, [1, 1], curve=[(10, 0.5)]),
              _record("a", "dspy_gepa", 0, [1, 0], curve=[(10, 0.5)])):
        folder = tmp_path / "runs" / r["benchmark"] / r["optimizer"] / f"seed{r['seed']}"
        folder.mkdir(parents=True)
        r.update(sizes={"train": 1, "val": 1, "test": 2})
        if r["optimizer"] == "gepa":
            r["test"]["source"] = "reused: the identical program of baseline/seed0"
        if r["optimizer"] == "dspy_gepa":
            r["attempt"] = 2
        if r["optimizer"] == "baseline":  # its test scoring kept examples an interrupted attempt had scored
            r["test"]["carried_over"] = 1
        (folder / "record.json").write_text(json.dumps(r))
    paths = write_report(tmp_path / "runs", tmp_path / "out")
    text = paths["table"].read_text()
    assert paths["table"].name == TABLE
    assert "Test gain over Baseline" in text and "Test gain over dspy.GEPA" in text and "signs" in text
    assert "took its test scores: a GEPA (ours) seed 0." in text
    assert "Resumed runs count only their last attempt's minutes: a Baseline seed 0, a dspy.GEPA seed 0." in text


def test_fast_task_runs_through_the_comparison_harness_and_report(tmp_path):
    from benchmarks.compare import CompareConfig, run_comparison
    from benchmarks.fast import expense_policy
    from benchmarks.fast.report import fast_records, table_markdown
    from gepa_dspy.testing import (ChatPromptError, ScriptedLM, parse_input_fields, parse_instructions,
                                   parse_requested_output_fields, reply_for_prompt)

    proposal = "Decide the claim. House rules: alcohol is rejected; over 150 EUR is reviewed."

    def task(messages, model):
        claim = parse_input_fields(messages).get("claim", "")
        told = "House rules" in parse_instructions(messages)
        return reply_for_prompt(messages, {"decision": expense_policy.solve(claim) if told else "approve"})

    def reflection(messages, model):
        try:
            parse_requested_output_fields(messages)
        except ChatPromptError:
            return f"```\n{proposal}\n```"
        return reply_for_prompt(messages, {}, default=proposal)

    def factory(role):
        return ScriptedLM(reflection if role == "reflection" else task, model=f"scripted-{role}")

    config = CompareConfig(benchmarks=["fast_expense_policy"], optimizers=["baseline", "gepa"], seeds=[0],
                           out_dir=tmp_path, scale="fast", sizes=(6, 6, 20), budget=40, num_threads=1)
    summary = run_comparison(config, factory=factory)
    assert not summary.failed and len(summary.finished) == 2
    records = fast_records(tmp_path)
    by_opt = {r["optimizer"]: r for r in records}
    assert by_opt["gepa"]["test"]["mean"] == 1.0 > by_opt["baseline"]["test"]["mean"]
    assert "GEPA (ours)" in table_markdown(records)


def test_reflection_replies_records_each_variant_once_and_resumes(tmp_path, capsys):
    import json

    from benchmarks.fast import expense_policy
    from benchmarks.fast.reflection_replies import main
    from gepa_dspy.testing import (ChatPromptError, ScriptedOpenAIServer, parse_input_fields, parse_instructions,
                                   parse_requested_output_fields, reply_for_prompt)

    rule = "Decide the claim. House rules: alcohol is rejected; over 150 EUR is reviewed."
    asked: list[str] = []

    def responder(messages, model):
        try:
            if "new_instruction" in parse_requested_output_fields(messages):  # dspy.GEPA's InstructionProposer
                return reply_for_prompt(messages, {"new_instruction": rule})
            told = "House rules" in parse_instructions(messages)
        except ChatPromptError:  # a plain-text reflection prompt (ours or the gepa package's signature)
            asked.append(messages[-1]["content"])
            return f"```\n{rule}\n```"
        claim = parse_input_fields(messages).get("claim", "")
        return reply_for_prompt(messages, {"decision": expense_policy.solve(claim) if told else "approve"})

    out = tmp_path / "replies.jsonl"
    variants = ["ours@1024", "ours@1024/40", "dspy@1024", "gepa-signature@1024"]
    with ScriptedOpenAIServer(responder) as server:
        argv = ["--url", server.url, "--tasks", "expense_policy", "--minibatches", "2", "--variants",
                ",".join(variants), "--out", str(out), "--num-threads", "1"]
        assert main(argv) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [(r["minibatch"], r["variant"]) for r in rows] == [(b, v) for b in (0, 1) for v in variants]
        assert all(r["reflection_calls"] == 1 and r["reflection_tokens"] > 0 and r["text"] == rule for r in rows), rows
        assert all(r["child_sum"] >= r["parent_sum"] for r in rows)
        assert len({r["records_digest"] for r in rows if r["minibatch"] == 0}) == 1 and "code" in rows[0]
        assert main(argv) == 0  # everything is there: nothing runs again
    assert len(out.read_text().splitlines()) == 8
    assert sum("at most 40 words" in prompt for prompt in asked) == 2  # ours@1024/40, once per minibatch
    printed = capsys.readouterr().out
    assert "tokens_per_win" in printed and "2 minibatches with a row of every variant" in printed


def test_reflection_replies_summary_keeps_only_minibatches_every_variant_has_on_the_same_records():
    import pandas as pd

    from benchmarks.fast.reflection_replies import comparable_cells

    def row(minibatch, variant, digest):
        return {"task": "t", "minibatch": minibatch, "variant": variant, "records_digest": digest}

    frame = pd.DataFrame([row(0, "ours", "a"), row(0, "dspy", "a"),   # kept
                          row(1, "ours", "b"), row(1, "dspy", "c"),   # parent re-run gave other records
                          row(2, "ours", "d"),                        # dspy missing
                          row(3, "ours", None), row(3, "dspy", "e")])  # a row from before digests: kept
    kept, left_out = comparable_cells(frame)
    assert sorted(set(kept.minibatch)) == [0, 3] and left_out == 2


def test_the_grid_script_launches_compare_commands_the_harness_accepts(tmp_path):
    """benchmarks/fast/run_grid.sh with stub curl and python: every compare command it starts parses."""
    import os
    import shlex
    import subprocess
    from pathlib import Path

    stubs = tmp_path / "bin"
    stubs.mkdir()
    ran = tmp_path / "ran.txt"
    for name, body in {"curl": "exit 0", "python": f'line=$(printf "%q " "$@"); echo "$line" >> {ran}'}.items():
        (stubs / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (stubs / name).chmod(0o755)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fast" / "run_grid.sh"
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "OUT": str(tmp_path / "grid"),
           "STEPS": "baseline@0 gepa,dspy_gepa@1", "IMPORT_FROM": ""}
    subprocess.run(["bash", str(script)], check=True, env=env, capture_output=True, timeout=60)
    commands = [shlex.split(line) for line in ran.read_text().splitlines()]
    compare = [c[2:] for c in commands if c[:2] == ["-m", "benchmarks.compare"]]
    configs = [config_from_args(build_parser().parse_args(c)) for c in compare]
    assert [(c.optimizers, c.seeds) for c in configs] == [(["baseline"], [0]), (["gepa", "dspy_gepa"], [1])]
    assert all(c.dspy_straggler_timeout == 0 and c.attempts == 2 and c.budget == 100 for c in configs)
    assert commands[-1][:2] == ["-m", "benchmarks.fast.report"]
