"""Issue 27 item 9: a hostile or damaged checkpoint or journal gives CheckpointError naming the file and the
field: never a bare IndexError/KeyError/TypeError/RecursionError, never a silent load, never a hang."""

from __future__ import annotations

import json
import shutil

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.engine.checkpoint import CheckpointError
from gepa_dspy.engine.search import CHECKPOINT_FILE, EVAL_JOURNAL_FILE, PROPOSAL_JOURNAL_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder

BUDGET = 70


def compile_in(log_dir, task=None):
    dspy.configure(lm=task or ScriptedLM(task_responder))
    examples = make_examples()
    return GEPA(metric, max_metric_calls=BUDGET, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                log_dir=str(log_dir), seed=1).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("base")
    compile_in(log_dir)
    state = json.loads((log_dir / CHECKPOINT_FILE).read_text())
    assert len(state["pool"]["candidates"]) >= 2 and state["history"] and state["sampler"]["epoch"] >= 0
    return log_dir


def set_path(state, path, value):
    *head, last = path
    target = state
    for key in head:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value


DELETE = object()

EDITS = [
    (("pool", "val_scores", 0, 0), float("inf"), "pool.val_scores"),
    (("pool", "val_scores", 0, 0), float("nan"), "pool.val_scores"),
    (("pool", "val_scores", 0, 0), 1e300, "pool.val_scores[0][0]"),
    (("pool", "val_scores", 0, 0), -0.5, "pool.val_scores[0][0]"),
    (("pool", "val_scores", 0, 0), "0.5", "pool.val_scores.0.0"),
    (("pool", "val_scores", 1), [], "pool.val_scores[1]"),
    (("pool", "parents", 1), [1], "pool.parents[1]"),
    (("pool", "parents", 1), [7], "pool.parents[1]"),
    (("pool", "parents", 0), [1], "pool.parents[0]"),
    (("pool", "parents"), [], "pool.parents"),
    (("pool", "next_component", 0), 999, "pool.next_component[0]"),
    (("pool", "next_component", 0), -1, "pool.next_component.0"),
    (("pool", "candidates", 1), {}, "pool.candidates[1]"),
    (("pool", "candidates", 0, "clean"), "edited", "pool.candidates[0]"),
    (("pool", "candidates", 1, "clean"), 5, "pool.candidates.1.clean"),
    (("pool", "origins", 1), "seed", "pool.origins[1]"),
    (("pool", "discovery_metric_calls", 0), -1, "pool.discovery_metric_calls.0"),
    (("pool", "component_names"), ["clean"], "pool.component_names"),
    (("pool",), DELETE, "pool"),
    (("sampler", "order"), ["t0"], "sampler.order"),
    (("sampler", "order"), ["t0"] * 8, "sampler.order"),
    (("sampler", "order"), ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "zz"], "sampler.order"),
    (("sampler", "position"), 999, "sampler.position"),
    (("sampler", "rng"), [3, [1, 2], None], "sampler.rng"),
    (("rng",), "x", "rng"),
    (("rng",), [3, [0] * 624, None], "rng"),
    (("merge", "tried"), [[0, 0, 99]], "merge.tried[0]"),
    (("merge", "tried"), [[0, 1]], "merge.tried.0"),
    (("merge", "due"), -1, "merge.due"),
    (("history", 0, "parent_ids"), [99], "history[0]"),
    (("history", 0, "kind"), "other", "history.0.kind"),
    (("history", 0, "unknown"), 1, "history.0.unknown"),
    (("history",), "x", "history"),
    (("counters",), {"a": "b"}, "counters.a"),
    (("curve",), [[1]], "curve.0"),
    (("curve", 0, 1), float("inf"), "curve.0.1"),
    (("iteration",), -3, "iteration"),
    (("iteration",), 1.5, "iteration"),
    (("metric_calls",), True, "metric_calls"),
    (("format_version",), 2, "format"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path, value, field", EDITS, ids=[f"{'.'.join(map(str, p))}={str(v)[:12]}" for p, v, _ in EDITS])
def test_every_hostile_checkpoint_edit_is_refused_naming_file_and_field(finished_run, tmp_path, path, value, field):
    log_dir = tmp_path / "run"
    shutil.copytree(finished_run, log_dir)
    state = json.loads((log_dir / CHECKPOINT_FILE).read_text())
    set_path(state, path, value)
    (log_dir / CHECKPOINT_FILE).write_text(json.dumps(state))
    task = ScriptedLM(task_responder)
    with pytest.raises(CheckpointError) as info:
        compile_in(log_dir, task=task)
    assert CHECKPOINT_FILE in str(info.value)
    assert field in str(info.value), str(info.value)
    assert task.calls == 0


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, "[1, 2]", "null", '{"format_version": 1'])
def test_checkpoints_that_are_not_checkpoints(finished_run, tmp_path, text):
    log_dir = tmp_path / "run"
    shutil.copytree(finished_run, log_dir)
    (log_dir / CHECKPOINT_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=CHECKPOINT_FILE):
        compile_in(log_dir)


JOURNAL_EDITS = [
    (EVAL_JOURNAL_FILE, lambda r: r["o"].update(score=7.0), "o.score"),
    (EVAL_JOURNAL_FILE, lambda r: r["o"].update(score=-1.0), "o.score"),
    (EVAL_JOURNAL_FILE, lambda r: r["o"].update(failure="weird"), "o.failure"),
    (EVAL_JOURNAL_FILE, lambda r: r.pop("e"), "e"),
    (EVAL_JOURNAL_FILE, lambda r: r["o"].update(objectives={"x": "high"}), "o.objectives.x"),
    (PROPOSAL_JOURNAL_FILE, lambda r: r.update(text=5), "text"),
    (PROPOSAL_JOURNAL_FILE, lambda r: r.pop("k"), "k"),
]


@pytest.mark.parametrize("name, edit, field", JOURNAL_EDITS, ids=[f"{n}:{f}" for n, _, f in JOURNAL_EDITS] )
def test_journaled_records_pass_the_same_checks(finished_run, tmp_path, name, edit, field):
    log_dir = tmp_path / "run"
    shutil.copytree(finished_run, log_dir)
    lines = (log_dir / name).read_text().splitlines()
    n = min(3, len(lines) - 1)
    record = json.loads(lines[n])
    edit(record)
    lines[n] = json.dumps(record)
    (log_dir / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(CheckpointError) as info:
        compile_in(log_dir)
    assert name in str(info.value) and f"record {n}" in str(info.value) and field in str(info.value), str(info.value)


def test_the_unedited_checkpoint_still_loads(finished_run, tmp_path):
    log_dir = tmp_path / "run"
    shutil.copytree(finished_run, log_dir)
    task = ScriptedLM(task_responder)
    compile_in(log_dir, task=task)
    assert task.calls == 0


@pytest.mark.timeout(30)
def test_the_sampler_never_loops_forever_on_a_corrupt_order():
    from gepa_dspy.engine.sampler import EpochMinibatchSampler

    sampler = EpochMinibatchSampler([f"t{i}" for i in range(8)], 3, seed=0)
    sampler.next_batch()
    state = sampler.state_dict()
    state["order"], state["position"] = ["t0"] * 8, 0  # deferring the repeat grows the order forever
    sampler.load_state_dict(state)
    with pytest.raises(RuntimeError, match="cannot fill a batch"):
        sampler.next_batch()
