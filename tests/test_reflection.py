"""Reflection: reply parsing, retries, reflective records matched by predictor identity."""

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.adapter.reflection import (META_PROMPT, MAX_COPIED_SHARE, ReflectiveRecord, copied_share,
                                          extract_instruction, render_reflection_prompt)

from .scripted_lm import ScriptedLM, chat_reply, input_value, instruction_of
from .toy_task import CleanThenShout, make_examples, metric, task_responder


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("```\nDo X.\n```", ("Do X.", "ok")),
        ("Sure:\n```text\nDo X.\nThen Y.\n```\nHope it helps", ("Do X.\nThen Y.", "ok")),
        ("```\nUse a block like\n```json\n{}\n```\nfor output.\n```", ("Use a block like\n```json\n{}\n```\nfor output.", "ok")),
        ("```text\nUse:\n```\nx = 1\n```\nthen stop.\n```", ("Use:\n```\nx = 1\n```\nthen stop.", "ok")),
        # Notes, a block opened and never closed, then another: a 0.5B reply adopted before this check existed.
        ("```text\n## Step 1: Understand the task\nNotes.\n\n```text\n## Step 4: Create new instruction\nMore notes.\n\n```text\n```",
         (None, "unbalanced")),
        ("```text\nA first try.\n```\nOr better:\n```text\nA second try.\n```", (None, "unbalanced")),
        ("", (None, "empty")),
        ("   \n", (None, "empty")),
        # No fence at all: the whole reply is the instruction, as upstream takes it (issue 28), if it passes the rest.
        ("Do X without fences", ("Do X without fences", "ok")),
        ("  Answer in one word.\nUse uppercase.\n", ("Answer in one word.\nUse uppercase.", "ok")),
        ("Here is the improved instruction:", (None, "preamble")),
        ("## Records of the step at work\nblah", (None, "echo")),
        ("```\nDo X and then", (None, "truncated")),
        ("```\n\n```", (None, "blank")),
        # The instruction on the opening fence line (a 0.5B reply), alone or before more lines.
        ("```text Extract the amount charged.\n```", ("Extract the amount charged.", "ok")),
        ("```text Extract the amount.\nGive digits only.\n```", ("Extract the amount.\nGive digits only.", "ok")),
        ("```python {linenos}\nx = 1\n```", ("x = 1", "ok")),  # an info string's attribute is not text
        ("```\n## Records of the step at work\nblah\n```", (None, "echo")),
        ("```text\n### Record 1\nInputs:\n- prompt: Create an itinerary\n```", (None, "echo")),
        ("```text\nSee the record 1 above: keep answers short.\n```", ("See the record 1 above: keep answers short.", "ok")),
        ("```text\nNow, I'm ready to write a new instruction for the step.\n```", (None, "preamble")),
        ("```\nHere is the improved instruction:\n```", (None, "preamble")),
        ("```\nI will write a better instruction.\n```", (None, "preamble")),
        # A 0.5B reply that introduces a list it never gives.
        ("```text\nThe step succeeded in the following ways:\n```", (None, "preamble")),
        ("```\nFollow every instruction in the prompt exactly.\n```", ("Follow every instruction in the prompt exactly.", "ok")),
        ("```\nHere is how to answer: follow each instruction in the prompt, then check counts and format before "
         "you reply, and never add text the prompt did not ask for, such as notes, greetings or extra headings.\n```",
         ("Here is how to answer: follow each instruction in the prompt, then check counts and format before you "
          "reply, and never add text the prompt did not ask for, such as notes, greetings or extra headings.", "ok")),
    ],
)
def test_extract_instruction(reply, expected):
    assert extract_instruction(reply) == expected


def test_prompt_shows_instruction_records_and_feedback():
    prompt = render_reflection_prompt("Old instruction.", [ReflectiveRecord({"q": "2+2"}, {"answer": "5"}, "Wrong: 4")])
    assert "Old instruction." in prompt and "- q: 2+2" in prompt and "- answer: 5" in prompt and "Feedback: Wrong: 4" in prompt
    # Coder-tuned reflection LMs answer a bare fence with code; the prompt asks for prose in a text fence.
    assert "```text" in prompt and "plain English" in META_PROMPT and "JSON object" not in prompt


