"""The comparison harness end to end on a toy benchmark with scripted LMs (no real LM, a few seconds)."""

from __future__ import annotations

import io
import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import dspy
import pandas as pd
import pytest

import benchmarks
from benchmarks.compare import (
    CompareConfig,
    failed_runs,
    load_records,
    main,
    plot_prompt_lengths,
    plot_score_vs_calls,
    report,
    results_frame,
    run_comparison,
    table_markdown,
)
from benchmarks.compare.optimizers import CountingMetric, ProgramRunCounter, mipro_curve
from benchmarks.compare.report import export_runs
from benchmarks.compare.run import LMUsageMeter, RunKey, RunLMs
from benchmarks.compare.slow_lm_workarounds import straggler_timeout
from gepa_dspy.testing import ScriptedLM, ScriptedOpenAIServer, parse_input_fields

from . import compare_toy


@pytest.fixture(autouse=True)
def toy_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the toy benchmark for this test only."""
    monkeypatch.setitem(benchmarks.BENCHMARKS, "toy", "tests.compare_toy")


def _config(out: Path, optimizers: list[str], **overrides) -> CompareConfig:
    settings = dict(benchmarks=["toy"], optimizers=optimizers, seeds=[0], out_dir=out, scale="tiny",
                    sizes=(6, 6, 6), num_threads=1)
    settings.update(overrides)
    return CompareConfig(**settings)


def _record_path(out: Path, seed: int = 0, optimizer: str = "baseline") -> Path:
    return out / "toy" / optimizer / f"seed{seed}" / "record.json"


def _record(out: Path, optimizer: str, seed: int = 0) -> dict:
    return json.loads(_record_path(out, seed, optimizer).read_text())


def _cells(table: str, row: str) -> list[str]:
    """The cells after the label of the first Markdown table row labelled ``row``."""
    for line in table.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if parts and parts[0] == row:
            return parts[1:]
    raise AssertionError(f"no row {row!r} in\n{table}")


@pytest.mark.slow
def test_all_optimizers_end_to_end_with_budget_matching_and_report(tmp_path: Path) -> None:
    optimizers = ["baseline", "mipro", "dspy_gepa", "gepa", "gepa_merge"]
    # The GEPA variants all return the same program: each is scored here (reuse has its own test below).
    config = _config(tmp_path, optimizers, reuse_identical_test_scores=False)
    summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert not summary.failed and len(summary.finished) == 5

    baseline, mipro = _record(tmp_path, "baseline"), _record(tmp_path, "mipro")
    assert baseline["metric_calls"] == 0 and baseline["test"]["mean"] == 0.0 and baseline["budget"] is None
    # MIPROv2's metric calls are its program runs; in the toy every run reaches the metric.
    assert mipro["metric_calls"] > 0 and mipro["metric_calls"] == mipro["metric_calls_counted_this_attempt"]
    assert mipro["program_runs"] == {"runs": mipro["metric_calls"], "failed": 0}
    for name in ("dspy_gepa", "gepa", "gepa_merge"):
        record = _record(tmp_path, name)
        assert record["budget"] == mipro["metric_calls"] and record["budget_source"] == "mipro"
        assert record["test"]["mean"] == 1.0 and len(record["test"]["scores"]) == 6
        assert record["prompts"]["instructions"] == {"say": compare_toy.PROPOSAL}
        assert record["curve"] and record["curve"][-1][1] == 1.0
        assert record["lm_usage"]["optimization"]["reflection"]["calls"] >= 1
        assert (tmp_path / "toy" / name / "seed0" / "program.json").exists()
    ours = _record(tmp_path, "gepa")
    assert ours["metric_calls"] <= ours["budget"]  # our GEPA never overspends
    assert ours["optimizer_details"]["counters"]["reflection_calls"] >= 1  # counted fallbacks reach the record
    usage = ours["lm_usage"]["optimization"]["task"]
    assert usage["calls"] == ours["metric_calls"] and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert ours["lm_usage"]["evaluation"]["task"]["calls"] == 6  # val came from the optimizer, test from the runner
    assert ours["val"]["source"] == "optimizer" and mipro["val"]["source"] == "runner"
    assert set(ours["versions"]) >= {"dspy", "gepa-dspy", "python", "gepa-dspy-commit"}
    assert ours["prompts"]["tokenizer"] == "litellm.token_counter" and ours["prompts"]["instruction_tokens"] > 0

    paths = report(tmp_path)
    assert {p.name for p in paths.values()} == {"results.csv", "table.md", "score_vs_calls.png", "prompt_lengths.png"}
    frame = pd.read_csv(paths["csv"])
    assert len(frame) == 5 and {"test_score", "metric_calls", "reflection_lm_calls", "instruction_tokens"} <= set(frame)
    table = paths["table"].read_text()
    assert _cells(table, "GEPA (ours)")[:3] == ["100.0", "100.0", "+100.0"]
    assert _cells(table, "Baseline")[:3] == ["0.0", "0.0", "–"]
    assert "+100.0 [+100.0, +100.0] better" in table  # paired with the baseline's examples
    assert len({json.dumps(_record(tmp_path, name)["split_digests"]) for name in ("baseline", "mipro", "gepa")}) == 1
    assert all(p.stat().st_size > 1000 for p in paths.values() if p.suffix == ".png")

    exported = tmp_path.parent / f"{tmp_path.name}-export"
    assert main(["--out", str(tmp_path), "--export", str(exported)]) == 0
    assert (exported / "toy" / "gepa" / "seed0" / "record.json").read_text() == (tmp_path / "toy" / "gepa" / "seed0" / "record.json").read_text()
    assert (exported / "toy" / "gepa" / "seed0" / "program.json").exists()
    assert not (exported / "toy" / "gepa" / "seed0" / "optimizer_log").exists()  # checkpoints stay behind
    assert (tmp_path / "toy" / "gepa" / "seed0" / "optimizer_log").exists()
    assert (exported / "table.md").read_text() == table


def test_an_identical_program_takes_the_test_scores_another_run_already_has(tmp_path: Path) -> None:
    # split_seed=0: every seed draws the same splits, and the baseline's program is the same for every seed.
    run_comparison(_config(tmp_path, ["baseline"], seeds=[0, 1], split_seed=0), factory=compare_toy.lm_factory)
    first, second = _record(tmp_path, "baseline", 0), _record(tmp_path, "baseline", 1)
    assert first["test"]["source"] == "runner" and first["lm_usage"]["evaluation"]["task"]["calls"] == 12
    assert second["test"]["source"] == "reused: the identical program of baseline/seed0"
    assert second["test"]["scores"] == first["test"]["scores"]
    assert second["lm_usage"]["evaluation"]["task"]["calls"] == 6  # val only
    assert second["config"]["reuse_identical_test_scores"] is True

    # Another test split, or reuse turned off: scored again.
    run_comparison(_config(tmp_path, ["baseline"], seeds=[2]), factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 2)["test"]["source"] == "runner"
    run_comparison(_config(tmp_path, ["baseline"], seeds=[3], split_seed=0, reuse_identical_test_scores=False),
                   factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 3)["test"]["source"] == "runner"
    assert main(["--out", str(tmp_path), "--benchmark", "toy", "--status", "--rescore-identical-programs"]) == 0


def test_an_identical_program_under_other_metric_settings_is_scored_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run_comparison(_config(tmp_path, ["baseline"], split_seed=0), factory=compare_toy.lm_factory)
    monkeypatch.setattr(compare_toy, "make_metric", lambda judge_lm=None: compare_toy.FlaggingMetric(), raising=False)
    run_comparison(_config(tmp_path, ["baseline"], seeds=[1], split_seed=0), factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 1)["test"]["source"] == "runner"  # a judge's settings can change scores


def test_test_scores_are_reused_only_from_a_clean_scoring_under_the_same_program_settings(tmp_path: Path) -> None:
    run_comparison(_config(tmp_path, ["baseline"], split_seed=0), factory=compare_toy.lm_factory)
    source = tmp_path / "toy" / "baseline" / "seed0" / "record.json"
    record = json.loads(source.read_text())

    record["test"]["errors"] = 2  # e.g. an outage during its scoring: its failed examples scored 0
    source.write_text(json.dumps(record))
    run_comparison(_config(tmp_path, ["baseline"], seeds=[1], split_seed=0), factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 1)["test"]["source"] == "runner"

    # A per-module max_tokens is not in the saved program: another setting is another program.
    run_comparison(_config(tmp_path, ["baseline"], seeds=[2], split_seed=0, program_max_tokens=64),
                   factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 2)["test"]["source"] == "runner"

    # Scored under another DSPy version: the program's prompts could differ.
    other = json.loads(_record_path(tmp_path, 1).read_text())
    other["versions"]["dspy"] = "2.6.0"
    _record_path(tmp_path, 1).write_text(json.dumps(other))
    run_comparison(_config(tmp_path, ["baseline"], seeds=[4], split_seed=0), factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline", 4)["test"]["source"] == "runner"

    # An unreadable record (half written, or of another shape) is skipped and logged, not a failed run; seed 4's
    # clean scoring is used instead.
    (tmp_path / "toy" / "baseline" / "seed0" / "record.json").write_text("{ half written")
    _record_path(tmp_path, 1).write_text("[]")
    summary = run_comparison(_config(tmp_path, ["baseline"], seeds=[3], split_seed=0), factory=compare_toy.lm_factory)
    assert not summary.failed
    assert _record(tmp_path, "baseline", 3)["test"]["source"] == "reused: the identical program of baseline/seed4"


def test_the_same_served_model_behind_another_port_is_the_same_task_lm() -> None:
    from benchmarks.compare.run import _same_task_lm

    def lms(port, served, model=None):  # the records' shape for the embedded server: local:URL
        block = {"task": {"model": model or f"local:http://127.0.0.1:{port}", "api_base": None, "temperature": 0.0,
                          "max_tokens": 128}}
        return {**block, "models": {"task": served}} if served else block

    assert _same_task_lm(lms(8093, "qwen-1.5b.gguf"), lms(8095, "qwen-1.5b.gguf"))
    assert not _same_task_lm(lms(8093, "qwen-1.5b.gguf"), lms(8095, "qwen-0.5b.gguf"))
    assert not _same_task_lm(lms(8093, None), lms(8095, None))  # nothing says what was served: the endpoint must match
    assert _same_task_lm(lms(8093, None), lms(8093, None))
    # Any other LM: the model string must match too, whatever the server calls its model.
    assert not _same_task_lm(lms(0, "gpt", "openai/gpt-4o-mini"), lms(0, "gpt", "openai/gpt-4o"))
    assert _same_task_lm(lms(0, "gpt", "openai/gpt-4o-mini"), lms(0, "gpt", "openai/gpt-4o-mini"))


def test_validation_policy_variants_run_with_the_budget_and_say_where_val_came_from(tmp_path: Path) -> None:
    config = _config(tmp_path, ["gepa", "gepa_racing", "gepa_heldout"], sizes=(6, 8, 6), budget=40)
    summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert not summary.failed and len(summary.finished) == 3
    for name in ("gepa", "gepa_racing", "gepa_heldout"):
        record = _record(tmp_path, name)
        assert record["budget"] == 40 and record["metric_calls"] <= 40 and record["test"]["mean"] == 1.0
    assert _record(tmp_path, "gepa_racing")["val"]["source"] == "optimizer"
    # Held-out selection searched on 6 of the 8 validation examples: the runner scored the whole valset.
    held_out = _record(tmp_path, "gepa_heldout")
    assert held_out["val"]["source"] == "runner" and held_out["val"]["n"] == 8


def test_second_call_skips_finished_runs(tmp_path: Path) -> None:
    config = _config(tmp_path, ["baseline", "gepa"])
    run_comparison(config, factory=compare_toy.lm_factory)
    before = (tmp_path / "toy" / "gepa" / "seed0" / "record.json").read_text()

    def refuse(role: str) -> ScriptedLM:
        raise AssertionError("a finished run must not build LMs")

    summary = run_comparison(config, factory=refuse)
    assert summary.skipped == [RunKey("toy", "baseline", 0), RunKey("toy", "gepa", 0)] and not summary.finished
    assert (tmp_path / "toy" / "gepa" / "seed0" / "record.json").read_text() == before


class Crash(BaseException):
    """Stands in for the process being killed mid-run (not an Exception: nothing catches it)."""


def test_crashed_run_restarts_and_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    calls = {"n": 0}

    def crashing_factory(role: str) -> ScriptedLM:
        if role == "reflection":
            return ScriptedLM(compare_toy.reflection_responder, model="scripted-reflection")

        def responder(messages, model):
            calls["n"] += 1
            if calls["n"] > 8:  # after the seed candidate's validation run and one minibatch
                raise Crash()
            return compare_toy.task_responder(messages, model)

        return ScriptedLM(responder, model="scripted-task")

    config = _config(tmp_path, ["gepa"], budget=40)
    with pytest.raises(Crash):
        run_comparison(config, factory=crashing_factory)
    folder = tmp_path / "toy" / "gepa" / "seed0"
    assert not (folder / "record.json").exists() and any((folder / "optimizer_log").iterdir())

    summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert summary.finished == [RunKey("toy", "gepa", 0)]
    record = _record(tmp_path, "gepa")
    assert record["attempt"] == 1 and record["resumed_from_checkpoint"] is True
    assert record["test"]["mean"] == 1.0
    assert record["metric_calls"] > record["metric_calls_counted_this_attempt"]  # earlier calls were kept


def test_a_run_killed_while_scoring_keeps_its_optimization_and_the_examples_already_scored(tmp_path: Path) -> None:
    folder = tmp_path / "toy" / "gepa" / "seed0"
    task_calls = {"after_optimizing": 0}

    def killed_while_scoring_test(role: str) -> ScriptedLM:
        if role == "reflection":
            return ScriptedLM(compare_toy.reflection_responder, model="scripted-reflection")

        def responder(messages, model):
            if (folder / "optimized.json").exists():  # the optimizer finished; val came from it: this is test
                task_calls["after_optimizing"] += 1
                if task_calls["after_optimizing"] > 4:
                    raise Crash()
            return compare_toy.task_responder(messages, model)

        return ScriptedLM(responder, model="scripted-task")

    config = _config(tmp_path, ["gepa"], budget=30, sizes=(6, 6, 10))
    with pytest.raises(Crash):
        run_comparison(config, factory=killed_while_scoring_test)
    assert not (folder / "record.json").exists() and (folder / "program.json").exists()
    journal = (folder / "scores_test.jsonl").read_text().splitlines()
    assert len(journal) == 1 + 4  # the header, then the four examples scored before the kill
    optimized = json.loads((folder / "optimized.json").read_text())

    def reflect(messages, model):
        raise AssertionError("the finished optimization ran again")

    def no_optimizing(role: str) -> ScriptedLM:
        if role == "reflection":
            return ScriptedLM(reflect, model="scripted-reflection")
        return compare_toy.lm_factory(role)

    summary = run_comparison(config, factory=no_optimizing)
    assert summary.finished == [RunKey("toy", "gepa", 0)]
    record = _record(tmp_path, "gepa")
    assert record["optimization_restored"] is True
    assert record["metric_calls"] == optimized["metric_calls"] and record["curve"] == optimized["curve"]
    assert record["wall_seconds"]["optimize"] == optimized["optimize_seconds"]
    assert record["test"]["carried_over"] == 4 and record["test"]["errors"] == 0
    assert record["lm_usage"]["evaluation"]["task"]["calls"] == 10 - 4  # only the rest was scored
    assert record["test"]["scores"] == [1.0] * 10 and record["prompts"]["instructions"]["say"] == compare_toy.PROPOSAL


def test_a_score_journal_skips_a_torn_line_and_restarts_for_another_program(tmp_path: Path) -> None:
    from benchmarks.compare.run import ScoreJournal

    path = tmp_path / "scores_test.jsonl"
    journal = ScoreJournal(path, program="p1", split="s")
    assert journal.scored() == {}
    journal.add(0, 1.0)
    journal.add(2, 0.5)
    with path.open("a") as f:
        f.write('{"i": 3, "sco')  # the kill came mid-line
    assert ScoreJournal(path, program="p1", split="s").scored() == {0: 1.0, 2: 0.5}
    again = ScoreJournal(path, program="p1", split="s")
    again.scored()
    again.add(3, 0.0)  # appended on a line of its own
    again.add(3, 1.0)  # DSPy's straggler re-run of the same example: the first score stays
    again.add(0, 0.0)
    assert ScoreJournal(path, program="p1", split="s").scored() == {0: 1.0, 2: 0.5, 3: 0.0}
    assert ScoreJournal(path, program="p1", split="s", task_lm="other").scored() == {}  # scored under another LM
    assert ScoreJournal(path, program="p1", split="s").scored() == {}


@pytest.mark.parametrize("change", [{"budget": 40}, {"sizes": (6, 4, 6)}, {"reflection_minibatch_size": 2}])
def test_a_kept_optimization_made_under_other_settings_is_not_reused(tmp_path: Path, change: dict) -> None:
    run_comparison(_config(tmp_path, ["gepa"], budget=30), factory=compare_toy.lm_factory)
    folder = tmp_path / "toy" / "gepa" / "seed0"
    (folder / "record.json").unlink()
    shutil.rmtree(folder / "optimizer_log")  # GEPA's own checkpoint refuses another valset by itself
    run_comparison(_config(tmp_path, ["gepa"], **{"budget": 30, **change}), factory=compare_toy.lm_factory)
    record = _record(tmp_path, "gepa")
    assert record["optimization_restored"] is False and record["config"]["budget"] == change.get("budget", 30)
    assert record["val"]["n"] == record["sizes"]["val"]


def test_a_restored_run_still_takes_an_identical_programs_test_scores(tmp_path: Path) -> None:
    config = _config(tmp_path, ["gepa"], budget=30, seeds=[0, 1], split_seed=0)  # both seeds find the same program
    run_comparison(config, factory=compare_toy.lm_factory)
    assert _record(tmp_path, "gepa", seed=1)["test"]["source"].startswith("reused")
    (tmp_path / "toy" / "gepa" / "seed1" / "record.json").unlink()
    run_comparison(config, factory=compare_toy.lm_factory)
    record = _record(tmp_path, "gepa", seed=1)
    assert record["optimization_restored"] is True and record["test"]["source"].startswith("reused")
    assert set(record["lms"]["models"]) == {"task", "reflection"}


def test_failed_run_writes_error_and_is_retried(tmp_path: Path) -> None:
    def no_reflection_lm(role: str) -> ScriptedLM:
        if role == "reflection":
            raise RuntimeError("reflection LM unavailable")
        return compare_toy.lm_factory(role)

    config = _config(tmp_path, ["baseline", "gepa"], budget=20)
    summary = run_comparison(config, factory=no_reflection_lm)
    assert summary.finished == [RunKey("toy", "baseline", 0)]
    assert summary.failed == {RunKey("toy", "gepa", 0): "RuntimeError: reflection LM unavailable"}
    error = json.loads((tmp_path / "toy" / "gepa" / "seed0" / "error.json").read_text())
    assert "reflection LM unavailable" in error["traceback"]

    summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert summary.finished == [RunKey("toy", "gepa", 0)] and summary.skipped == [RunKey("toy", "baseline", 0)]
    assert not (tmp_path / "toy" / "gepa" / "seed0" / "error.json").exists()


def test_attempts_start_a_failing_run_again_in_the_same_invocation(tmp_path: Path) -> None:
    built = {"reflection": 0}

    def flaky_reflection_lm(role: str) -> ScriptedLM:
        if role == "reflection":
            built["reflection"] += 1
            if built["reflection"] == 1:
                raise RuntimeError("first attempt: reflection LM unavailable")
        return compare_toy.lm_factory(role)

    stream = io.StringIO()
    summary = run_comparison(_config(tmp_path, ["gepa"], budget=20, attempts=2), factory=flaky_reflection_lm,
                             stream=stream)
    assert summary.finished == [RunKey("toy", "gepa", 0)] and not summary.failed
    assert "attempt 1 of 2 failed, starting again: RuntimeError: first attempt" in stream.getvalue()
    folder = tmp_path / "toy" / "gepa" / "seed0"
    assert not (folder / "error.json").exists()
    assert _record(tmp_path, "gepa")["attempt"] == 2


def test_attempts_give_up_after_the_last_one(tmp_path: Path) -> None:
    def no_reflection_lm(role: str) -> ScriptedLM:
        if role == "reflection":
            raise RuntimeError("reflection LM unavailable")
        return compare_toy.lm_factory(role)

    summary = run_comparison(_config(tmp_path, ["gepa"], budget=20, attempts=3), factory=no_reflection_lm)
    assert summary.failed == {RunKey("toy", "gepa", 0): "RuntimeError: reflection LM unavailable"}
    error = json.loads((tmp_path / "toy" / "gepa" / "seed0" / "error.json").read_text())
    assert error["attempts"] == 3 and "reflection LM unavailable" in error["traceback"]


def test_report_and_export_list_failed_runs(tmp_path: Path) -> None:
    def no_reflection_lm(role: str) -> ScriptedLM:
        if role == "reflection":
            raise RuntimeError("reflection LM unavailable\nsecond line")
        return compare_toy.lm_factory(role)

    out = tmp_path / "runs"
    run_comparison(_config(out, ["baseline", "gepa"], budget=20, attempts=2), factory=no_reflection_lm)
    assert failed_runs(out) == [{"benchmark": "toy", "optimizer": "gepa", "seed": 0, "attempts": 2,
                                 "error": "RuntimeError: reflection LM unavailable",
                                 "at": failed_runs(out)[0]["at"]}]
    report(out)
    assert "- toy / GEPA (ours) / seed 0: RuntimeError: reflection LM unavailable (2 attempts)" in \
        (out / "table.md").read_text()

    dest = tmp_path / "export"
    export_runs(out, dest)
    assert (dest / "toy" / "gepa" / "seed0" / "error.json").exists()
    assert not (dest / "toy" / "gepa" / "seed0" / "record.json").exists()
    assert "(2 attempts)" in (dest / "table.md").read_text()

    run_comparison(_config(out, ["gepa"], budget=20), factory=compare_toy.lm_factory)
    assert failed_runs(out) == []
    report(out)
    assert "Runs that failed" not in (out / "table.md").read_text()


def test_import_finished_runs_lets_a_fresh_runs_folder_skip_them(tmp_path: Path) -> None:
    first = tmp_path / "first"
    run_comparison(_config(first, ["baseline", "gepa"], budget=20), factory=compare_toy.lm_factory)
    exported = tmp_path / "export"
    export_runs(first, exported)

    fresh = tmp_path / "fresh"
    (fresh / "toy" / "gepa" / "seed0").mkdir(parents=True)  # a run started here already: left alone
    assert main(["--out", str(fresh), "--import-finished", str(exported)]) == 0
    assert (fresh / "toy" / "baseline" / "seed0" / "record.json").read_bytes() == \
        (first / "toy" / "baseline" / "seed0" / "record.json").read_bytes()
    assert (fresh / "toy" / "baseline" / "seed0" / "program.json").exists()
    assert list((fresh / "toy" / "gepa" / "seed0").iterdir()) == []

    def no_lm(role: str) -> ScriptedLM:
        raise AssertionError(f"the imported baseline must not run again ({role} LM asked for)")

    summary = run_comparison(_config(fresh, ["baseline"]), factory=no_lm)
    assert summary.skipped == [RunKey("toy", "baseline", 0)] and not summary.failed

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "empty"), "--import-finished", str(tmp_path / "empty")])
    with pytest.raises(SystemExit):
        main(["--out", str(fresh), "--import-finished", str(tmp_path / "nothing-here")])


def test_unparsable_replies_score_zero_and_are_counted(tmp_path: Path) -> None:
    def broken_factory(role: str) -> ScriptedLM:
        return ScriptedLM(lambda messages, model: "no fields here", model="broken")

    summary = run_comparison(_config(tmp_path, ["baseline"]), factory=broken_factory)
    assert summary.finished == [RunKey("toy", "baseline", 0)]
    record = _record(tmp_path, "baseline")
    assert record["test"]["errors"] == 6 and record["test"]["mean"] == 0.0
    assert record["lm_usage"]["evaluation"]["task"]["calls"] >= 6


def test_budget_flag_and_missing_mipro_budget(tmp_path: Path) -> None:
    run_comparison(_config(tmp_path / "a", ["gepa"], budget=15), factory=compare_toy.lm_factory)
    record = json.loads((tmp_path / "a" / "toy" / "gepa" / "seed0" / "record.json").read_text())
    assert record["budget"] == 15 and record["budget_source"] == "--budget" and record["metric_calls"] <= 15

    run_comparison(_config(tmp_path / "b", ["gepa"]), factory=compare_toy.lm_factory)
    record = json.loads((tmp_path / "b" / "toy" / "gepa" / "seed0" / "record.json").read_text())
    assert record["budget"] == 40 and record["budget_source"] == "scale default (tiny)"

    # MIPROv2 is requested but fails: the GEPA variants get no budget instead of a silent default.
    def broken_reflection(role: str) -> ScriptedLM:
        if role == "reflection":
            return ScriptedLM(lambda messages, model: "garbage", model="broken")
        return compare_toy.lm_factory(role)

    summary = run_comparison(_config(tmp_path / "c", ["mipro", "gepa"]), factory=broken_reflection)
    assert set(summary.failed) == {RunKey("toy", "mipro", 0), RunKey("toy", "gepa", 0)}
    assert summary.failed[RunKey("toy", "gepa", 0)] == "no budget (mipro did not finish)"


def test_cli_against_a_scripted_openai_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    with ScriptedOpenAIServer(compare_toy.server_responder) as server:
        code = main(["--benchmark", "toy", "--optimizers", "baseline,gepa", "--scale", "tiny", "--seeds", "0,1",
                     "--train-size", "4", "--val-size", "4", "--test-size", "4", "--budget", "20",
                     "--lm", "openai/scripted-task", "--reflection-lm", "openai/scripted-reflection",
                     "--api-base", server.url, "--api-key", "x", "--num-threads", "2", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "4/4" in captured.err and "toy/gepa/seed1: done" in captured.err and "Gain vs baseline" in captured.out
    records = load_records(out)
    assert len(records) == 4 and {r["sizes"]["test"] for r in records} == {4}
    assert {r["lms"]["models"]["task"] for r in records} == {"openai/scripted-task"}
    assert all("api_key" not in r["lms"]["task"] for r in records)

    (out / "table.md").unlink()
    assert main(["--report-only", "--out", str(out)]) == 0
    assert "± " in (out / "table.md").read_text()  # two seeds give a std


@pytest.mark.parametrize("argv, message", [
    (["--benchmark", "nope"], "unknown benchmark nope"),
    (["--optimizers", "baseline,sgd"], "unknown optimizer sgd"),
    (["--optimizers", ""], "optimizer must name at least one"),
    (["--seeds", "0,x"], "--seeds must be comma-separated integers"),
    (["--seeds", "1,1"], "--seeds has duplicates"),
    (["--budget", "0"], "--budget must be positive"),
    (["--num-threads", "0"], "--num-threads must be positive"),
    (["--local-threads", "0"], "--local-threads must be positive"),
    (["--val-size", "0"], "split sizes must be >= 1"),
    (["--lm", "gpt4"], "neither local:<model> nor a LiteLLM"),
    (["--lm", "local:"], "'local:' needs a model"),
    (["--mipro-demos", "1"], "--mipro-demos takes two numbers"),
    (["--scale", "paper", "--optimizers", "baseline,gepa"], "has no default budget"),
    (["--dspy-straggler-timeout", "-1"], "--dspy-straggler-timeout must be >= 0"),
    (["--attempts", "0"], "--attempts must be positive"),
    (["--lm-journal"], "unrecognized arguments: --lm-journal"),  # removed with the HTTP replay journal
])
def test_argument_validation(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--benchmark", "toy", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing ran


def test_counting_metric_separates_rollouts_from_feedback() -> None:
    gold = dspy.Example(word="a", answer="A").with_inputs("word")
    counted = CountingMetric(compare_toy.metric, scalar=True)
    assert counted(gold, dspy.Prediction(answer="A")) == 1.0
    counted(gold, dspy.Prediction(answer="a"), None, "say", [])
    counted(gold, dspy.Prediction(answer="a"))
    assert (counted.rollouts, counted.feedback_calls) == (2, 1)


def test_lm_usage_meter_counts_calls_tokens_and_copies_per_role() -> None:
    lms = RunLMs(compare_toy.lm_factory)
    lm = lms.get("task")
    predict = dspy.Predict(dspy.Signature("word -> answer").with_instructions("Say it in uppercase."))
    with dspy.context(lm=lm):
        assert predict(word="x").answer == "X"
    with dspy.context(lm=lm.copy(temperature=0.5)):  # optimizers call copies; the meter goes with them
        predict(word="y")
    usage = lms.take_usage()
    assert set(usage) == {"task"} and usage["task"]["calls"] == 2 and usage["task"]["failed_calls"] == 0
    assert usage["task"]["prompt_tokens"] > 20 and usage["task"]["completion_tokens"] > 0
    assert lms.take_usage()["task"]["calls"] == 0  # taken: the next phase counts from zero
    with pytest.raises(ValueError, match="unknown LM role"):
        lms.get("critic")
    assert isinstance(lm.callbacks[-1], LMUsageMeter)


def test_mipro_curve_starts_after_its_bootstrapping_runs() -> None:
    curve, raw = mipro_curve({1: {"total_eval_calls_so_far": 6, "full_eval_score": 50.0},
                              2: {"total_eval_calls_so_far": 12, "full_eval_score": 25.0},
                              3: {"total_eval_calls_so_far": 18, "full_eval_score": 100.0}}, rollouts=30)
    assert curve == [(18, 0.5), (24, 0.5), (30, 1.0)] and len(raw) == 3
    assert mipro_curve({}, rollouts=30) == ([], [])


class _FailsOnSomeWords(dspy.Module):
    """compare_toy's program, raising (as an unparsable reply would) for the words in ``bad``."""

    def __init__(self, bad: set[str]) -> None:
        super().__init__()
        self.bad = bad
        self.say = dspy.Predict(dspy.Signature("word -> answer").with_instructions("Repeat the word."))

    def forward(self, word: str) -> dspy.Prediction:
        if word in self.bad:
            raise ValueError(f"no parse for {word}")
        return self.say(word=word)


