"""Tests for benchmarks.pupa: splits, the PAPILLON program and the judge-based metric (scripted LMs only)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import csv  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from dspy.lm15 import Message, Response, TextPart, Usage  # noqa: E402

import benchmarks  # noqa: E402
from benchmarks.common import DataNotFoundError, resolve_data_dir  # noqa: E402
from benchmarks.pupa import (  # noqa: E402
    JudgeFailure,
    PupaMetric,
    load_splits,
    make_metric,
    make_program,
    parse_pii_units,
)
from benchmarks.pupa.data import CSV_NAME, REQUIRED_COLUMNS  # noqa: E402
from benchmarks.pupa.judge import (  # noqa: E402
    RETRY_CONFIG,
    VerdictParseError,
    parse_preference,
    parse_revealed,
    revealed_indices,
)

REAL_CSV = resolve_data_dir() / "pupa" / CSV_NAME


# ---------------------------------------------------------------- scripted LMs

Reply = Callable[["Call"], str]


class Call:
    """One request a scripted LM received: system prompt, user text and the request's config."""

    def __init__(self, system: str, user: str, temperature: float | None,
                 response_format: dict | None = None) -> None:
        self.system = system
        self.user = user
        self.temperature = temperature
        self.response_format = response_format

    @property
    def wants_json(self) -> bool:
        """Whether DSPy's JSONAdapter wrote the prompt (the judge's ``json_schema`` format)."""
        return "Outputs will be a JSON object" in self.system

    def field(self, name: str) -> str:
        """The value of ChatAdapter input field ``name`` in the user message."""
        match = re.search(rf"\[\[ ## {name} ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", self.user, re.S)
        assert match, f"no field {name} in {self.user!r}"
        return match.group(1)

    def asks_for(self, output_field: str) -> bool:
        outputs = self.system.split("Your output fields are:")[-1].split("All interactions")[0]
        return f"`{output_field}`" in outputs


class ScriptedEngine:
    """A DSPy engine answering with ``reply(call)``; records every call (thread-safe)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def complete(self, request):  # noqa: ANN001, ANN201 - dspy.lm15 types
        system = request.system if isinstance(request.system, str) or request.system is None else "".join(
            part.text for part in request.system
        )
        call = Call(system or "", "\n".join(m.text or "" for m in request.messages), request.config.temperature,
                    request.config.response_format)
        with self._lock:
            self.calls.append(call)
        text = self.reply(call)
        return Response(id=None, model="scripted", message=Message.assistant([TextPart(text)]),
                        finish_reason="stop", usage=Usage(input_tokens=0, output_tokens=0, total_tokens=0))

    def stream(self, request):  # noqa: ANN001, ANN201
        raise NotImplementedError

    def close(self) -> None:
        pass


def scripted_lm(reply: Reply) -> tuple[dspy.LM, ScriptedEngine]:
    engine = ScriptedEngine(reply)
    return dspy.LM("scripted/model", engine=engine, cache=False), engine


def chat_reply(**fields: str) -> str:
    """A reply in DSPy's ChatAdapter format."""
    body = "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in fields.items())
    return body + "[[ ## completed ## ]]"


def json_revealed(text: str) -> object:
    """The scripted leakage answer as the JSON value a schema-following judge would give, if it has one."""
    if text.strip().casefold() == "none":
        return []
    if re.fullmatch(r"[\d,\s]+", text):
        return [int(k) for k in re.findall(r"\d+", text)]
    return None  # no JSON equivalent: the reply is the raw text, which JSONAdapter cannot parse


def trusted_reply(call: Call) -> str:
    if call.asks_for("redacted_request"):
        query = call.field("user_query")
        return chat_reply(reasoning="drop the name", redacted_request=query.replace("Alice", "[someone]"))
    if call.asks_for("response"):
        return chat_reply(response=f"FINAL using <{call.field('untrusted_response')}>")
    raise AssertionError(f"unexpected trusted prompt: {call.system[:200]}")


