"""Counting reflection LM calls and the tokens they cost, through DSPy's usage tracking.

Each reflection call runs inside ``dspy.track_usage()``; a tracker the user opened around ``compile`` still
gets the usage (DSPy rolls a nested tracker up into its parent). Calls the LM reports no usage for (a cache
hit, a custom LM) are counted as unmeasured, and their generated tokens estimated from the reply's length.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass
from typing import Iterator

import dspy

#: Characters per token for the estimate used when the LM reports no usage.
CHARS_PER_TOKEN = 4.0


@dataclass
class CallUsage:
    """The usage DSPy recorded inside one ``measure`` block."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def measured(self) -> bool:
        return self.calls > 0


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class Tally:
    """Named counts that threads may add to at once (parallel proposals reflect concurrently)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self._totals = dict.fromkeys(names, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._totals[name] += n

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._totals[name]

    def as_dict(self, prefix: str = "") -> dict[str, int]:
        with self._lock:
            return {f"{prefix}{name}": value for name, value in self._totals.items()}


class ReflectionUsage(Tally):
    """Reflection calls, tokens, retries and stops, reported in ``detailed_results.counters`` as ``reflection_*``."""

    NAMES = ("lm_calls", "prompt_tokens", "completion_tokens", "unmeasured_calls", "estimated_completion_tokens",
             "shorter_retries", "noted_retries", "token_budget_stops", "unclosed_fences_read")

    def __init__(self) -> None:
        super().__init__(self.NAMES)

    @contextlib.contextmanager
    def measure(self) -> Iterator[CallUsage]:
        """Records the LM usage of the block: yields a ``CallUsage`` filled in when the block ends."""
        usage = CallUsage()
        with dspy.track_usage() as tracker:
            try:
                yield usage
            finally:
                for entries in tracker.usage_data.values():
                    for entry in entries:
                        usage.calls += 1
                        usage.prompt_tokens += int(entry.get("prompt_tokens") or 0)
                        usage.completion_tokens += int(entry.get("completion_tokens") or 0)
                self.add("lm_calls", usage.calls)
                self.add("prompt_tokens", usage.prompt_tokens)
                self.add("completion_tokens", usage.completion_tokens)

    def note_unmeasured(self, reply: str) -> int:
        """Count one call without usage; returns the estimate of the tokens it generated."""
        tokens = estimate_tokens(reply)
        self.add("lm_calls")
        self.add("unmeasured_calls")
        self.add("estimated_completion_tokens", tokens)
        return tokens

    def as_counters(self) -> dict[str, int]:
        return self.as_dict("reflection_")
