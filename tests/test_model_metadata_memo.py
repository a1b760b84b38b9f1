"""``memoized_model_metadata``: DSPy's own answers, fresh copies, and DSPy left as it was afterwards."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402
import dspy.clients.capabilities as capabilities  # noqa: E402
import dspy.clients.costs as costs  # noqa: E402
import pytest  # noqa: E402
from dspy.clients.model_metadata import model_info  # noqa: E402

from gepa_dspy.adapter.model_metadata_memo import memoized_model_metadata  # noqa: E402

from .toy_task import CleanThenShout, make_examples, make_lms, metric  # noqa: E402

LOOKUPS = [("openai", "gpt-4o-mini", None), ("openai", "local", None), ("openai", "task", ("openai",)),
           ("anthropic", "claude-3-5-haiku-20241022", None), ("openai", "gpt-4o-mini", ()),
           ("openai", "gpt-4o-mini", ["openai"]), ("openai", "gpt-4o-mini", ("openai",))]


def test_lookups_inside_the_block_equal_dspys_own_and_are_fresh_copies():
    expected = [model_info(p, m, namespaces=n) for p, m, n in LOOKUPS]
    assert any(expected) and not all(expected)  # both known and unknown models are covered
    with memoized_model_metadata():
        assert costs.model_info is not model_info and capabilities.model_info is costs.model_info
        for _ in range(2):
            assert [costs.model_info(p, m, namespaces=n) for p, m, n in LOOKUPS] == expected
        first = costs.model_info("openai", "gpt-4o-mini")
        first["input_cost_per_token"] = -1.0
        assert costs.model_info("openai", "gpt-4o-mini") == expected[0]
    assert costs.model_info is model_info and capabilities.model_info is model_info


def test_calls_the_original_would_refuse_are_refused_the_same_way():
    with memoized_model_metadata():
        with pytest.raises(TypeError):
            costs.model_info("openai", "gpt-4o-mini", ("openai",))  # namespaces is keyword-only
        with pytest.raises(TypeError):
            costs.model_info("openai", "gpt-4o-mini", colour="red")


def test_nested_blocks_restore_only_at_the_outermost_exit():
    with memoized_model_metadata():
        wrapper = costs.model_info
        with memoized_model_metadata():
            assert costs.model_info is wrapper
        assert costs.model_info is wrapper
    assert costs.model_info is model_info


def test_an_exception_inside_the_block_still_restores_dspy():
    with pytest.raises(RuntimeError):
        with memoized_model_metadata():
            raise RuntimeError("boom")
    assert costs.model_info is model_info and capabilities.model_info is model_info


def test_a_layout_it_does_not_know_is_left_alone(monkeypatch):
    def someone_elses(provider, model, *, namespaces=None):
        return {}

    monkeypatch.setattr(capabilities, "model_info", someone_elses)
    with memoized_model_metadata():
        assert costs.model_info is model_info and capabilities.model_info is someone_elses
    assert costs.model_info is model_info and capabilities.model_info is someone_elses


def test_compile_leaves_dspy_as_it_was():
    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    from gepa_dspy import GEPA

    GEPA(metric, max_metric_calls=30, reflection_lm=reflection).compile(CleanThenShout(), trainset=examples[:4],
                                                                       valset=examples[4:8])
    assert costs.model_info is model_info and capabilities.model_info is model_info