class ScriptedJudge:
    """A judge LM: ``prefer(a, b)`` decides comparisons, ``revealed(request, items)`` the leakage answers."""

    def __init__(
        self,
        prefer: Callable[[str, str], str] = lambda a, b: "A" if "OURS" in a else "B",
        revealed: Callable[[str, list[str]], str] = lambda request, items: "none",
    ) -> None:
        self.prefer = prefer
        self.revealed = revealed
        self.lm, self.engine = scripted_lm(self.answer)

    def answer(self, call: Call) -> str:
        if call.asks_for("better_response"):
            verdict = self.prefer(call.field("response_a"), call.field("response_b"))
            if call.wants_json:
                return json.dumps({"better_response": verdict})
            return chat_reply(better_response=verdict)
        if call.asks_for("revealed_items"):
            items = [line.split(". ", 1)[1] for line in call.field("private_items").splitlines()]
            text = self.revealed(call.field("request"), items)
            if call.wants_json:
                numbers = json_revealed(text)
                return text if numbers is None else json.dumps({"revealed_items": numbers})
            return chat_reply(revealed_items=text)
        raise AssertionError(f"unexpected judge prompt: {call.system[:200]}")

    def calls(self, kind: str) -> list[Call]:
        field = {"compare": "better_response", "leak": "revealed_items"}[kind]
        return [c for c in self.engine.calls if c.asks_for(field)]


def gold(units: list[str] | str = ("Alice", "Acme Corp"), query: str = "Write to Alice at Acme Corp.") -> dspy.Example:
    return dspy.Example(
        user_query=query, target_response="REFERENCE answer", pii_units=list(units) if not isinstance(units, str)
        else units,
    ).with_inputs("user_query")


def pred(request: str = "Write to a colleague.", response: str = "OURS answer") -> dspy.Prediction:
    return dspy.Prediction(redacted_request=request, untrusted_response="u", response=response)


# ---------------------------------------------------------------- data

def write_fixture_csv(directory: Path, n_rows: int = 443, columns: tuple[str, ...] = REQUIRED_COLUMNS) -> Path:
    (directory / "pupa").mkdir(parents=True, exist_ok=True)
    path = directory / "pupa" / CSV_NAME
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for i in range(n_rows):
            row = {
                "conversation_hash": f"h{i}",
                "predicted_category": "job",
                "user_query": f"query {i}, with a comma and \"quotes\"\nand a newline",
                "target_response": f"response {i}",
                "pii_units": f" name{i} ||  || Name{i}||org{i} ||",
                "redacted_query": f"redacted {i}",
            }
            writer.writerow({c: row[c] for c in columns})
    return path


def check_splits(splits, sizes: tuple[int, int, int]) -> None:  # noqa: ANN001
    blocks = ((0, 111), (111, 222), (222, 443))
    parts = (splits.train, splits.val, splits.test)
    assert tuple(len(p) for p in parts) == sizes
    for part, (start, end) in zip(parts, blocks):
        rows = [ex.row for ex in part]
        assert rows == sorted(rows) and len(set(rows)) == len(rows)
        assert all(start <= r < end for r in rows)
        assert all(set(ex.inputs().keys()) == {"user_query"} for ex in part)


def test_parse_pii_units_strips_drops_empty_and_repeats() -> None:
    assert parse_pii_units(" a ||  || A||b c ||") == ["a", "b c"]
    assert parse_pii_units("") == []


def test_fixture_csv_splits(tmp_path: Path) -> None:
    write_fixture_csv(tmp_path)
    paper = load_splits("paper", data_dir=tmp_path)
    check_splits(paper, (111, 111, 221))
    assert paper.train[0].user_query == "query 0, with a comma and \"quotes\"\nand a newline"
    assert paper.train[0].pii_units == ["name0", "org0"]
    assert paper.test[-1].conversation_hash == "h442" and paper.test[-1].reference_redaction == "redacted 442"

    small = load_splits("small", seed=3, data_dir=tmp_path)
    check_splits(small, (20, 20, 40))
    again = load_splits("small", seed=3, data_dir=tmp_path)
    assert [e.row for e in small.test] == [e.row for e in again.test]
    other = load_splits("small", seed=4, data_dir=tmp_path)
    assert [e.row for e in small.test] != [e.row for e in other.test]
    check_splits(load_splits(sizes=(5, 0, 300), data_dir=tmp_path), (5, 0, 221))


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fixture_csv(tmp_path)
    monkeypatch.setenv("GEPA_DSPY_DATA", str(tmp_path))
    assert load_splits(sizes=(1, 1, 1)).train[0].conversation_hash.startswith("h")