def test_bad_reflection_replies_are_retried_counted_and_never_adopted():
    replies = iter(["", "```\nunterminated", "```\n## What to write\n```"] * 50)
    reflection = ScriptedLM(lambda messages: next(replies), model="reflection")
    task = ScriptedLM(task_responder, model="task")
    dspy.configure(lm=task)
    examples = make_examples()
    program = GEPA(metric, max_metric_calls=60, reflection_lm=reflection, track_stats=True, max_reflection_attempts=3).compile(
        CleanThenShout(), trainset=examples[:6], valset=examples[6:10]
    )
    results = program.detailed_results
    assert len(results.candidates) == 1  # nothing adopted
    counters = results.counters
    assert counters["reflection_rejected_empty"] >= 1
    assert counters["reflection_rejected_truncated"] >= 1
    assert counters["reflection_rejected_echo"] >= 1
    assert counters["reflection_no_proposal"] >= 1
    assert "stalled" in results.stop_reason or results.total_metric_calls <= 60


TRAINING_PROMPT = ("Write a limerick about a guy named Dave that is funny to moms. The limerick should end with the "
                   "phrase 'Yes Mom, I am Dave.' Do not say anything after the limerick.")
LIMERICK_RECORD = ReflectiveRecord({"prompt": TRAINING_PROMPT}, {"response": "There once was a man named Dave..."},
                                   "The response must end with the phrase 'Yes Mom, I am Dave.' exactly.")


@pytest.mark.parametrize(
    "text, copied",
    [
        # Replies seen from a 0.5B reflection LM: a record's input, and our own guidance sent back.
        (TRAINING_PROMPT, True),
        ("Write a short limerick about a guy named Dave that is funny to moms; it should end with the phrase "
         "'Yes Mom, I am Dave.' Do not say anything after the limerick.", True),
        ("Write a new instruction for the step that says what the task is and the exact form every output must take, "
         "states as general rules the facts, conventions and edge cases the feedback reveals.", True),
        # Real instructions: the current one extended, the feedback quoted, a rule that cites one input.
        ("Respond to the prompt. Then check every constraint it states, such as required endings, before replying.",
         False),
        ("Follow the prompt. When it asks for an ending, the response must end with the phrase it names, exactly, "
         "with nothing after it.", False),
        ("Obey each constraint of the prompt, e.g. 'Do not say anything after the limerick', to the letter, and "
         "count words, bullets and sentences before you answer.", False),
    ],
)
def test_copied_share_flags_replies_that_copy_a_record_or_the_guidance(text, copied):
    prompt = render_reflection_prompt("Respond to the prompt.", [LIMERICK_RECORD])
    share = copied_share(text, prompt, "Respond to the prompt.", [LIMERICK_RECORD.feedback])
    assert (share is not None and share >= MAX_COPIED_SHARE) is copied, share


def test_copied_share_ignores_the_kept_instruction_and_short_additions():
    current = "Answer the question in one word, in uppercase, without punctuation, and never explain the answer."
    prompt = render_reflection_prompt(current, [LIMERICK_RECORD])
    assert copied_share(current + " Strip punctuation.", prompt, current) is None  # too little new text to judge
    assert copied_share(current, prompt, current) is None
    assert copied_share("Write a limerick about a guy named Dave that is funny", prompt) == 1.0


def test_a_reply_copying_a_record_is_retried_counted_and_never_adopted():
    def reflect(messages):
        prompt = messages[-1]["content"]
        record_input = prompt.split("- text: ", 1)[1].split("\n", 1)[0]
        if "tried" not in reflect.__dict__:
            reflect.tried = True  # the first reply of the run copies a record's input (and a sentence of the prompt)
            return f"```text\nRewrite this: {record_input}. Find out why the step got each record right or wrong.\n```"
        return "```text\nStrip punctuation from the text and reply with the cleaned field only.\n```"

    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    examples = make_examples()
    results = GEPA(metric, max_metric_calls=40, reflection_lm=ScriptedLM(reflect), track_stats=True,
                   use_merge=False).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results
    assert results.counters["reflection_rejected_copy"] == 1
    assert all("Rewrite this" not in text for candidate in results.candidates for text in candidate.values())
    assert any("Strip punctuation" in candidate["clean"] for candidate in results.candidates)


