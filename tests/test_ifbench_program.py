"""IFBench splits, the two-stage program on a scripted LM, and the metric's score and feedback."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from dspy.utils.dummies import DummyLM  # noqa: E402

import benchmarks  # noqa: E402
from benchmarks.common import DataNotFoundError, resolve_data_dir  # noqa: E402
from benchmarks.ifbench import (  # noqa: E402
    IFBenchProgram,
    UnknownInstructionError,
    follows,
    load_splits,
    make_metric,
    make_program,
    metric,
)
from benchmarks.ifbench.text import set_stopwords_dir  # noqa: E402

REAL_DIR = resolve_data_dir() / "ifbench"
needs_real_data = pytest.mark.skipif(not (REAL_DIR / "IFBench_test.jsonl").exists(), reason="IFBench data not found")


@pytest.fixture(autouse=True)
def _restore_stopwords_dir():
    yield
    set_stopwords_dir(None)


def _record(key: int, ids: list[str] | None = None, kwargs: list[dict] | None = None) -> dict:
    ids = ids or ["punctuation:no_comma"]
    return {"key": key, "prompt": f"Prompt {key}. Do not use commas.", "instruction_id_list": ids,
            "kwargs": kwargs if kwargs is not None else [{} for _ in ids]}


def _write_data(root: Path, n_test: int = 30, n_train_val: int = 60, extra_test: list[dict] | None = None) -> Path:
    folder = root / "ifbench"
    folder.mkdir(parents=True)
    test = [_record(i) for i in range(n_test)] + (extra_test or [])
    (folder / "IFBench_test.jsonl").write_text("\n".join(json.dumps(r) for r in test) + "\n")
    (folder / "IFEval_input_data.jsonl").write_text(
        "\n".join(json.dumps(_record(1000 + i)) for i in range(n_train_val)) + "\n")
    return root


def _keys(examples: list[dspy.Example]) -> list:
    return [e.key for e in examples]


# ---- splits


def test_splits_are_seeded_disjoint_and_sized(tmp_path: Path) -> None:
    root = _write_data(tmp_path)
    a = load_splits(scale="small", seed=0, data_dir=root, sizes=(10, 15, 20))
    b = load_splits(scale="small", seed=0, data_dir=root, sizes=(10, 15, 20))
    c = load_splits(scale="small", seed=1, data_dir=root, sizes=(10, 15, 20))
    assert (len(a.train), len(a.val), len(a.test)) == (10, 15, 20)
    assert (_keys(a.train), _keys(a.val), _keys(a.test)) == (_keys(b.train), _keys(b.val), _keys(b.test))
    assert (_keys(a.train), _keys(a.test)) != (_keys(c.train), _keys(c.test))
    assert not set(_keys(a.train)) & set(_keys(a.val))
    assert all(k >= 1000 for k in _keys(a.train) + _keys(a.val)) and all(k < 1000 for k in _keys(a.test))
    example = a.train[0]
    assert set(example.inputs().keys()) == {"prompt"} and example.instruction_id_list == ["punctuation:no_comma"]


def test_test_split_is_whole_file_when_size_allows(tmp_path: Path) -> None:
    root = _write_data(tmp_path)
    splits = load_splits(data_dir=root, sizes=(5, 5, 300))
    assert _keys(splits.test) == list(range(30))


def test_too_many_train_val_examples_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exceed"):
        load_splits(data_dir=_write_data(tmp_path), sizes=(40, 30, 5))


def test_missing_files_and_unknown_ids_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="IFBench_test.jsonl"):
        load_splits(data_dir=tmp_path)
    root = _write_data(tmp_path / "bad", extra_test=[_record(99, ["made:up"])])
    with pytest.raises(ValueError, match=r"IFBench_test.jsonl:31.*made:up"):
        load_splits(data_dir=root, sizes=(1, 1, 1))


@needs_real_data
def test_real_splits_match_the_paper_setup() -> None:
    small = load_splits(scale="small")
    paper = load_splits(scale="paper")
    assert (len(small.train), len(small.val), len(small.test)) == (20, 20, 40)
    assert (len(paper.train), len(paper.val), len(paper.test)) == (150, 300, 294)
    assert not set(_keys(paper.train)) & set(_keys(paper.val))
    assert set(_keys(small.test)) <= set(_keys(paper.test))


def test_registered_as_ifbench() -> None:
    module = benchmarks.get("ifbench")
    assert module.load_splits is load_splits and module.make_program is make_program and module.metric is metric


# ---- program


def test_program_answers_then_rewrites() -> None:
    lm = DummyLM([
        {"reasoning": "Answer first.", "response": "Yes, it is, mostly."},
        {"reasoning": "Remove the commas.", "response": "Yes it is mostly."},
    ])
    program = make_program()
    assert isinstance(program, IFBenchProgram)
    assert [name for name, _ in program.named_predictors()] == ["answer.predict", "rewrite.predict"]
    with dspy.context(lm=lm):
        pred = program(prompt="Is it? Do not use commas.")
    assert pred.draft_response == "Yes, it is, mostly."
    assert pred.response == "Yes it is mostly."
    assert len(lm.history) == 2
    assert "Yes, it is, mostly." in json.dumps(lm.history[1]["messages"])  # the draft reaches the rewrite stage


def test_max_tokens_reaches_both_stages() -> None:
    program = make_program(max_tokens=64)
    assert all(p.config == {"max_tokens": 64} for _, p in program.named_predictors())


# ---- metric

GOLD = dspy.Example(
    prompt="Include exactly 2 numbers. Do not use commas.",
    instruction_id_list=["count:numbers", "punctuation:no_comma"],
    kwargs=[{"N": 2}, {}],
).with_inputs("prompt")


def test_metric_scores_fraction_followed_with_measured_feedback() -> None:
    result = metric(GOLD, dspy.Prediction(response="I have 1 cat and 2 dogs and 3 birds."))
    assert result.score == 0.5
    assert "followed 1 of 2 constraints" in result.feedback
    assert "- followed: punctuation:no_comma" in result.feedback
    assert "- NOT followed: count:numbers (include exactly N numbers; N=2): needed exactly 2 numbers, found 3" in result.feedback


def test_loose_is_default_and_strict_is_selectable() -> None:
    pred = dspy.Prediction(response="Here you go, friend:\nI have 1 cat and 2 dogs.")
    assert metric(GOLD, pred).score == 1.0
    strict = make_metric(loose=False)(GOLD, pred)
    assert strict.score == 0.5 and "strict check" in strict.feedback and "found 1 commas" in strict.feedback


def test_feedback_for_the_answer_stage_judges_the_draft() -> None:
    pred = dspy.Prediction(response="I have 1 cat and 2 dogs.", draft_response="Well, 1, 2, 3.")
    result = metric(GOLD, pred, pred_name="answer.predict", pred_trace=[(None, {}, {"response": "Well, 1, 2, 3."})])
    assert result.score == 1.0
    assert "Your draft followed 0 of 2" in result.feedback
    assert "final response followed 2 of 2" in result.feedback


def test_missing_response_scores_zero() -> None:
    result = metric(GOLD, dspy.Prediction(response=""))
    assert result.score == 0.0 and "no response" in result.feedback


def test_unknown_instruction_id_is_named() -> None:
    with pytest.raises(UnknownInstructionError, match="'no:such_id'"):
        follows("text", ["punctuation:no_comma", "no:such_id"], [{}, {}], "")
    bad = dspy.Example(prompt="p", instruction_id_list=["no:such_id"], kwargs=[{}]).with_inputs("prompt")
    with pytest.raises(UnknownInstructionError, match="no:such_id"):
        metric(bad, dspy.Prediction(response="text"))


def test_kwargs_must_pair_with_ids() -> None:
    with pytest.raises(ValueError, match="pair up"):
        follows("text", ["punctuation:no_comma"], [{}, {}], "")