def test_bad_data_gives_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="PUPA_New.csv"):
        load_splits(data_dir=tmp_path)
    write_fixture_csv(tmp_path, n_rows=300)
    with pytest.raises(ValueError, match="300 data rows"):
        load_splits(data_dir=tmp_path)
    write_fixture_csv(tmp_path, columns=tuple(c for c in REQUIRED_COLUMNS if c != "pii_units"))
    with pytest.raises(ValueError, match="pii_units"):
        load_splits(data_dir=tmp_path)
    with pytest.raises(ValueError, match="scale"):
        load_splits("huge", data_dir=tmp_path)


@pytest.mark.skipif(not REAL_CSV.exists(), reason="shared PUPA data not available")
def test_real_csv_splits() -> None:
    paper = load_splits("paper")
    check_splits(paper, (111, 111, 221))
    assert all(ex.pii_units and all(u == u.strip() and u for u in ex.pii_units) for ex in paper.train)
    small = load_splits("small", seed=0)
    check_splits(small, (20, 20, 40))
    assert [e.row for e in small.val] == [e.row for e in load_splits("small", seed=0).val]
    assert benchmarks.get("pupa").load_splits is load_splits


# ---------------------------------------------------------------- program

def test_program_pipeline_with_separate_untrusted_lm() -> None:
    trusted, trusted_engine = scripted_lm(trusted_reply)
    untrusted, untrusted_engine = scripted_lm(lambda call: "EXTERNAL ANSWER")
    program = make_program(untrusted_lm=untrusted)
    with dspy.context(lm=trusted):
        out = program(user_query="Email Alice about the invoice.")
    assert out.redacted_request == "Email [someone] about the invoice."
    assert out.untrusted_response == "EXTERNAL ANSWER"
    assert out.response == "FINAL using <EXTERNAL ANSWER>"
    # The untrusted model saw only the redacted request, as a bare user message with no system prompt.
    [seen] = untrusted_engine.calls
    assert seen.system == "" and seen.user == "Email [someone] about the invoice."
    assert len(trusted_engine.calls) == 2


def test_untrusted_call_is_not_an_optimizable_predictor() -> None:
    program = make_program(untrusted_lm=scripted_lm(lambda call: "x")[0])
    assert [name for name, _ in program.named_predictors()] == ["craft_redacted_request.predict", "respond_to_query"]
    assert set(program.dump_state()) == {"craft_redacted_request.predict", "respond_to_query"}
    copy = program.deepcopy()
    assert copy.untrusted is program.untrusted  # shared handle on the external service
    assert copy.respond_to_query is not program.respond_to_query
    trusted, _ = scripted_lm(trusted_reply)
    with dspy.context(lm=trusted, trace=[]):
        program(user_query="hi Alice")
        traced = [predictor for predictor, _, _ in dspy.settings.trace]
    assert traced == [program.craft_redacted_request.predict, program.respond_to_query]


def test_untrusted_defaults_to_configured_lm() -> None:
    calls: list[str] = []

    def reply(call: Call) -> str:
        if call.system == "":
            calls.append(call.user)
            return "DEFAULT EXTERNAL"
        return trusted_reply(call)

    lm, _ = scripted_lm(reply)
    with dspy.context(lm=lm):
        out = make_program()(user_query="Alice asks")
    assert calls == ["[someone] asks"] and out.untrusted_response == "DEFAULT EXTERNAL"


def test_program_errors_are_clear() -> None:
    with pytest.raises(TypeError, match="unknown option"):
        make_program(retriever_k=3)
    with dspy.context(lm=None), pytest.raises(RuntimeError, match="no untrusted LM"):
        make_program().untrusted("request")


# ---------------------------------------------------------------- judge parsing

@pytest.mark.parametrize(
    ("text", "verdict"),
    [("A", "A"), ("**B**", "B"), ("Response A is better.", "A"), ("tie", "tie"), ("They are equally good", "tie")],
)
def test_parse_preference(text: str, verdict: str) -> None:
    assert parse_preference(text) == verdict


