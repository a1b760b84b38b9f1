"""Every attempt at one run, in its folder's ``attempts.json``, and what all of them cost together.

A run that was killed and started again records in ``record.json`` the wall time and LM usage of its last
attempt only: a GEPA run resumed just for its test set would show fifteen minutes and no optimization calls.
So each attempt is listed with when it started and how it ended (``ended_at`` and ``outcome``: ``finished``,
``failed`` or ``interrupted``). An attempt that never got to say so (SIGKILL, a lost machine) is closed by the
next one with ``last_seen_at``: the newest modification time among the files the run writes as it works
(``progress.json``, the LM journal, the optimizer's log), if that is later than the attempt's start.

``all_attempts_summary`` adds the attempts up for the record: their wall time, and with ``--lm-journal`` the
LM replies the run paid for, read from the journal, which keeps every reply forwarded by any attempt (the
journals set aside after failed attempts included).
"""

from __future__ import annotations

import datetime
import json
import logging
from pathlib import Path
from typing import Any, Iterable

from .atomic_file import write_json_atomic
from .journal import ALL_JOURNALS
from .layout import ATTEMPTS, OPTIMIZER_LOG, PROGRESS

logger = logging.getLogger(__name__)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def parse_moment(text: Any) -> datetime.datetime | None:
    """An ISO-8601 moment (UTC when it names no zone), or None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def read_attempts(folder: Path) -> list[dict[str, Any]]:
    """The attempts listed in ``folder``; an unreadable file is logged and read as no attempts."""
    path = folder / ATTEMPTS
    if not path.exists():
        return []
    try:
        attempts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("%s is unreadable (%s); its attempts are not counted", path, exc)
        return []
    return [a for a in attempts if isinstance(a, dict)] if isinstance(attempts, list) else []


def last_activity(folder: Path) -> datetime.datetime | None:
    """The newest modification time among the files a working attempt keeps writing, or None."""
    paths: list[Path] = [folder / PROGRESS]
    for pattern in ALL_JOURNALS:
        paths.extend(folder.glob(pattern))
    log = folder / OPTIMIZER_LOG
    if log.is_dir():
        paths.extend(p for p in log.rglob("*") if p.is_file())
    newest: float | None = None
    for path in paths:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return None if newest is None else datetime.datetime.fromtimestamp(newest, datetime.timezone.utc)


def start_attempt(folder: Path) -> int:
    """List a new attempt (closing an earlier one that never ended) and return its number, from 1."""
    folder.mkdir(parents=True, exist_ok=True)
    attempts = read_attempts(folder)
    if attempts and "ended_at" not in attempts[-1] and "last_seen_at" not in attempts[-1]:
        started = parse_moment(attempts[-1].get("started_at"))
        seen = last_activity(folder)
        if started is not None and seen is not None and seen > started:
            attempts[-1]["last_seen_at"] = _iso(seen)
    attempts.append({"started_at": _iso(_now())})
    write_json_atomic(folder / ATTEMPTS, attempts)
    return len(attempts)


def end_attempt(folder: Path, outcome: str) -> None:
    """Mark the latest attempt as ended now with ``outcome`` (``finished``, ``failed``, ``interrupted``)."""
    attempts = read_attempts(folder)
    if not attempts:
        logger.warning("%s lists no attempt to end (%s)", folder / ATTEMPTS, outcome)
        return
    attempts[-1].update(ended_at=_iso(_now()), outcome=outcome)
    write_json_atomic(folder / ATTEMPTS, attempts)


def attempt_seconds(attempt: dict[str, Any], now: datetime.datetime | None = None) -> float | None:
    """How long one attempt ran: to ``ended_at``, else to ``last_seen_at``, else to ``now`` if given, else None."""
    started = parse_moment(attempt.get("started_at"))
    end = parse_moment(attempt.get("ended_at")) or parse_moment(attempt.get("last_seen_at")) or now
    if started is None or end is None:
        return None
    return max(0.0, (end - started).total_seconds())


def journal_usage(paths: Iterable[Path]) -> dict[str, int]:
    """Replies and tokens in LM journals (``usage`` of each OpenAI-style reply; absent usage counts 0 tokens)."""
    totals = {"replies": 0, "prompt_tokens": 0, "completion_tokens": 0, "unreadable_lines": 0}
    for path in paths:
        with path.open("rb") as journal:
            for line in journal:
                try:
                    usage = json.loads(json.loads(line)["body"]).get("usage") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    totals["unreadable_lines"] += 1  # e.g. the last line of an attempt killed while writing it
                    continue
                totals["replies"] += 1
                for key in ("prompt_tokens", "completion_tokens"):
                    value = usage.get(key) if isinstance(usage, dict) else None
                    totals[key] += value if isinstance(value, int) else 0
    return totals


def all_attempts_summary(folder: Path, journaled: bool) -> dict[str, Any]:
    """What every attempt at the run in ``folder`` cost together, the current (unfinished) one counted to now.

    ``wall_seconds`` adds up the attempts whose length is known; ``attempts_of_unknown_length`` counts the
    others (killed before writing anything). ``lm`` is None without a journal.
    """
    now = _now()
    attempts = read_attempts(folder)
    lengths = [attempt_seconds(a, now if i == len(attempts) - 1 else None) for i, a in enumerate(attempts)]
    known = [s for s in lengths if s is not None]
    lm = None
    if journaled:
        lm = journal_usage(sorted(p for pattern in ALL_JOURNALS for p in folder.glob(pattern)))
    return {
        "attempts": len(attempts),
        "wall_seconds": round(sum(known), 2),
        "attempts_of_unknown_length": len(lengths) - len(known),
        "lm": lm,
    }
