"""Tests for gepa_dspy.testing: the scripted OpenAI-compatible server, ScriptedLM and ChatAdapter helpers."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from dspy.adapters.chat_adapter import ChatAdapter  # noqa: E402
from dspy.utils.exceptions import (  # noqa: E402
    LMInvalidRequestError,
    LMRateLimitError,
    LMServerError,
    LMTransportError,
)

from gepa_dspy.testing import (  # noqa: E402
    ChatPromptError,
    DropConnection,
    InFlightTracker,
    ScriptedHTTPError,
    ScriptedLM,
    ScriptedOpenAIServer,
    format_chat_adapter_reply,
    is_json_adapter_prompt,
    parse_input_fields,
    parse_instructions,
    parse_requested_output_fields,
    reply_for_prompt,
)


def answer_responder(messages: list[dict], model: str) -> str:
    """Echo the question back as the answer, filling any other requested field."""
    question = parse_input_fields(messages).get("question", "")
    return reply_for_prompt(messages, {"answer": f"echo:{question}", "reasoning": "because"})


def _chat_messages(signature: str | type[dspy.Signature], **inputs: object) -> list[dict]:
    sig = dspy.ensure_signature(signature)
    return ChatAdapter().format(sig, demos=[], inputs=inputs)


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post_json(url: str, payload: object) -> tuple[int, dict]:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- ChatAdapter helpers ------------------------------------------------------------------------


def test_parse_requested_output_fields_reads_the_system_prompt() -> None:
    messages = _chat_messages("question, context: list[str] -> reasoning, answer: int", question="q", context=["c"])
    assert parse_requested_output_fields(messages) == ["reasoning", "answer"]


def test_parse_requested_output_fields_falls_back_to_the_user_reminder() -> None:
    messages = _chat_messages("question -> answer, confidence: float", question="q")
    without_system = [m for m in messages if m["role"] != "system"]
    assert parse_requested_output_fields(without_system) == ["answer", "confidence"]


def test_parse_requested_output_fields_rejects_a_plain_prompt() -> None:
    with pytest.raises(ChatPromptError):
        parse_requested_output_fields([{"role": "user", "content": "hello"}])


def test_parse_instructions_and_inputs_round_trip_a_multiline_instruction() -> None:
    sig = dspy.Signature("question, hint -> answer", "First line.\n\n  - a bullet\nLast line.")
    messages = ChatAdapter().format(sig, demos=[{"question": "dq", "hint": "dh", "answer": "da"}],
                                    inputs={"question": "What?\nTwo lines", "hint": "h"})
    assert parse_instructions(messages) == sig.instructions  # DSPy itself normalizes the indentation
    assert parse_input_fields(messages) == {"question": "What?\nTwo lines", "hint": "h"}


def test_format_chat_adapter_reply_parses_with_dspy() -> None:
    sig = dspy.ensure_signature("question -> reasoning, answer: int")
    reply = format_chat_adapter_reply({"reasoning": "two lines\nof thought", "answer": 42})
    assert reply.rstrip().endswith("[[ ## completed ## ]]")
    assert ChatAdapter().parse(sig, reply) == {"reasoning": "two lines\nof thought", "answer": 42}


def test_reply_for_prompt_answers_json_adapter_prompts_with_json() -> None:
    from dspy.adapters.json_adapter import JSONAdapter

    sig = dspy.ensure_signature("current_instruction -> new_instruction")
    messages = JSONAdapter().format(sig, demos=[], inputs={"current_instruction": "Be brief."})
    assert is_json_adapter_prompt(messages) and not is_json_adapter_prompt(_chat_messages("q -> a", q="x"))
    assert parse_requested_output_fields(messages) == ["new_instruction"]
    assert parse_input_fields(messages) == {"current_instruction": "Be brief."}
    reply = reply_for_prompt(messages, {"new_instruction": "Be brief and exact."})
    assert JSONAdapter().parse(sig, reply) == {"new_instruction": "Be brief and exact."}
    without_system = [m for m in messages if m["role"] != "system"]
    assert parse_requested_output_fields(without_system) == ["new_instruction"]


def test_format_chat_adapter_reply_rejects_bad_fields() -> None:
    with pytest.raises(ValueError):
        format_chat_adapter_reply({})
    with pytest.raises(ValueError):
        format_chat_adapter_reply({"not a name": 1})


# -- the HTTP server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with ScriptedOpenAIServer(answer_responder, models=["scripted", "other"]) as running:
        yield running


def test_health_and_models_endpoints(server: ScriptedOpenAIServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")
    assert _get_json(server.url.removesuffix("/v1") + "/health") == (200, {"status": "ok"})
    status, models = _get_json(server.url + "/models")
    assert status == 200 and [m["id"] for m in models["data"]] == ["scripted", "other"]
    assert _get_json(server.url + "/nowhere")[0] == 404


def test_chat_completion_response_is_openai_shaped(server: ScriptedOpenAIServer) -> None:
    messages = _chat_messages("question -> answer", question="hi")
    status, body = _post_json(server.url + "/chat/completions", {"model": "scripted", "messages": messages})
    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == "scripted"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": answer_responder(messages, "scripted")}
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_bad_requests_get_clear_errors(server: ScriptedOpenAIServer) -> None:
    url = server.url + "/chat/completions"
    assert _post_json(url, {"model": "scripted"})[0] == 400
    assert _post_json(url, ["not", "an", "object"])[0] == 400
    status, body = _post_json(url, {"model": "scripted", "messages": [], "stream": True})
    assert status == 400 and "stream" in body["error"]["message"]


@pytest.mark.parametrize("engine", ["auto", "litellm"])
def test_dspy_predict_round_trips_through_the_server(server: ScriptedOpenAIServer, engine: str) -> None:
    # engine="auto" is DSPy 3.4's native lm15 HTTP client; engine="litellm" goes through litellm.
    server.reset_stats()
    lm = dspy.LM("openai/scripted", api_base=server.url, api_key="x", cache=False, engine=engine)
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="What is 6*7?").answer == "echo:What is 6*7?"
        cot = dspy.ChainOfThought("question -> answer")(question="why")
    assert (cot.reasoning, cot.answer) == ("because", "echo:why")
    stats = server.stats()
    assert stats.total_requests == stats.ok_requests == 2
    assert stats.requests_by_model == {"scripted": 2}
    assert lm.history[-1]["usage"]["total_tokens"] > 0


def test_responder_bug_answers_500_and_is_recorded() -> None:
    def broken(messages: list[dict], model: str) -> str:
        raise KeyError("missing script entry")

    with ScriptedOpenAIServer(broken) as srv:
        lm = dspy.LM("openai/scripted", api_base=srv.url, api_key="x", cache=False, num_retries=0)
        with dspy.context(lm=lm), pytest.raises(LMServerError):
            dspy.Predict("question -> answer")(question="q")
        assert srv.stats().responder_failures == 1
        assert "missing script entry" in srv.responder_errors[0]


# -- errors and retries -------------------------------------------------------------------------


def _failing_server(status: int) -> ScriptedOpenAIServer:
    def responder(messages: list[dict], model: str) -> str:
        raise ScriptedHTTPError(status, f"scripted {status}", retry_after=0)

    return ScriptedOpenAIServer(responder)


def test_default_dspy_lm_retries_three_times_on_429() -> None:
    # DSPy owns retries (num_retries=3 by default, 1+3 attempts); Retry-After: 0 keeps the test fast.
    with _failing_server(429) as srv:
        lm = dspy.LM("openai/scripted", api_base=srv.url, api_key="x", cache=False)
        assert lm.num_retries == 3
        with dspy.context(lm=lm), pytest.raises(LMRateLimitError):
            dspy.Predict("question -> answer")(question="q")
        stats = srv.stats()
        assert stats.total_requests == 4 and stats.errors_by_status == {429: 4}


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [(500, LMServerError, 2), (503, LMServerError, 2), (400, LMInvalidRequestError, 1)],
)
def test_http_errors_surface_as_dspy_errors(status: int, error: type[Exception], attempts: int) -> None:
    with _failing_server(status) as srv:
        lm = dspy.LM("openai/scripted", api_base=srv.url, api_key="x", cache=False, num_retries=1)
        with dspy.context(lm=lm), pytest.raises(error):
            dspy.Predict("question -> answer")(question="q")
        assert srv.stats().total_requests == attempts  # 4xx other than 429 is never retried


def test_http_error_through_litellm_engine() -> None:
    with _failing_server(429) as srv:
        lm = dspy.LM("openai/scripted", api_base=srv.url, api_key="x", cache=False, engine="litellm", num_retries=0)
        with dspy.context(lm=lm), pytest.raises(LMRateLimitError):
            dspy.Predict("question -> answer")(question="q")
        assert srv.stats().total_requests == 1


def test_slow_responder_and_dropped_connection_are_transport_errors() -> None:
    def responder(messages: list[dict], model: str) -> str:
        if model == "slow":
            time.sleep(0.6)
        if model == "drop":
            raise DropConnection()
        return reply_for_prompt(messages, {"answer": "late"})

    with ScriptedOpenAIServer(responder) as srv:
        slow = dspy.LM("openai/slow", api_base=srv.url, api_key="x", cache=False, num_retries=0, timeout=0.2)
        drop = dspy.LM("openai/drop", api_base=srv.url, api_key="x", cache=False, num_retries=0)
        for lm in (slow, drop):
            with dspy.context(lm=lm), pytest.raises(LMTransportError):
                dspy.Predict("question -> answer")(question="q")
        time.sleep(0.5)  # let the abandoned slow request finish on the server
        assert srv.stats().errors_by_status == {0: 1}


# -- concurrency accounting ---------------------------------------------------------------------


def test_in_flight_counts_with_concurrent_dspy_calls() -> None:
    latency = 0.2
    with ScriptedOpenAIServer(answer_responder, latency_s=latency) as srv:
        lm = dspy.LM("openai/scripted", api_base=srv.url, api_key="x", cache=False)
        predict = dspy.Predict("question -> answer")
        barrier = threading.Barrier(8)

        def call(i: int) -> str:
            barrier.wait()
            with dspy.context(lm=lm):
                return predict(question=f"q{i}").answer

        srv.reset_stats()
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(call, range(16)))
        wall = time.perf_counter() - started
        stats = srv.stats()
    assert answers == [f"echo:q{i}" for i in range(16)]
    assert stats.total_requests == 16
    assert stats.max_in_flight == 8
    assert stats.request_s == pytest.approx(16 * latency, rel=0.25)
    assert stats.mean_in_flight_when_busy > 5
    assert wall < 16 * latency / 2  # clearly concurrent


def test_in_flight_tracker_integrates_exactly_with_a_fake_clock() -> None:
    now = [0.0]
    tracker = InFlightTracker(clock=lambda: now[0])
    tracker.begin("a")  # t=0: 1 in flight
    now[0] = 1.0
    tracker.begin("b")  # t=1: 2 in flight
    now[0] = 2.0
    tracker.end()  # t=2: 1 in flight
    now[0] = 3.0
    tracker.end(429)  # t=3: 0 in flight
    now[0] = 5.0
    stats = tracker.snapshot()
    assert (stats.window_s, stats.request_s, stats.busy_s, stats.idle_s) == (5.0, 4.0, 3.0, 2.0)
    assert stats.mean_in_flight == pytest.approx(0.8) and stats.mean_in_flight_when_busy == pytest.approx(4 / 3)
    assert (stats.max_in_flight, stats.ok_requests, stats.errors_by_status) == (2, 1, {429: 1})
    assert stats.requests_by_model == {"a": 1, "b": 1}
    tracker.reset()
    assert tracker.snapshot().total_requests == 0


# -- the in-process ScriptedLM ------------------------------------------------------------------


def test_scripted_lm_runs_predict_without_deprecation_warnings() -> None:
    lm = ScriptedLM(answer_responder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with dspy.context(lm=lm):
            assert dspy.Predict("question -> answer")(question="x").answer == "echo:x"
            assert dspy.ChainOfThought("question -> answer")(question="y").reasoning == "because"
    assert lm.stats().total_requests == 2
    assert lm.history[-1]["usage"]["total_tokens"] > 0


def test_scripted_lm_forward_returns_an_openai_like_response() -> None:
    lm = ScriptedLM(lambda messages, model: f"{model} says {messages[-1]['content']}", model="toy")
    response = lm.forward(messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "toy says hi"
    assert response.model == "toy"
    assert response.usage["completion_tokens"] == 3


def test_scripted_lm_errors_and_retries() -> None:
    calls = []

    def flaky(messages: list[dict], model: str) -> str:
        calls.append(model)
        if len(calls) == 1:
            raise ScriptedHTTPError(503, "warming up", retry_after=0)
        return reply_for_prompt(messages, {"answer": "ok"})

    with dspy.context(lm=ScriptedLM(flaky, num_retries=1)):
        assert dspy.Predict("question -> answer")(question="q").answer == "ok"
    assert len(calls) == 2

    def always_429(messages: list[dict], model: str) -> str:
        raise ScriptedHTTPError(429, "slow down", retry_after=0)

    lm = ScriptedLM(always_429)
    with dspy.context(lm=lm), pytest.raises(LMRateLimitError):
        dspy.Predict("question -> answer")(question="q")
    assert lm.stats().errors_by_status == {429: 1}


def test_scripted_lm_measures_concurrency() -> None:
    lm = ScriptedLM(answer_responder, latency_s=0.05)
    predict = dspy.Predict("question -> answer")

    def call(i: int) -> str:
        with dspy.context(lm=lm):
            return predict(question=str(i)).answer

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(8))) == [f"echo:{i}" for i in range(8)]
    stats = lm.stats()
    assert stats.total_requests == 8 and stats.max_in_flight == 4


def test_scripted_error_validates_status() -> None:
    with pytest.raises(ValueError):
        ScriptedHTTPError(200)


@pytest.mark.parametrize("transport", ["http-server", "in-process"])
def test_both_scripted_lms_answer_alike_cut_counted_and_paced_per_token(transport: str) -> None:
    """The server and ScriptedLM answer through one function: the reply is cut at max_tokens ("length"), its tokens
    are counted in the stats and the usage, and it takes per_token_s for each generated token."""
    def responder(messages, model):
        return "one two three four five six"

    def call(lm: dspy.BaseLM) -> tuple[list[str], float]:
        started = time.perf_counter()
        out = lm("a b c")
        return out, time.perf_counter() - started

    if transport == "http-server":
        with ScriptedOpenAIServer(responder, per_token_s=0.05) as server:
            lm = dspy.LM("openai/scripted", api_base=server.url, api_key="x", cache=False, max_tokens=4)
            out, elapsed = call(lm)
            stats = server.stats()
    else:
        lm = ScriptedLM(responder, per_token_s=0.05, max_tokens=4)
        out, elapsed = call(lm)
        stats = lm.stats()
    assert out == ["one two three four"]
    assert elapsed >= 0.2  # 4 generated tokens x 50 ms
    assert stats.completion_tokens_by_model == {"scripted": 4}
    usage = lm.history[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3, 4)