class TwinPredictors(dspy.Module):
    """Two predictors with the *same* signature: their calls must never be confused."""

    def __init__(self):
        super().__init__()
        self.first = dspy.Predict(dspy.Signature("text -> answer").with_instructions("Answer first."))
        self.second = dspy.Predict(dspy.Signature("text -> answer").with_instructions("Answer second."))

    def forward(self, text):
        a = self.first(text=text + " [1]").answer
        return self.second(text=a + " [2]")


def test_reflective_records_match_predictors_by_identity_not_signature():
    def task(messages):
        return chat_reply(answer=input_value(messages, "text") + f" <{instruction_of(messages)}>")

    prompts = []

    def reflect(messages):
        prompts.append(messages[-1]["content"])
        return "```\nNew rule.\n```"

    dspy.configure(lm=ScriptedLM(task))
    examples = [dspy.Example(text=f"w{i}", answer="x").with_inputs("text") for i in range(4)]

    def m(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return dspy.Prediction(score=0.0, feedback=f"feedback for {pred_name}")

    GEPA(m, max_metric_calls=30, reflection_lm=ScriptedLM(reflect), use_merge=False).compile(TwinPredictors(), trainset=examples)
    first_prompt = prompts[0]  # round robin starts with 'first'
    assert "Answer first." in first_prompt.split("<<<END>>>")[0]
    assert "[1]" in first_prompt and "[2]" not in first_prompt
    assert "feedback for first" in first_prompt
    second_prompt = next(p for p in prompts if "Answer second." in p.split("<<<END>>>")[0])
    assert "[2]" in second_prompt and "feedback for second" in second_prompt


def test_format_failures_become_feedback_when_asked():
    def task(messages):
        if "Copy" in instruction_of(messages):
            return "no fields at all"  # unparsable by ChatAdapter (and its JSON fallback)
        return task_responder(messages)

    prompts = []

    def reflect(messages):
        prompts.append(messages[-1]["content"])
        return "```\nStrip punctuation, reply with the cleaned field.\n```"

    dspy.configure(lm=ScriptedLM(task), adapter=dspy.ChatAdapter(use_json_adapter_fallback=False))
    examples = make_examples()[:6]
    program = GEPA(metric, max_metric_calls=40, reflection_lm=ScriptedLM(reflect), track_stats=True,
                   add_format_failure_as_feedback=True, use_merge=False).compile(CleanThenShout(), trainset=examples)
    counters = program.detailed_results.counters
    assert counters.get("failed_runs_parse_error", 0) >= 1
    assert prompts and "could not be parsed" in prompts[0] and "no fields at all" in prompts[0]
    dspy.configure(adapter=None)


def _run_with_metric(metric_fn, **kwargs):
    from .toy_task import make_lms

    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()
    optimizer = GEPA(metric_fn, max_metric_calls=60, reflection_lm=reflection, track_stats=True, **kwargs)
    return optimizer.compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results


def _predictor_scores_differ(gold, pred, trace=None, pred_name=None, pred_trace=None):
    result = metric(gold, pred, trace, pred_name, pred_trace)
    if pred_name is None:
        return result
    return dspy.Prediction(score=max(0.0, result.score - 0.25), feedback=result.feedback)


def test_a_predictor_level_score_that_differs_is_warned_once_counted_and_never_used(caplog):
    consistent = _run_with_metric(metric)
    assert consistent.counters["predictor_feedback_score_mismatches"] == 0
    with caplog.at_level("WARNING", logger="gepa_dspy"):
        differing = _run_with_metric(_predictor_scores_differ)
    assert differing.counters["predictor_feedback_score_mismatches"] >= 2
    assert sum("without it" in r.getMessage() for r in caplog.records) == 1
    # Scores come from the program-level call only, so the search is the same as with a consistent metric.
    assert differing.val_subscores == consistent.val_subscores and differing.candidates == consistent.candidates
    caplog.clear()
    with caplog.at_level("WARNING", logger="gepa_dspy"):
        quiet = _run_with_metric(_predictor_scores_differ, warn_on_score_mismatch=False)
    assert quiet.counters["predictor_feedback_score_mismatches"] == differing.counters["predictor_feedback_score_mismatches"]
    assert not any("without it" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('{"instruction": "Do X."}', ("Do X.", "ok")),
        ('{\n  "instruction": "  Do X.\\nThen Y.  "\n}', ("Do X.\nThen Y.", "ok")),
        ('```json\n{"instruction": "Do X."}\n```', ("Do X.", "ok")),  # a server that ignores the schema
        ('{"instruction": "Do X and then', (None, "truncated")),
        ("Do X.", (None, "not_json")),
        ('{"new_instruction": "Do X."}', (None, "not_json")),
        ('{"instruction": 3}', (None, "not_json")),
        ('["Do X."]', (None, "not_json")),
        ("", (None, "empty")),
        ('{"instruction": "  "}', (None, "blank")),
        ('{"instruction": "## Records of the step at work\\nblah"}', (None, "echo")),
        ('{"instruction": "Here is the improved instruction:"}', (None, "preamble")),
    ],
)
def test_extract_json_instruction(reply, expected):
    from gepa_dspy.adapter.reflection import extract_json_instruction

    assert extract_json_instruction(reply) == expected


