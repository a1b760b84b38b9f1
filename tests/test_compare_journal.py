"""The comparison harness's LM journal: replies recorded per run and replayed when the run starts again."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

import benchmarks
from benchmarks.compare import main
from benchmarks.compare.journal import JOURNAL, JournalingProxy, LMJournal, request_key, set_aside_reply
from benchmarks.compare.lms import LMSpec
from gepa_dspy.testing import ScriptedOpenAIServer
from tests import compare_toy


@pytest.fixture(autouse=True)
def toy_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(benchmarks.BENCHMARKS, "toy", "tests.compare_toy")


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _chat(text: str) -> dict:
    return {"model": "scripted", "messages": [{"role": "user", "content": text}], "temperature": 0}


def _text(reply: dict) -> str:
    return reply["choices"][0]["message"]["content"]


def test_request_key_ignores_json_key_order_and_spacing() -> None:
    a = request_key("POST", "/v1/chat/completions", b'{"a": 1, "b": [1, 2]}')
    assert a == request_key("POST", "/v1/chat/completions", b'{"b":[1,2],"a":1}')
    assert a != request_key("POST", "/v1/chat/completions", b'{"a": 2, "b": [1, 2]}')
    assert a != request_key("POST", "/v1/completions", b'{"a": 1, "b": [1, 2]}')


def test_proxy_records_then_replays_each_earlier_reply_once(tmp_path: Path) -> None:
    calls = {"n": 0}

    def responder(messages, model):
        calls["n"] += 1
        return f"reply {calls['n']} to {messages[-1]['content']}"

    path = tmp_path / JOURNAL
    with ScriptedOpenAIServer(responder) as server:
        journal = LMJournal(path)
        with JournalingProxy(server.url, journal) as proxy:
            assert proxy.url.endswith("/v1")
            first = [_text(_post(proxy.url, _chat(t))[1]) for t in ("x", "y", "x")]
        journal.close()
        assert first == ["reply 1 to x", "reply 2 to y", "reply 3 to x"]  # a repeat within an attempt is asked
        assert (journal.stats.forwarded, journal.stats.recorded, journal.stats.replayed) == (3, 3, 0)

        journal = LMJournal(path)
        with JournalingProxy(server.url, journal) as proxy:
            second = [_text(_post(proxy.url, _chat(t))[1]) for t in ("x", "x", "y", "x", "z")]
        journal.close()
    assert second == ["reply 1 to x", "reply 3 to x", "reply 2 to y", "reply 4 to x", "reply 5 to z"]
    assert (journal.stats.loaded, journal.stats.replayed, journal.stats.forwarded) == (3, 3, 2)
    assert calls["n"] == 5
    assert len(path.read_text().splitlines()) == 5


def test_truncated_last_line_and_upstream_errors(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    good = json.dumps({"key": request_key("POST", "/v1/chat/completions", json.dumps(_chat("x")).encode()),
                       "body": json.dumps({"choices": [{"message": {"role": "assistant", "content": "old"}}]})})
    path.write_text(good + "\n" + '{"key": "abc", "bo')  # killed while writing the second line

    def responder(messages, model):
        raise RuntimeError("scripted failure")

    with ScriptedOpenAIServer(responder) as server:
        journal = LMJournal(path)
        assert (journal.stats.loaded, journal.stats.unreadable_lines) == (1, 1)
        with JournalingProxy(server.url, journal) as proxy:
            assert _text(_post(proxy.url, _chat("x"))[1]) == "old"
            status, _ = _post(proxy.url, _chat("y"))
        journal.close()
    assert status >= 500 and journal.stats.recorded == 0  # an error reply is passed on, never journaled

    journal = LMJournal(tmp_path / "other.jsonl")
    with JournalingProxy("http://127.0.0.1:9", journal) as proxy:  # nothing listens on port 9
        status, body = _post(proxy.url, _chat("x"))
    journal.close()
    assert status == 502 and "upstream unreachable" in body["error"]["message"]


def test_spec_routing() -> None:
    local = LMSpec("local:http://127.0.0.1:8091")
    assert local.endpoint == "http://127.0.0.1:8091"
    assert local.routed_to("http://127.0.0.1:5000").model == "local:http://127.0.0.1:5000"
    remote = LMSpec("openai/x", api_base="http://h/v1")
    assert remote.routed_to("http://127.0.0.1:5000/v1").api_base == "http://127.0.0.1:5000/v1"
    assert LMSpec("openai/gpt-4o-mini").endpoint is None
    with pytest.raises(ValueError, match="no base URL"):
        LMSpec("local:default").routed_to("http://127.0.0.1:1")


def test_cli_refuses_a_journal_without_base_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--benchmark", "toy", "--lm-journal", "--lm", "openai/gpt-4o-mini",
              "--budget", "10"])
    assert "--lm-journal needs a base URL for --lm openai/gpt-4o-mini" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["mipro", "dspy_gepa", "gepa"])
def test_a_restarted_run_replays_every_call_and_ends_the_same(tmp_path: Path, optimizer: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["--benchmark", "toy", "--optimizers", optimizer, "--scale", "tiny", "--seeds", "0",
            "--train-size", "6", "--val-size", "6", "--test-size", "6", "--budget", "30",
            "--lm", "openai/scripted-task", "--reflection-lm", "openai/scripted-reflection", "--api-key", "x",
            "--num-threads", "2", "--out", str(out), "--no-report", "--lm-journal"]
    folder = out / "toy" / optimizer / "seed0"
    with ScriptedOpenAIServer(compare_toy.server_responder, record_requests=True) as server:
        url = server.url
        assert main([*argv, "--api-base", server.url]) == 0
        first = json.loads((folder / "record.json").read_text())
        asked = len(server.requests)
        # Pretend the run died just before writing its record: everything must come from the journal.
        (folder / "record.json").unlink()
        capsys.readouterr()
        assert main([*argv, "--api-base", server.url]) == 0
        assert f"LM journal holds {asked} replies from earlier attempts" in capsys.readouterr().err
        assert len(server.requests) == asked
    second = json.loads((folder / "record.json").read_text())
    assert first["lm_journal"]["replayed"] == 0 and first["lm_journal"]["recorded"] == asked
    assert second["lm_journal"]["forwarded"] == 0
    # MIPROv2 starts over and replays everything; the GEPAs resume from their checkpoints and replay only
    # the evaluations after optimizing.
    replayed = second["lm_journal"]["replayed"]
    assert replayed == asked if optimizer == "mipro" else 0 < replayed < asked
    assert second["attempt"] == 2
    # What the run paid for over both attempts: every request of the first, none of the second.
    assert first["all_attempts"]["lm"]["replies"] == second["all_attempts"]["lm"]["replies"] == asked
    assert second["all_attempts"]["attempts"] == 2 and second["all_attempts"]["attempts_of_unknown_length"] == 0
    assert second["all_attempts"]["wall_seconds"] >= first["wall_seconds"]["total"]
    assert [a["outcome"] for a in json.loads((folder / "attempts.json").read_text())] == ["finished", "finished"]
    assert second["metric_calls"] == first["metric_calls"] and second["prompts"] == first["prompts"]
    for split in ("val", "test"):
        timing = "seconds"
        assert {k: v for k, v in second[split].items() if k != timing} == \
            {k: v for k, v in first[split].items() if k != timing}
    assert first["lms"]["task"]["api_base"] == url  # the record names the real endpoint, not the proxy


@pytest.mark.slow
def test_a_failed_attempt_sets_its_journal_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    folder = out / "toy" / "mipro" / "seed0"
    with ScriptedOpenAIServer(compare_toy.server_responder) as server:
        argv = ["--benchmark", "toy", "--optimizers", "mipro", "--scale", "tiny", "--train-size", "6",
                "--val-size", "6", "--test-size", "6", "--lm", "openai/scripted-task",
                "--reflection-lm", "openai/scripted-reflection", "--api-key", "x", "--api-base", server.url,
                "--out", str(out), "--no-report", "--lm-journal"]
        assert main([*argv, "--mipro-max-calls-factor", "0.5"]) == 1  # MIPROv2 raises at its metric cap
        assert "its LM journal is kept as lm_journal.failed1.jsonl" in capsys.readouterr().err
        assert not (folder / JOURNAL).exists() and (folder / "lm_journal.failed1.jsonl").stat().st_size > 0
        assert main(argv) == 0
    record = json.loads((folder / "record.json").read_text())
    assert record["attempt"] == 2 and record["lm_journal"]["loaded"] == 0 and record["lm_journal"]["replayed"] == 0
    failed_replies = len((folder / "lm_journal.failed1.jsonl").read_text().splitlines())
    assert record["all_attempts"]["lm"]["replies"] == failed_replies + record["lm_journal"]["recorded"]
    assert [a["outcome"] for a in json.loads((folder / "attempts.json").read_text())] == ["failed", "finished"]


def test_a_journal_line_set_aside_by_its_reply_text(tmp_path: Path) -> None:
    path, aside = tmp_path / JOURNAL, tmp_path / "aside.jsonl"

    def body(text: str) -> str:
        return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]})

    lines = [{"key": "a", "body": body("fine")}, {"key": "b", "body": body("  garbage\n")},
             {"key": "c", "body": "not json"}, {"key": "d", "body": body("garbage")}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{cut off", encoding="utf-8")
    assert set_aside_reply(path, "garbage", aside) == (2, 3)
    assert [json.loads(line)["key"] for line in aside.read_text().splitlines()] == ["b", "d"]
    kept = path.read_text().splitlines()
    assert [json.loads(line)["key"] for line in kept[:2]] == ["a", "c"] and kept[2] == "{cut off"
    assert set_aside_reply(path, "not there", aside) == (0, 3)


@pytest.mark.slow
def test_an_attempt_that_died_on_an_unparsable_reply_replays_all_other_replies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    poisoned = {"on": True, "reflection_calls": 0}

    def responder(messages: list[dict], model: str) -> str:
        if model.endswith("reflection") and poisoned["on"]:
            poisoned["reflection_calls"] += 1
            if poisoned["reflection_calls"] >= 3:  # every proposal from the third on: neither adapter can parse it
                return "I cannot help with that."
        return compare_toy.server_responder(messages, model)

    out = tmp_path / "run"
    folder = out / "toy" / "mipro" / "seed0"
    with ScriptedOpenAIServer(responder, record_requests=True) as server:
        argv = ["--benchmark", "toy", "--optimizers", "mipro", "--scale", "tiny", "--train-size", "6",
                "--val-size", "6", "--test-size", "6", "--lm", "openai/scripted-task",
                "--reflection-lm", "openai/scripted-reflection", "--api-key", "x", "--api-base", server.url,
                "--out", str(out), "--no-report", "--lm-journal"]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "AdapterParseError" in (folder / "error.json").read_text()
        assert "failed on an unparsable LM reply" in err and "replies will be replayed" in err
        aside = (folder / "lm_journal.failed1.jsonl").read_text().splitlines()
        assert aside and all("I cannot help with that." in line for line in aside)
        kept = len((folder / JOURNAL).read_text().splitlines())
        assert kept > 0
        asked_first = len(server.requests)
        poisoned["on"] = False
        assert main(argv) == 0
    record = json.loads((folder / "record.json").read_text())
    assert record["attempt"] == 2 and record["lm_journal"]["loaded"] == kept
    assert record["lm_journal"]["replayed"] == kept  # everything but the bad reply came from the journal
    assert len(server.requests) - asked_first == record["lm_journal"]["forwarded"]  # nothing else was asked again
