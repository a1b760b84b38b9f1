"""How far a run in progress has got, in its folder's ``progress.json``, for ``--status``.

A run can take hours, and MIPROv2's and dspy.GEPA's own logs do not say how much of the budget is spent.
``RunProgress`` writes the phase (``optimize``, ``val``, ``test``), the metric calls spent while optimizing
(against the budget when there is one) and the examples scored while evaluating, at most every
``min_interval_s`` seconds and at every phase change. The file is advisory: written atomically, read
leniently, and removed when the run's record is written.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

from gepa_dspy.engine.search import CHECKPOINT_FILE, EVAL_JOURNAL_FILE

from .atomic_file import write_json_atomic
from .attempt_log import attempt_seconds, parse_moment, read_attempts
from .layout import OPTIMIZER_LOG, PROGRESS

#: Seconds between two writes within one phase.
MIN_INTERVAL_S = 15.0


class RunProgress:
    """The progress of one attempt, written to ``folder / progress.json``."""

    def __init__(self, folder: Path, budget: int | None, min_interval_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = folder / PROGRESS
        self.min_interval_s = MIN_INTERVAL_S if min_interval_s is None else min_interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"phase": "optimize", "metric_calls": 0, "budget": budget}
        self._last_write: float | None = None

    def phase(self, name: str, examples: int | None = None) -> None:
        """Enter ``name`` (always written); ``examples`` is how many the phase will score."""
        with self._lock:
            self._state.update(phase=name, examples=examples, examples_done=0 if examples is not None else None)
            self._write()

    def metric_call(self) -> None:
        """One more metric call of the optimizer: ``CountingMetric``'s ``on_rollout`` hook, so feedback calls on
        paid-for runs are not counted."""
        with self._lock:
            self._state["metric_calls"] += 1
            self._maybe_write()

    def program_run(self, failed: bool) -> None:
        """One more run of the program (``ProgramRunMeter``'s hook); counted while optimizing only."""
        with self._lock:
            if self._state["phase"] != "optimize":
                return
            self._state["program_runs"] = self._state.get("program_runs", 0) + 1
            self._state["failed_program_runs"] = self._state.get("failed_program_runs", 0) + failed
            self._maybe_write()

    def example_done(self, done: int) -> None:
        """``done`` examples of the evaluation phase are scored."""
        with self._lock:
            self._state["examples_done"] = done
            self._maybe_write(force=done == self._state.get("examples"))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _maybe_write(self, force: bool = False) -> None:
        now = self.clock()
        if force or self._last_write is None or now - self._last_write >= self.min_interval_s:
            self._write()

    def _write(self) -> None:
        self._last_write = self.clock()
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(self.path, {**self._state, "updated_at": now})


def progress_text(folder: Path) -> str | None:
    """A one-line summary of ``folder``'s ``progress.json`` (None when there is none or it is unreadable)."""
    try:
        data = json.loads((folder / PROGRESS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    phase = data.get("phase")
    if phase == "optimize":
        budget = f", budget {data['budget']}" if data.get("budget") else ""
        runs = ""
        if data.get("program_runs"):
            runs = f" (program runs: {data['program_runs']}, {data.get('failed_program_runs', 0)} failed before the metric)"
        text = f"optimize: {data.get('metric_calls', 0)} metric calls this attempt{runs}{budget}"
        saved = checkpoint_text(folder)
        if saved:
            text += f"; {saved}"
        left = optimization_time_left(folder, data)
        if left is not None:
            text += f"; about {left / 3600:.1f} h of optimizing left at this attempt's pace"
    else:
        text = f"{phase}: {data.get('examples_done', 0)}/{data.get('examples', '?')} examples"
    return f"{text} (at {data.get('updated_at', '?')})"


#: Program runs an attempt must have made before its pace says anything about the rest.
MIN_RUNS_FOR_PACE = 10


def optimization_time_left(folder: Path, data: dict[str, Any]) -> float | None:
    """Seconds of optimizing left, from the program runs per second of the run's first attempt so far.

    None unless the run is on its first attempt (a resumed attempt replays journaled replies at no cost, so
    its pace says nothing), has a budget and has made ``MIN_RUNS_FOR_PACE`` runs. Every optimizer here pays
    one metric call per program run, so the runs left are the budget minus the runs made.
    """
    runs, budget = data.get("program_runs") or 0, data.get("budget")
    attempts = read_attempts(folder)
    seen = parse_moment(data.get("updated_at"))
    if not budget or runs < MIN_RUNS_FOR_PACE or len(attempts) != 1 or seen is None:
        return None
    elapsed = attempt_seconds(attempts[0], now=seen)
    return max(0, budget - runs) * elapsed / runs if elapsed else None


def checkpoint_text(folder: Path) -> str | None:
    """How far our GEPA's own files in ``folder`` say it has got, e.g. ``62 paid runs; checkpoint: iteration 3``.

    "This attempt" understates a GEPA run twice over: a resumed run does not pay again for what its journal
    holds, and a run that fails before the metric is called (an unparsable reply) is paid for but never
    reaches the metric wrapper. Our GEPA journals every paid (candidate, example) run, one line each, so the
    complete lines of that journal are the metric calls spent so far. None for other optimizers (dspy.GEPA's
    state is a pickle, which status never loads) and when neither file can be read.
    """
    log = folder / OPTIMIZER_LOG
    parts: list[str] = []
    try:
        # Counted here, read-only: ``JsonlJournal.read`` would rewrite a torn last line under the running writer.
        with (log / EVAL_JOURNAL_FILE).open("rb") as journal:
            paid = sum(1 for line in journal if line.endswith(b"\n"))
        parts.append(f"{paid} paid runs")
    except OSError:
        pass
    try:
        state = json.loads((log / CHECKPOINT_FILE).read_text(encoding="utf-8"))
        parts.append(f"checkpoint: iteration {int(state['iteration'])}")
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return "; ".join(parts) or None