def test_json_schema_replies_are_asked_for_on_the_wire_and_adopted():
    """reflection_reply_format="json_schema" through dspy.LM and HTTP: the schema, the prompt, the parsing."""
    import json

    from gepa_dspy.testing import ScriptedOpenAIServer
    from .toy_task import reflection_responder

    def reflect(messages, model):
        fenced = reflection_responder(messages)  # "... ```\nNEW\n```"
        return json.dumps({"instruction": fenced.split("```\n", 1)[1].rsplit("\n```", 1)[0]})

    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    examples = make_examples()
    with ScriptedOpenAIServer(reflect, models=["reflection"], record_requests=True) as server:
        lm = dspy.LM("openai/reflection", api_base=server.url, api_key="x", cache=False)
        program = GEPA(metric, max_metric_calls=60, reflection_lm=lm, track_stats=True, use_merge=False,
                       reflection_reply_format="json_schema").compile(CleanThenShout(), trainset=examples[:8],
                                                                      valset=examples[8:])
        requests = list(server.requests)
    assert requests
    for request in requests:
        schema = request.body["response_format"]["json_schema"]["schema"]
        assert schema["required"] == ["instruction"] and schema["properties"]["instruction"] == {"type": "string"}
        prompt = request.messages[-1]["content"]
        assert prompt.endswith('Reply with a JSON object whose one key, "instruction", holds the new instruction.')
        assert "```text" not in prompt
    results = program.detailed_results
    assert len(results.candidates) > 1 and not any(k.startswith("reflection_rejected") for k in results.counters
                                                   if results.counters[k])
    assert "strip punctuation" in program.clean.signature.instructions.lower()


def test_an_unknown_reflection_reply_format_is_refused_at_construction():
    with pytest.raises(ValueError, match="reflection_reply_format must be one of"):
        GEPA(metric, max_metric_calls=10, reflection_reply_format="xml")


def test_a_checkpoint_written_under_another_reply_format_is_refused(tmp_path):
    from gepa_dspy.engine.checkpoint import CheckpointMismatchError
    from .toy_task import make_lms

    task, reflection = make_lms()
    dspy.configure(lm=task)
    examples = make_examples()

    def compile_with(**kwargs):
        return GEPA(metric, max_metric_calls=30, reflection_lm=reflection, use_merge=False, log_dir=str(tmp_path),
                    **kwargs).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])

    compile_with()
    # Proposals replayed from the checkpoint's journal were written under the other format.
    with pytest.raises(CheckpointMismatchError, match="reflection_reply_format"):
        compile_with(reflection_reply_format="json_schema")


def test_unfenced_replies_are_adopted_when_they_pass_every_other_check():
    """Issue 28: 60 of 60 unfenced replies were rejected; upstream takes such a reply as the instruction."""
    from .toy_task import reflection_responder

    def unfenced(messages):
        return reflection_responder(messages).split("```\n", 1)[1].rsplit("\n```", 1)[0]

    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    examples = make_examples()
    results = GEPA(metric, max_metric_calls=60, reflection_lm=ScriptedLM(unfenced), track_stats=True,
                   use_merge=False).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results
    assert len(results.candidates) > 1 and results.val_aggregate_scores[results.best_idx] == 1.0
    assert not any(v for k, v in results.counters.items() if k.startswith("reflection_rejected"))