@pytest.mark.parametrize("text", ["", "maybe", "A and B", "both", "C"])
def test_parse_preference_rejects(text: str) -> None:
    with pytest.raises(VerdictParseError):
        parse_preference(text)


@pytest.mark.parametrize(
    ("text", "indices"),
    [("none", []), ("[]", []), ("No items revealed", []), ("1, 3", [0, 2]), ("[2]", [1]), ("items 3 and 1", [0, 2]),
     ("2 (the company)", [1])],
)
def test_parse_revealed(text: str, indices: list[int]) -> None:
    assert parse_revealed(text, 3) == indices


@pytest.mark.parametrize("text", ["", "4", "0", "1, maybe 2", "the name"])
def test_parse_revealed_rejects(text: str) -> None:
    with pytest.raises(VerdictParseError):
        parse_revealed(text, 3)


@pytest.mark.parametrize(("numbers", "indices"), [([], []), ([3, 1], [0, 2]), ([2, 2], [1])])
def test_revealed_indices(numbers: list[int], indices: list[int]) -> None:
    assert revealed_indices(numbers, 3) == indices


@pytest.mark.parametrize("numbers", [[4], [0], ["1"], [True], "1", None, [1.0]])
def test_revealed_indices_rejects(numbers: object) -> None:
    with pytest.raises(VerdictParseError):
        revealed_indices(numbers, 3)


# ---------------------------------------------------------------- metric

def test_quality_asks_both_orders_and_counts_wins() -> None:
    judge = ScriptedJudge()  # always prefers whichever response is ours
    result = make_metric(judge.lm)(gold(), pred())
    first, second = judge.calls("compare")
    assert "OURS" in first.field("response_a") and "REFERENCE" in first.field("response_b")
    assert "REFERENCE" in second.field("response_a") and "OURS" in second.field("response_b")
    assert first.field("user_query") == "Write to Alice at Acme Corp."
    assert result.quality == 1.0 and result.leakage == 0.0 and result.score == 1.0
    assert result.judge_failed is False


@pytest.mark.parametrize(
    ("prefer", "quality"),
    [
        (lambda a, b: "A", 0.5),  # position bias: ours wins only when shown first
        (lambda a, b: "tie", 1.0),
        (lambda a, b: "B" if "OURS" in a else "A", 0.0),  # always the reference
    ],
)
def test_quality_mixed_tie_and_loss(prefer: Callable[[str, str], str], quality: float) -> None:
    result = make_metric(ScriptedJudge(prefer=prefer).lm)(gold(), pred())
    assert result.quality == quality
    assert result.score == pytest.approx((quality + 1.0) / 2)


def test_verbatim_leaks_need_no_judge_call() -> None:
    judge = ScriptedJudge()
    result = make_metric(judge.lm)(gold(), pred(request="Write to ALICE at acme corp."))
    assert judge.calls("leak") == []
    assert result.leakage == 1.0 and result.leaked_units == ["Alice", "Acme Corp"]
    assert result.score == pytest.approx(0.5)
    no_units = make_metric(judge.lm)(gold(units=[]), pred())
    assert judge.calls("leak") == [] and no_units.leakage == 0.0


def test_judge_asked_only_about_units_not_found_verbatim() -> None:
    judge = ScriptedJudge(revealed=lambda request, items: "1" if items == ["Acme Corp"] else "none")
    result = make_metric(judge.lm)(gold(), pred(request="Write to Alice at the A.C.M.E. company."))
    [leak_call] = judge.calls("leak")
    assert leak_call.field("private_items") == "1. Acme Corp"
    assert leak_call.field("request") == "Write to Alice at the A.C.M.E. company."
    assert result.leakage == 1.0 and result.leaked_units == ["Alice", "Acme Corp"]
    assert "verbatim: 'Alice'" in result.feedback and "recognizable per the judge: 'Acme Corp'" in result.feedback


def test_gold_units_as_string_and_bad_inputs() -> None:
    judge = ScriptedJudge()
    metric = make_metric(judge.lm)
    assert metric(gold(units="Alice|| Acme Corp ||"), pred(request="to alice")).leakage == 0.5
    with pytest.raises(ValueError, match="redacted_request"):
        metric(gold(), dspy.Prediction(response="x"))
    with pytest.raises(ValueError, match="pii_units"):
        metric(gold(units=[1, 2]), pred())  # type: ignore[list-item]


