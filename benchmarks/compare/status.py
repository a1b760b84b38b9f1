"""``--status``: where a long comparison stands, run by run, without running anything.

A run folder is ``finished`` (its ``record.json`` exists), ``running`` (another process holds its lock),
``failed`` (its last attempt raised: ``error.json``) or ``unfinished`` (an attempt was killed or interrupted;
the next ``compare`` resumes it). See ``run_lock.lock_holder`` for how ``running`` is told apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layout import ATTEMPTS, ERROR, RECORD
from .run_lock import lock_holder
from .run_progress import progress_text


@dataclass(frozen=True)
class RunState:
    """One run folder's state and what is known about it."""

    benchmark: str
    optimizer: str
    seed: int
    state: str  # finished | running | failed | unfinished
    attempts: int
    detail: str


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _state(folder: Path) -> tuple[str, str]:
    record = _read(folder / RECORD)
    if record is not None:
        return "finished", (f"test {100 * record['test']['mean']:.1f}, {record.get('metric_calls', 0)} metric calls, "
                            f"{_duration_text(record)}")
    progress = progress_text(folder)
    holder = lock_holder(folder)
    if holder is not None:
        return "running", holder + (f"; {progress}" if progress else "")
    error = _read(folder / ERROR)
    if error is not None:
        return "failed", str(error.get("error", ""))[:160]
    return "unfinished", "an attempt was stopped; the next compare resumes it" + (
        f"; it had reached {progress}" if progress else "")


def _duration_text(record: dict[str, Any]) -> str:
    """The wall time over all attempts when the record has it, else the last attempt's, said as such."""
    last = f"{record['wall_seconds']['total'] / 60:.0f} min"
    summary = record.get("all_attempts")
    if isinstance(summary, dict) and summary.get("attempts", 1) > 1:
        unknown = summary.get("attempts_of_unknown_length", 0)
        return (f"{summary['wall_seconds'] / 60:.0f} min over {summary['attempts']} attempts"
                + (f" ({unknown} of unknown length)" if unknown else ""))
    if record.get("attempt", 1) > 1:
        return f"{last} (attempt {record['attempt']} only)"
    return last


def run_states(out_dir: str | Path) -> list[RunState]:
    """The state of every ``<benchmark>/<optimizer>/seed<k>`` folder under ``out_dir``, sorted."""
    states = []
    for folder in sorted(Path(out_dir).glob("*/*/seed*")):
        if not folder.is_dir() or not folder.name[4:].isdigit():
            continue
        attempts = _read(folder / ATTEMPTS)
        state, detail = _state(folder)
        states.append(RunState(folder.parent.parent.name, folder.parent.name, int(folder.name[4:]), state,
                               len(attempts) if isinstance(attempts, list) else 0, detail))
    return states


def status_text(states: list[RunState]) -> str:
    """One line per run and a count per state."""
    if not states:
        return "no runs yet"
    lines = [f"{'run':<28} {'state':<11} {'attempts':>8}  detail"]
    for s in states:
        lines.append(f"{f'{s.benchmark}/{s.optimizer}/seed{s.seed}':<28} {s.state:<11} {s.attempts:>8}  {s.detail}")
    counts: dict[str, int] = {}
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
    lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return "\n".join(lines)
