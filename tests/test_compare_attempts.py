"""The attempts ledger of a comparison run (benchmarks/compare/attempt_log.py): no LM, no data."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from benchmarks.compare.attempt_log import (
    all_attempts_summary,
    attempt_seconds,
    end_attempt,
    journal_usage,
    read_attempts,
    start_attempt,
)
from benchmarks.compare.status import run_states


def _at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def _journal_line(prompt: int, completion: int) -> str:
    body = {"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    return json.dumps({"key": "k", "body": json.dumps(body)}) + "\n"


def _write_dated(path: Path, text: str, when: str) -> None:
    """Write ``path`` and set its modification time to the ISO moment ``when``."""
    path.write_text(text)
    moment = _at(when).timestamp()
    os.utime(path, (moment, moment))


def test_an_attempt_that_ends_says_how(tmp_path: Path) -> None:
    assert start_attempt(tmp_path) == 1
    end_attempt(tmp_path, "failed")
    assert start_attempt(tmp_path) == 2
    end_attempt(tmp_path, "finished")
    attempts = read_attempts(tmp_path)
    assert [a["outcome"] for a in attempts] == ["failed", "finished"]
    assert all(_at(a["ended_at"]) >= _at(a["started_at"]) for a in attempts)


def test_a_killed_attempt_is_closed_by_the_next_one_at_its_last_activity(tmp_path: Path) -> None:
    (tmp_path / "attempts.json").write_text('[{"started_at": "2026-12-01T23:49:42+00:00"}]')
    _write_dated(tmp_path / "lm_journal.jsonl", _journal_line(10, 5), "2026-12-02T02:15:00+00:00")
    (tmp_path / "optimizer_log").mkdir()
    _write_dated(tmp_path / "optimizer_log" / "state.json", "{}", "2026-12-02T02:05:00+00:00")

    assert start_attempt(tmp_path) == 2
    first, second = read_attempts(tmp_path)
    assert first == {"started_at": "2026-12-01T23:49:42+00:00", "last_seen_at": "2026-12-02T02:15:00+00:00"}
    assert "ended_at" not in second
    assert attempt_seconds(first) == 2 * 3600 + 25 * 60 + 18


def test_activity_older_than_the_attempt_does_not_date_it(tmp_path: Path) -> None:
    (tmp_path / "attempts.json").write_text('[{"started_at": "2026-12-02T03:00:00+00:00"}]')
    _write_dated(tmp_path / "lm_journal.jsonl", _journal_line(1, 1), "2026-12-02T02:00:00+00:00")
    start_attempt(tmp_path)
    first = read_attempts(tmp_path)[0]
    assert "last_seen_at" not in first and attempt_seconds(first) is None


def test_attempt_seconds_prefers_the_end_then_the_last_sighting_then_now() -> None:
    start = "2026-12-02T00:00:00+00:00"
    assert attempt_seconds({"started_at": start, "ended_at": "2026-12-02T00:01:00+00:00",
                            "last_seen_at": "2026-12-02T00:00:30+00:00"}) == 60
    assert attempt_seconds({"started_at": start, "last_seen_at": "2026-12-02T00:00:30+00:00"}) == 30
    now = _at("2026-12-02T00:00:10+00:00")
    assert attempt_seconds({"started_at": start}, now) == 10
    assert attempt_seconds({"started_at": start}) is None
    assert attempt_seconds({"started_at": "not a time"}, now) is None


def test_journal_usage_adds_up_every_journal_and_counts_torn_lines(tmp_path: Path) -> None:
    (tmp_path / "lm_journal.jsonl").write_text(_journal_line(100, 20) + _journal_line(50, 10) + '{"key": "k", "bo')
    (tmp_path / "lm_journal.failed1.jsonl").write_text(
        _journal_line(7, 3) + json.dumps({"key": "k", "body": "{}"}) + "\n")
    totals = journal_usage(sorted(tmp_path.glob("lm_journal*.jsonl")))
    assert totals == {"replies": 4, "prompt_tokens": 157, "completion_tokens": 33, "unreadable_lines": 1}


def test_the_summary_counts_earlier_attempts_and_the_current_one_to_now(tmp_path: Path) -> None:
    (tmp_path / "attempts.json").write_text(json.dumps([
        {"started_at": "2026-12-01T10:00:00+00:00", "ended_at": "2026-12-01T11:00:00+00:00", "outcome": "failed"},
        {"started_at": "2026-12-01T12:00:00+00:00", "last_seen_at": "2026-12-01T12:30:00+00:00"},
        {"started_at": "2026-12-01T13:00:00+00:00"},  # killed before writing anything, closed without a sighting
    ]))
    _write_dated(tmp_path / "lm_journal.jsonl", _journal_line(10, 2), "2026-12-01T12:30:00+00:00")
    start_attempt(tmp_path)
    summary = all_attempts_summary(tmp_path, journaled=True)
    assert summary["attempts"] == 4 and summary["attempts_of_unknown_length"] == 1
    assert 5400 <= summary["wall_seconds"] < 5400 + 60  # 1 h + 30 min + the current attempt's few moments
    assert summary["lm"] == {"replies": 1, "prompt_tokens": 10, "completion_tokens": 2, "unreadable_lines": 0}
    assert all_attempts_summary(tmp_path, journaled=False)["lm"] is None


def test_an_unreadable_ledger_is_read_as_empty(tmp_path: Path) -> None:
    (tmp_path / "attempts.json").write_text("[{")
    assert read_attempts(tmp_path) == []
    assert start_attempt(tmp_path) == 1


def _finished(folder: Path, **fields: object) -> None:
    folder.mkdir(parents=True)
    record = {"test": {"mean": 0.075}, "metric_calls": 248, "wall_seconds": {"total": 900.0}, **fields}
    (folder / "record.json").write_text(json.dumps(record))


def test_status_gives_the_time_over_all_attempts_or_says_it_has_only_the_last(tmp_path: Path) -> None:
    _finished(tmp_path / "ifbench" / "gepa" / "seed0", attempt=2,
              all_attempts={"attempts": 2, "wall_seconds": 9600.0, "attempts_of_unknown_length": 0})
    _finished(tmp_path / "ifbench" / "gepa" / "seed1", attempt=3,
              all_attempts={"attempts": 3, "wall_seconds": 600.0, "attempts_of_unknown_length": 1})
    _finished(tmp_path / "ifbench" / "mipro" / "seed0", attempt=6)  # written before all_attempts existed
    _finished(tmp_path / "ifbench" / "mipro" / "seed1", attempt=1)
    details = [state.detail for state in run_states(tmp_path)]
    assert details == [
        "test 7.5, 248 metric calls, 160 min over 2 attempts",
        "test 7.5, 248 metric calls, 10 min over 3 attempts (1 of unknown length)",
        "test 7.5, 248 metric calls, 15 min (attempt 6 only)",
        "test 7.5, 248 metric calls, 15 min",
    ]