def test_unparseable_answer_is_retried_once_with_fresh_settings() -> None:
    answers = iter(["maybe", "A", "B"])
    judge = ScriptedJudge(prefer=lambda a, b: next(answers))
    metric = make_metric(judge.lm)
    result = metric(gold(), pred())
    temperatures = [c.temperature for c in judge.calls("compare")]
    assert temperatures == [None, RETRY_CONFIG["temperature"], None]
    assert result.quality == 1.0 and result.judge_failed is False
    stats = metric.stats
    assert (stats.judge.questions, stats.judge.retries, stats.judge.failures) == (4, 1, 0)
    assert metric.judge_failures == 0


def test_judge_failure_is_flagged_and_counted() -> None:
    judge = ScriptedJudge(revealed=lambda request, items: "I cannot tell")
    metric = make_metric(judge.lm)
    result = metric(gold(), pred())
    assert len(judge.calls("leak")) == 2  # one retry, then give up
    assert result.judge_failed is True and result.score == 0.0
    assert result.quality == 1.0 and result.leakage is None
    assert result.feedback.startswith("JUDGE FAILURE") and "leakage check" in result.feedback
    assert metric.judge_failures == 1 and metric.stats.judge.failures == 1
    with pytest.raises(JudgeFailure, match="leakage check after 2 attempt"):
        make_metric(judge.lm, on_judge_failure="raise")(gold(), pred())


def test_reply_without_fields_is_a_parse_failure_too() -> None:
    lm, engine = scripted_lm(lambda call: "I refuse to use your format")
    metric = make_metric(lm)
    result = metric(gold(units=[]), pred())
    assert result.judge_failed is True and "AdapterParseError" in result.feedback
    assert metric.stats.judge.retries == 1  # the first comparison failed twice; the metric stopped there


def test_feedback_per_predictor() -> None:
    judge = ScriptedJudge(prefer=lambda a, b: "B" if "OURS" in a else "A")
    metric = make_metric(judge.lm)
    example, leaky = gold(), pred(request="Write to Alice at a company.")
    whole = metric(example, leaky).feedback
    redaction = metric(example, leaky, pred_name="craft_redacted_request.predict").feedback
    response = metric(example, leaky, pred_name="respond_to_query").feedback
    assert "Score 0.25 = (quality 0 + (1 - leakage 0.50)) / 2." in whole
    assert "Quality 0" in whole and "'Alice'" in whole and "Withheld correctly: 'Acme Corp'" in whole
    assert "To improve the redacted request: leave out 'Alice'" in redaction
    assert "REFERENCE answer" not in redaction
    assert "To improve the final response" in response and "REFERENCE answer" in response
    assert "'Alice'" not in response
    assert len(judge.engine.calls) == 3  # verdicts are remembered across the three feedback requests
    assert metric.stats.memo_hits == 2

    clean = make_metric(ScriptedJudge().lm)(gold(), pred(), pred_name="craft_redacted_request.predict").feedback
    assert "none of the 2 private items" in clean and "protected every private item" in clean


def test_judge_uses_its_own_lm_and_stays_out_of_traces() -> None:
    def refuse(call: Call) -> str:
        raise AssertionError("the program's LM must not judge")

    program_lm, _ = scripted_lm(refuse)
    judge = ScriptedJudge()
    with dspy.context(lm=program_lm, trace=[]):
        result = make_metric(judge.lm)(gold(), pred(request="to someone at acme CORP"))
        assert dspy.settings.trace == []
    assert result.leakage == 0.5


def test_metric_is_thread_safe() -> None:
    judge = ScriptedJudge(revealed=lambda request, items: "1")
    metric = make_metric(judge.lm)
    examples = [gold(units=[f"secret{i}", f"other{i}"], query=f"q{i}") for i in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda ex: metric(ex, pred(request=f"{ex.pii_units[0]} stuff")), examples))
    assert all(r.leakage == 1.0 and r.quality == 1.0 for r in results)
    stats = metric.stats
    assert stats.results == 24 and stats.judge.questions == 24 * 3 and len(judge.engine.calls) == 72


