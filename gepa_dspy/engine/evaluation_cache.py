"""The evaluation cache: every paid run, keyed by (candidate key, example id).

Each entry is paid for exactly once, when it is first computed, so the number of entries *is* the
number of metric calls spent. With a journal, every entry is persisted the moment it completes, so a
killed run loses no finished evaluation.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from .journal import JsonlJournal
from .records import RETRIED_ON_RESUME, Outcome

logger = logging.getLogger("gepa_dspy")


#: Finds the stored outcome of (candidate key, example id), e.g. ``EvaluationCache.get``.
OutcomeLookup = Callable[[str, str], "Outcome | None"]


class EvaluationCache:
    """Thread-safe map (candidate key, example id) -> Outcome with an optional append-only journal."""

    def __init__(self, journal: JsonlJournal | None = None) -> None:
        self._entries: dict[tuple[str, str], Outcome] = {}
        self._lock = threading.Lock()
        self._journal = journal
        self.hits = 0
        self._sealed = False
        #: Outcomes refused because they arrived after ``seal`` (runs still in flight when a search ended).
        self.late_outcomes = 0
        #: Journaled runs that failed because the LM was down, forgotten on load so that they run again.
        self.dropped_outage_runs = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, cand_key: str, example_id: str) -> Outcome | None:
        """The stored outcome, without counting a hit."""
        return self._entries.get((cand_key, example_id))

    def lookup(self, cand_key: str, example_id: str) -> Outcome | None:
        """The stored outcome, counting a cache hit when there is one."""
        outcome = self._entries.get((cand_key, example_id))
        if outcome is not None:
            with self._lock:
                self.hits += 1
        return outcome

    def put(self, cand_key: str, example_id: str, outcome: Outcome) -> bool:
        """Store a freshly paid outcome; returns False (storing nothing) if the key was already there."""
        with self._lock:
            if self._sealed:
                self.late_outcomes += 1
                logger.warning("GEPA: a run on example %s finished after the search stopped; it is not recorded and "
                               "runs again on resume", example_id)
                return False
            if (cand_key, example_id) in self._entries:
                return False
            self._entries[(cand_key, example_id)] = outcome
            if self._journal is not None:
                self._journal.append({"c": cand_key, "e": example_id, "o": outcome.to_json()})
            return True

    def seal(self) -> None:
        """Refuse every later ``put``, so the entries (and the journal) match the result a search returns.

        After Ctrl-C, an evaluator's worker threads can still be finishing runs the main thread no longer
        waits for; their outcomes would otherwise land in the journal after the result counted the calls.
        """
        with self._lock:
            self._sealed = True

    def unseal(self) -> None:
        """Accept outcomes again (a search that runs once more)."""
        with self._lock:
            self._sealed = False

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._entries.values())

    def load_journal(self, check: Callable[[dict, int], None] | None = None) -> int:
        """Read back the journal's entries; returns how many were loaded.

        ``check(record, number)`` validates each record first. Runs that failed because the LM was down (``RETRIED_ON_RESUME``) are not loaded: they run again when the
        search needs them, and they no longer count as paid (``dropped_outage_runs`` counts them). A later
        record of the same run (its retry) is loaded instead.
        """
        if self._journal is None:
            return 0
        loaded = 0
        kept: list[dict] = []
        for number, rec in enumerate(self._journal.read()):
            if check is not None:
                check(rec, number)  # raises on a record that does not fit the schema
            key = (str(rec["c"]), str(rec["e"]))
            outcome = Outcome.from_json(rec["o"])
            if outcome.failure in RETRIED_ON_RESUME:
                self.dropped_outage_runs += 1
                continue
            kept.append(rec)
            if key not in self._entries:
                self._entries[key] = outcome
                loaded += 1
        if self.dropped_outage_runs:
            # Forgotten for good: the next resume neither reruns nor counts them again.
            self._journal.rewrite(kept)
        return loaded