def test_report_functions_on_synthetic_records(tmp_path: Path) -> None:
    assert load_records(tmp_path) == [] and report(tmp_path) == {}
    assert table_markdown(results_frame([])).startswith("_No finished runs")

    def record(bench: str, opt: str, seed: int, test: float, calls: int) -> dict:
        return {"benchmark": bench, "optimizer": opt, "seed": seed, "scale": "small",
                "sizes": {"train": 20, "val": 20, "test": 40}, "val": {"mean": test}, "test": {"mean": test},
                "wall_seconds": {"total": 1.0, "optimize": 1.0}, "metric_calls": calls,
                "curve": [[calls // 2, test / 2], [calls, test]] if calls else [],
                "prompts": {"instruction_tokens": 10 + calls, "demo_tokens": 5 if opt == "mipro" else 0}}

    records = [record(b, o, s, t + 0.1 * s, c) for b in ("hotpotqa", "pupa")
               for o, t, c in (("baseline", 0.2, 0), ("mipro", 0.3, 100), ("gepa", 0.5, 100)) for s in (0, 1)]
    records.append(record("hotpotqa", "dspy_gepa", 0, 0.4, 90))
    frame = results_frame(records)
    assert list(frame["benchmark"].unique()) == ["hotpotqa", "pupa"]
    assert list(frame["optimizer"].unique()) == ["baseline", "mipro", "dspy_gepa", "gepa"]
    table = table_markdown(frame)
    assert _cells(table, "GEPA (ours)")[:4] == ["55.0 ± 7.1", "55.0 ± 7.1", "55.0", "+30.0"]
    assert _cells(table, "dspy.GEPA")[:4] == ["40.0 (n=1)", "–", "–", "–"]
    assert "over 2 seed(s)" in table
    assert _cells(table.split("Metric calls spent")[1], "GEPA (ours)") == ["100", "100"]
    assert plot_score_vs_calls(records, tmp_path / "a.png").stat().st_size > 1000
    assert plot_prompt_lengths(records, tmp_path / "b.png").stat().st_size > 1000


def test_straggler_timeout_sets_dspy_parallel_executor_default_only_inside_the_block() -> None:
    from dspy.utils.parallelizer import ParallelExecutor

    assert ParallelExecutor(num_threads=1).timeout == 120
    with straggler_timeout(0):
        assert ParallelExecutor(num_threads=1).timeout == 0
        assert ParallelExecutor(num_threads=1, timeout=5).timeout == 5  # an explicit value is kept
        assert ParallelExecutor(1, None, False, None, False, 7).timeout == 7  # positional, too
    assert ParallelExecutor(num_threads=1).timeout == 120
    with straggler_timeout(None):
        assert ParallelExecutor(num_threads=1).timeout == 120
    with pytest.raises(ValueError, match=">= 0"):
        with straggler_timeout(-1):
            pass
    with pytest.raises(RuntimeError):
        with straggler_timeout(900):
            raise RuntimeError("the block failed")
    assert ParallelExecutor(num_threads=1).timeout == 120  # restored after an exception too


def test_export_refuses_an_empty_runs_folder_and_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--export", str(tmp_path / "dest")])
    assert "no finished run" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is the runs folder itself"):
        export_runs(tmp_path, tmp_path)


@contextmanager
def _lock_held_elsewhere(folder: Path) -> Iterator[Any]:
    """Another process holds ``folder``'s run lock inside the block; it is SIGKILLed on the way out."""
    import multiprocessing

    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(folder, ready))
    holder.start()
    try:
        assert ready.wait(30)
        yield holder
    finally:
        holder.kill()  # SIGKILL: the lock goes with the process
        holder.join(30)


def _hold_lock(folder: Path, ready: Any) -> None:
    from benchmarks.compare.run import run_lock

    with run_lock(folder):
        ready.set()
        time.sleep(120)


def test_a_run_in_progress_elsewhere_is_skipped_not_run_twice(tmp_path: Path) -> None:
    import filelock

    from benchmarks.compare.run import is_locked, run_lock

    config = _config(tmp_path, ["baseline", "gepa"])
    key = RunKey("toy", "gepa", 0)
    folder = key.folder(tmp_path)
    with _lock_held_elsewhere(folder):
        summary = run_comparison(config, factory=compare_toy.lm_factory)
        assert summary.finished == [RunKey("toy", "baseline", 0)] and not summary.failed
        assert list(summary.busy) == [key] and "another process" in summary.busy[key]
        assert not (folder / "record.json").exists() and not (folder / "optimizer_log").exists()
        assert is_locked(folder)
        with pytest.raises(filelock.Timeout):
            run_lock(folder).acquire(timeout=0)
    # The holder was killed, and its lock went with it: the run goes ahead.
    summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert summary.finished == [key] and not summary.busy


def test_status_tells_finished_running_failed_and_unfinished_runs_apart(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.compare.cli import status_text

    run_comparison(_config(tmp_path, ["baseline"]), factory=compare_toy.lm_factory)
    failed = RunKey("toy", "mipro", 0).folder(tmp_path)
    failed.mkdir(parents=True)
    (failed / "error.json").write_text(json.dumps({"error": "AdapterParseError: no fields"}))
    (RunKey("toy", "gepa", 0).folder(tmp_path) / "optimizer_log").mkdir(parents=True)
    with _lock_held_elsewhere(RunKey("toy", "dspy_gepa", 0).folder(tmp_path)):
        assert main(["--status", "--out", str(tmp_path)]) == 0
        text = capsys.readouterr().out
    states = {line.split()[0]: line.split()[1] for line in text.splitlines()[:-1]}
    assert states == {"toy/baseline/seed0": "finished", "toy/mipro/seed0": "failed", "toy/gepa/seed0": "unfinished",
                      "toy/dspy_gepa/seed0": "running"}
    assert "AdapterParseError: no fields" in text and "test 0.0, 0 metric calls" in text
    assert text.splitlines()[-1] == "1 failed, 1 finished, 1 running, 1 unfinished"
    assert "toy/dspy_gepa/seed0                      unfinished" in status_text(tmp_path)  # the holder is gone


def test_a_gepa_run_whose_mipro_budget_another_process_is_computing_is_skipped(tmp_path: Path) -> None:
    config = _config(tmp_path, ["mipro", "gepa"])
    mipro, gepa = RunKey("toy", "mipro", 0), RunKey("toy", "gepa", 0)
    with _lock_held_elsewhere(mipro.folder(tmp_path)):
        summary = run_comparison(config, factory=compare_toy.lm_factory)
    assert not summary.failed and not summary.finished and set(summary.busy) == {mipro, gepa}
    assert "waits for MIPROv2's budget" in summary.busy[gepa]
    assert not gepa.folder(tmp_path).exists()


def test_records_keep_the_metric_settings_and_its_counters_per_phase(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, ["baseline", "gepa"], budget=30)
    test_words = {ex.word for ex in compare_toy.load_splits(seed=0).test[:2]}
    monkeypatch.setattr(compare_toy, "make_metric",
                        lambda judge_lm=None: compare_toy.FlaggingMetric(frozenset(test_words)), raising=False)
    run_comparison(config, factory=compare_toy.lm_factory)
    baseline, ours = _record(tmp_path, "baseline"), _record(tmp_path, "gepa")
    assert baseline["metric"]["settings"] == {"judge_format": "json_schema"}
    counters = baseline["metric"]["counters"]
    assert counters["optimization"] == {"results": 0, "flagged_results": 0, "judge.questions": 0}
    assert counters["val"]["results"] == 6 and counters["val"]["flagged_results"] == 0
    assert counters["test"] == {"results": 6, "flagged_results": 2, "judge.questions": 6}
    assert ours["metric"]["counters"]["optimization"]["results"] > 0
    assert ours["metric"]["counters"]["test"]["flagged_results"] == 2

    report(tmp_path)
    frame = pd.read_csv(tmp_path / "results.csv")
    assert list(frame["test_flagged"]) == [2, 2]
    table = (tmp_path / "table.md").read_text()
    assert "Test scores that include placeholder 0s the metric flagged" in table
    assert "- toy / GEPA (ours) / seed 0: 2 of 6 test examples" in table


def test_a_plain_function_metric_leaves_no_metric_block(tmp_path: Path) -> None:
    run_comparison(_config(tmp_path, ["baseline"]), factory=compare_toy.lm_factory)
    assert _record(tmp_path, "baseline")["metric"] is None
    report(tmp_path)
    assert "placeholder" not in (tmp_path / "table.md").read_text()
    assert pd.read_csv(tmp_path / "results.csv")["test_flagged"].isna().all()  # unknown, not 0


def test_judge_format_reaches_a_make_metric_that_takes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def make_metric(judge_lm: Any = None, judge_format: str = "json_schema") -> compare_toy.FlaggingMetric:
        seen.append(judge_format)
        return compare_toy.FlaggingMetric()

    monkeypatch.setattr(compare_toy, "make_metric", make_metric, raising=False)
    run_comparison(_config(tmp_path, ["baseline"], judge_format="text"), factory=compare_toy.lm_factory)
    assert seen == ["text"] and _record(tmp_path, "baseline")["config"]["judge_format"] == "text"


def test_the_small_grid_queue_runs_one_cell_at_a_time_in_grid_order(tmp_path: Path) -> None:
    """The script starts one background worker, which runs each cell's command in turn."""
    import os
    import shlex
    import subprocess

    from benchmarks.compare.cli import build_parser, config_from_args

    stubs = tmp_path / "bin"
    stubs.mkdir()
    launched, ran = tmp_path / "launched.txt", tmp_path / "ran.txt"
    record = 'line=$(printf "%q " "$@"); echo "$line" >> {}'
    for name, body in {"curl": "exit 0", "pgrep": "exit 1", "nohup": record.format(launched),
                       "python": record.format(ran)}.items():
        (stubs / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (stubs / name).chmod(0o755)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run_small_grid.sh"
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "OUT": str(tmp_path / "grid"),
           "GRID": "pupa:1 ifbench:0:gepa ifbench:0"}
    out = subprocess.run(["bash", str(script)], check=True, env=env, capture_output=True, text=True, timeout=60)
    assert "queue started" in out.stdout
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not launched.exists():
        time.sleep(0.05)
    assert [shlex.split(line) for line in launched.read_text().splitlines()] == [["bash", str(script), "--queue-worker"]]
    assert not ran.exists()  # the launcher itself runs nothing

    subprocess.run(["bash", str(script), "--queue-worker"], check=True, env=env, capture_output=True, timeout=60)
    commands = [shlex.split(line) for line in ran.read_text().splitlines()]  # python's arguments
    assert [c[:2] for c in commands] == [["-m", "benchmarks.compare"]] * 3
    configs = [config_from_args(build_parser().parse_args(c[2:])) for c in commands]
    assert [(c.benchmarks[0], c.seeds[0], c.num_threads, ",".join(c.optimizers)) for c in configs] == [
        ("pupa", 1, 2, "baseline,mipro,dspy_gepa,gepa"), ("ifbench", 0, 3, "gepa"),  # a cell may name its optimizers
        ("ifbench", 0, 3, "baseline,mipro,dspy_gepa,gepa")]
    assert all(c.attempts == 3 and c.dspy_straggler_timeout == 0 and c.reflection_reply_format == "json_schema"
               for c in configs)


def test_table_states_each_benchmarks_metric_settings_and_names_runs_that_differ() -> None:
    from benchmarks.compare.report import metric_settings_markdown

    def record(bench: str, opt: str, seed: int, settings: dict | None) -> dict:
        return {"benchmark": bench, "optimizer": opt, "seed": seed,
                "metric": None if settings is None else {"settings": settings, "counters": {}}}

    schema, text = {"judge_format": "json_schema"}, {"judge_format": "text"}
    same = [record("pupa", o, s, schema) for o in ("baseline", "gepa") for s in (0, 1)] + [record("ifbench", "gepa", 0, None)]
    assert metric_settings_markdown(same) == "\nMetric settings:\n\n- PUPA: judge_format json_schema (every run)\n"
    mixed = metric_settings_markdown([record("pupa", "baseline", 0, text), record("pupa", "gepa", 0, schema),
                                      record("pupa", "mipro", 0, None)])
    assert "- PUPA: judge_format text (Baseline seed 0)" in mixed
    assert "- PUPA: judge_format json_schema (GEPA (ours) seed 0)" in mixed
    assert "- PUPA: not recorded (MIPROv2 seed 0)" in mixed
    assert metric_settings_markdown([record("ifbench", "gepa", 0, None)]) == ""


def test_reflection_format_reaches_our_gepa_and_the_table_names_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.compare import optimizers
    from benchmarks.compare.cli import build_parser, config_from_args
    from benchmarks.compare.report import reflection_format_markdown

    args = build_parser().parse_args(["--benchmark", "ifbench", "--out", str(tmp_path), "--reflection-format",
                                      "json_schema"])
    assert config_from_args(args).reflection_reply_format == "json_schema"
    assert config_from_args(build_parser().parse_args(["--out", str(tmp_path)])).reflection_reply_format == "fenced"
    seen: list[str] = []
    real_run_gepa = optimizers.run_gepa
    monkeypatch.setitem(optimizers.OPTIMIZE, "gepa",
                        lambda job: seen.append(job.reflection_reply_format) or real_run_gepa(job, use_merge=False))
    # The toy's scripted reflection LM answers in fences, so every reply is rejected: the run keeps the seed.
    run_comparison(_config(tmp_path, ["gepa"], budget=20, reflection_reply_format="json_schema"),
                   factory=compare_toy.lm_factory)
    record = _record(tmp_path, "gepa")
    assert seen == ["json_schema"] and record["config"]["reflection_reply_format"] == "json_schema"
    assert reflection_format_markdown([record]) == ("\nOur GEPA's reflection reply format, where it is not the default "
                                                    "(fenced):\n\n- toy / GEPA (ours) / seed 0: json_schema\n")
    assert reflection_format_markdown([{**record, "config": {}}]) == ""


def test_git_revision_names_the_commit_and_whether_tracked_files_changed(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from benchmarks.compare.run import git_revision

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert git_revision(tmp_path) is None  # not a checkout
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.txt").write_text("one\n")
    subprocess.run(git + ["add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "first"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("runs/ and the like\n")
    assert git_revision(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n")
    assert git_revision(tmp_path) == head + "+dirty"


def test_program_runs_are_counted_failed_ones_included_across_copies() -> None:
    replies = iter(["[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\nA", "no fields here at all",
                    "[[ ## answer ## ]]\nB"])
    lm = ScriptedLM(lambda messages, model: next(replies))
    program = dspy.ChainOfThought("word -> answer")
    copy = program.deepcopy()  # optimizers run copies of the program
    counter = ProgramRunCounter(type(program))
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    with dspy.context(lm=lm, adapter=adapter, callbacks=[counter]):
        assert program(word="a").answer == "A"  # its inner dspy.Predict is not a run of its own
        with pytest.raises(Exception):
            copy(word="b")  # fails before any metric could be called
        dspy.Predict("word -> answer")(word="x")  # e.g. a proposer's module: another class, not counted
    assert (counter.runs, counter.failed) == (2, 1)


@pytest.mark.parametrize("optimizer", ["mipro", "dspy_gepa", "gepa"])
def test_every_optimizer_counts_its_program_runs_from_its_worker_threads(tmp_path: Path, optimizer: str) -> None:
    summary = run_comparison(_config(tmp_path, [optimizer], budget=20, num_threads=3), factory=compare_toy.lm_factory)
    assert not summary.failed
    record = _record(tmp_path, optimizer)
    # Every metric call judged one program run; no run failed in the toy, so the two counts agree.
    assert record["program_runs"]["runs"] == record["metric_calls_counted_this_attempt"] > 0
    assert record["program_runs"]["failed"] == 0


def test_mipro_metric_calls_include_runs_that_failed_before_the_metric(tmp_path: Path) -> None:
    """A MIPROv2 program run that raises (an unparsable reply) never reaches the metric but is still paid for."""
    def flaky_task(role: str) -> ScriptedLM:
        if role == "reflection":
            return compare_toy.lm_factory(role)
        bad = {ex.word for ex in compare_toy.load_splits(seed=0, sizes=(6, 6, 6)).train[:2]}

        def responder(messages: Any, model: str) -> str:
            if parse_input_fields(messages).get("word") in bad:
                return "no fields here"  # fails every adapter's parse: the run raises before the metric
            return compare_toy.task_responder(messages, model)

        return ScriptedLM(responder, model="flaky-task")

    summary = run_comparison(_config(tmp_path, ["mipro"]), factory=flaky_task)
    assert not summary.failed
    record = _record(tmp_path, "mipro")
    runs = record["program_runs"]
    assert runs["failed"] > 0 and record["metric_calls"] == runs["runs"]
    assert record["metric_calls"] == record["metric_calls_counted_this_attempt"] + runs["failed"]