BILL_RECORDS = [
    ReflectiveRecord({"bill": "Hotel Bellevue, 2 nights. Total: 1.299,00 €"}, {"amount": "1299"},
                     "Expected 'EUR 1299.00': give the currency code, then the amount with two decimals."),
    ReflectiveRecord({"bill": "Taxi from the airport to the old town, paid in cash, fare 45 francs plus a tip of 5 "
                              "francs, receipt number 8812"}, {"amount": "CHF 45"},
                     "Expected 'CHF 50.00': the tip is part of the amount."),
]
KEPT_EXAMPLE = "Hotel Bellevue, 2 nights. Total: 1.299,00 € gives EUR 1299.00. "
BILL_RULES = ("Give the total amount charged as a currency code followed by the amount with two decimals, e.g. "
              "EUR 1299.00. Read decimal commas as decimal points, and include tips in the total. Convert currency "
              "symbols to their ISO codes and never add words before or after the amount.")


@pytest.mark.parametrize(
    "reply, pasted",
    [
        # The demo's adopted instruction (issue 31): rules plus the records, input and feedback, pasted.
        (BILL_RULES + "\n- Input: Hotel Bellevue, 2 nights. Total: 1.299,00 €\n  Feedback: Expected 'EUR 1299.00': "
         "give the currency code, then the amount with two decimals.", True),
        # A long input pasted inside otherwise new text, however small its share of the reply.
        (BILL_RULES * 3 + " Example: Taxi from the airport to the old town, paid in cash, fare 45 francs plus a tip "
         "of 5 francs, receipt number 8812.", True),
        # Quoting one sentence of an input (under PASTED_RUN_WORDS words) is not pasting it.
        (BILL_RULES + " Example: Taxi from the airport to the old town, paid in cash.", False),
        (BILL_RULES, False),
        # Quoting one feedback is recording a fact, not pasting a record.
        (BILL_RULES + " Expected 'CHF 50.00': the tip is part of the amount.", False),
        # Text the current instruction already has is the parent's, not pasted.
        (KEPT_EXAMPLE + BILL_RULES + " Expected 'EUR 1299.00': give the currency code, then the amount with two "
         "decimals.", False),
        # One short input with a rule in new words is a worked example, not a record: allowed.
        ("Hotel Bellevue, 2 nights. Total: 1.299,00 € is EUR 1299.00: write the code, then two decimals. "
         + BILL_RULES, False),
    ],
)
def test_pasted_records_are_found_whatever_share_of_the_reply_they_are(reply, pasted):
    from gepa_dspy.adapter.reflection import pasted_records

    current = KEPT_EXAMPLE if reply.startswith(KEPT_EXAMPLE) else "Extract the amount."
    assert pasted_records(reply, BILL_RECORDS, current) is pasted
    # The 4-gram share check lets the first two through: most of their new text is new.
    prompt = render_reflection_prompt(current, BILL_RECORDS)
    if pasted:
        assert copied_share(reply, prompt, current, [r.feedback for r in BILL_RECORDS]) < MAX_COPIED_SHARE


def test_a_reply_echoing_the_records_heading_without_its_hashes_is_an_echo():
    assert extract_instruction("```text\nRecords of the step at work: - Input: Hotel Bellevue\n```") == (None, "echo")


def test_a_reply_pasting_a_record_is_rejected_counted_and_never_adopted():
    def reflect(messages):
        prompt = messages[-1]["content"]
        record_input = prompt.split("- text: ", 1)[1].split("\n", 1)[0]
        record_feedback = prompt.split("Feedback: ", 1)[1].split("\n", 1)[0]
        if "tried" not in reflect.__dict__:
            reflect.tried = True  # the first reply of the run: a rule, then a record pasted under it
            return (f"```text\nStrip punctuation from the text and reply with the cleaned field only.\n"
                    f"Input: {record_input} Note: pasted. Feedback: {record_feedback}\n```")
        return "```text\nStrip punctuation from the text and reply with the cleaned field only.\n```"

    dspy.configure(lm=ScriptedLM(task_responder, model="task"))
    examples = make_examples([f"{w} is the word of the day{p}" for w, p in zip("abcdefghijklmnop", "!?.,;!?.,;!?.,;!")])
    results = GEPA(metric, max_metric_calls=40, reflection_lm=ScriptedLM(reflect), track_stats=True,
                   use_merge=False).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:]).detailed_results
    assert results.counters["reflection_rejected_pasted_records"] == 1
    assert all("Note: pasted" not in text for candidate in results.candidates for text in candidate.values())