def test_module_metric_and_evaluate_integration() -> None:
    judge = ScriptedJudge()
    trusted, _ = scripted_lm(trusted_reply)
    untrusted, _ = scripted_lm(lambda call: "OURS external")
    program = make_program(untrusted_lm=untrusted)
    devset = [gold(query="Ask Alice at Acme Corp for OURS")]
    evaluate = dspy.Evaluate(devset=devset, metric=make_metric(judge.lm), num_threads=1, display_progress=False)
    with dspy.context(lm=trusted):
        result = evaluate(program)
    assert result.score == 75.0  # quality 1; "Acme Corp" leaked verbatim, Alice redacted: leakage 0.5
    assert isinstance(benchmarks.get("pupa").metric, PupaMetric)


def test_public_loader_uses_the_same_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from benchmarks.pupa.data import load_public_splits, read_rows

    rows = read_rows(write_fixture_csv(tmp_path))
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda name, config, split: rows if (name, config, split) == (
        "Columbia-NLP/PUPA", "pupa_new", "train") else None
    monkeypatch.setitem(sys.modules, "datasets", fake)
    public = load_public_splits("small", seed=1)
    local = load_splits("small", seed=1, data_dir=tmp_path)
    assert [e.toDict() for e in public.test] == [e.toDict() for e in local.test]


# ---------------------------------------------------------------- judge answer formats

def schema_of(call: Call) -> dict:
    """The JSON schema of the answer object a call's ``response_format`` asked for (OpenAI or lm15 shape)."""
    fmt = call.response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    return fmt["schema"] if "schema" in fmt else fmt["json_schema"]["schema"]


@pytest.mark.parametrize("judge_format", ["json_schema", "text"])
def test_both_judge_formats_give_the_same_verdicts(judge_format: str) -> None:
    judge = ScriptedJudge(prefer=lambda a, b: "A", revealed=lambda request, items: "1")
    metric = make_metric(judge.lm, judge_format=judge_format)
    result = metric(gold(), pred(request="Write to A. at the A.C.M.E. company."))
    assert result.quality == 0.5 and result.leakage == 0.5 and result.judge_failed is False
    assert metric.settings == {"judge_format": judge_format, "on_judge_failure": "flag"}
    calls = judge.engine.calls
    assert len(calls) == 3
    assert all(c.wants_json == (judge_format == "json_schema") for c in calls)
    if judge_format == "text":
        assert all(c.response_format is None for c in calls)
        return
    compare, leak = judge.calls("compare")[0], judge.calls("leak")[0]
    assert schema_of(compare)["properties"] == {"better_response": {"type": "string", "enum": ["A", "B", "tie"]}}
    items = schema_of(leak)["properties"]["revealed_items"]
    assert items == {"type": "array", "items": {"type": "integer", "enum": [1, 2]}, "maxItems": 2}


@pytest.mark.parametrize(
    "bad_reply",
    [
        '{"better_response": "maybe"}',  # not one of the answers: DSPy's JSONAdapter refuses it
        '{"revealed_items": [3]}',  # a number outside the list: our check refuses it
        "I cannot tell",  # not JSON at all
    ],
)
def test_json_answer_outside_the_schema_is_retried_then_flagged(bad_reply: str) -> None:
    question = "better_response" if "better" in bad_reply or "cannot" in bad_reply else "revealed_items"

    def reply(call: Call) -> str:
        if call.asks_for(question):
            return bad_reply
        return ScriptedJudge().answer(call)

    lm, engine = scripted_lm(reply)
    metric = make_metric(lm)
    result = metric(gold(), pred(request="Write to someone."))
    asked = [c for c in engine.calls if c.asks_for(question)]
    assert len(asked) == 2 and asked[1].temperature == RETRY_CONFIG["temperature"]
    assert asked[1].response_format == asked[0].response_format  # the retry keeps the schema
    assert result.judge_failed is True and result.score == 0.0
    assert metric.judge_failures == 1 and metric.stats.judge.retries == 1


def test_unknown_judge_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="answer_format must be one of"):
        make_metric(judge_format="yaml")  # type: ignore[arg-type]
