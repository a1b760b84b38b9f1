"""Issue 27, data a server can produce: lone surrogates, torn UTF-8 journal lines, truncated checkpoints."""

from __future__ import annotations

import json

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.engine.candidate import candidate_key
from gepa_dspy.engine.journal import JsonlJournal
from gepa_dspy.engine.search import CHECKPOINT_FILE, EVAL_JOURNAL_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder

SURROGATE = "\udcff"


def _compile_twice(tmp_path, task, reflection, examples):
    kwargs = dict(max_metric_calls=40, track_stats=True, log_dir=str(tmp_path), use_merge=False)
    dspy.configure(lm=ScriptedLM(task))
    first = GEPA(metric, reflection_lm=ScriptedLM(reflection), **kwargs).compile(
        CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    # Resume reads all of it back: same candidates, nothing paid again.
    task_lm = ScriptedLM(task)
    dspy.configure(lm=task_lm)
    again = GEPA(metric, reflection_lm=ScriptedLM(reflection), **kwargs).compile(
        CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    assert again.detailed_results.candidates == first.detailed_results.candidates
    assert task_lm.calls == 0
    return first.detailed_results


def test_lone_surrogates_in_examples_and_task_replies_are_hashed_and_journaled(tmp_path):
    """Item 5: text JSON can carry is encoded safely wherever it is hashed or written."""
    def task(messages):
        reply = task_responder(messages)
        if "[[ ## answer ## ]]" not in reply:
            return reply  # the first predictor's output is the second's input, which DSPy would refuse to send
        return reply.replace("[[ ## completed", f"{SURROGATE}\n\n[[ ## completed", 1)

    examples = make_examples()
    examples[0] = dspy.Example(text="odd" + SURROGATE, answer="ODD").with_inputs("text")
    examples[9] = dspy.Example(text="bad" + SURROGATE, answer="BAD").with_inputs("text")
    results = _compile_twice(tmp_path, task, reflection_responder, examples)
    assert results.total_metric_calls > 8
    assert SURROGATE in (tmp_path / EVAL_JOURNAL_FILE).read_text(encoding="ascii").encode().decode("unicode_escape")


def test_lone_surrogates_in_reflection_replies_are_hashed_journaled_and_checkpointed(tmp_path):
    def reflection(messages):
        head, tail = reflection_responder(messages).rsplit("\n```", 1)
        return f"{head} {SURROGATE}\n```{tail}"

    results = _compile_twice(tmp_path, task_responder, reflection, make_examples())
    # A proposed instruction no signature or LM accepts is repaired, logged and counted, never a crash.
    assert any("\ufffd" in text for cand in results.candidates[1:] for text in cand.values())
    assert results.counters["proposals_with_invalid_unicode_repaired"] >= 1
    assert candidate_key({"a": SURROGATE}) != candidate_key({"a": "?"})
    assert candidate_key({"a": "caf\u00e9"}) == "%s" % candidate_key({"a": "café"})


def test_a_journal_line_torn_inside_a_multibyte_character_is_skipped_and_counted(tmp_path):
    """Item 6: torn at the byte level, like a torn ASCII line."""
    journal = JsonlJournal(tmp_path / "j.jsonl")
    journal.append({"c": "k", "e": "v0", "text": "caf\u00e9"})
    journal.close()
    whole = json.dumps({"c": "k", "e": "v1", "text": "\u00e9t\u00e9"}, ensure_ascii=False).encode("utf-8")
    cut = whole.index("\u00e9".encode("utf-8")) + 1  # inside the two bytes of the first "é"
    with open(tmp_path / "j.jsonl", "ab") as fh:
        fh.write(whole[:cut])
    records = list(JsonlJournal(tmp_path / "j.jsonl").read())
    assert records == [{"c": "k", "e": "v0", "text": "caf\u00e9"}]
    reread = JsonlJournal(tmp_path / "j.jsonl")
    assert list(reread.read()) == records and reread.torn_lines == 0  # the torn tail was cut from the file


def test_a_torn_utf8_tail_does_not_block_a_resumed_compile(tmp_path):
    examples = make_examples()
    kwargs = dict(max_metric_calls=30, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                  log_dir=str(tmp_path), use_merge=False)
    dspy.configure(lm=ScriptedLM(task_responder))
    first = GEPA(metric, **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    with open(tmp_path / EVAL_JOURNAL_FILE, "ab") as fh:
        fh.write('{"c": "x", "e": "v0", "o": {"feedback": "\u00e9'.encode("utf-8")[:-1])
    again = GEPA(metric, **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    assert again.detailed_results.candidates == first.detailed_results.candidates
    assert again.detailed_results.counters["torn_journal_lines"] == 1


def test_a_truncated_checkpoint_names_the_file_and_what_to_do(tmp_path):
    """Item 7: not a bare JSONDecodeError."""
    from gepa_dspy.engine.checkpoint import CheckpointError

    examples = make_examples()
    kwargs = dict(max_metric_calls=30, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                  log_dir=str(tmp_path), use_merge=False)
    dspy.configure(lm=ScriptedLM(task_responder))
    first = GEPA(metric, **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match=f"{CHECKPOINT_FILE}.*damaged.*Delete {CHECKPOINT_FILE}"):
        GEPA(metric, **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    # What the message says works: the search restarts from the seed, reusing the journaled runs.
    path.unlink()
    again = GEPA(metric, **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])
    assert again.detailed_results.candidates[0] == first.detailed_results.candidates[0]
    assert again.detailed_results.total_metric_calls <= 30
