"""What a benchmark's metric says about itself, for the run record: its settings and its counters per phase.

A metric may expose ``settings`` (a dict of what changes its scores besides the LMs, such as PUPA's judge
answer format) and ``stats`` (a dataclass of cumulative counters, such as PUPA's judge failures scored as a
flagged placeholder 0). Neither is required; a plain function metric gives ``None`` for both. The record
keeps the counters' increase over each phase (optimization, val, test), so a score built on placeholders
is visible next to the score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: The counter that marks a result as a placeholder rather than a measurement (PUPA's judge failures).
FLAGGED = "flagged_results"


def metric_settings(metric: Any) -> dict[str, Any] | None:
    """``metric.settings`` as a plain dict, or None when the metric has none."""
    settings = getattr(metric, "settings", None)
    return dict(settings) if isinstance(settings, dict) else None


def metric_counters(metric: Any) -> dict[str, int] | None:
    """``metric.stats`` (a dataclass, possibly nested) flattened to ``{"name": n, "judge.name": n}``, or None."""
    stats = getattr(metric, "stats", None)
    if stats is None or not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return None
    return _flatten(dataclasses.asdict(stats))


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{name}"] = int(value)
    return out


def counter_increase(after: dict[str, int] | None, before: dict[str, int] | None) -> dict[str, int] | None:
    """``after - before`` per counter (counters missing before count from 0)."""
    if after is None:
        return None
    before = before or {}
    return {name: value - before.get(name, 0) for name, value in after.items()}


class MetricPhases:
    """Snapshots ``metric``'s counters at phase boundaries: ``mark("optimization")`` after optimizing, etc."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self._last = metric_counters(metric)
        self.phases: dict[str, dict[str, int] | None] = {}

    def mark(self, phase: str) -> None:
        now = metric_counters(self.metric)
        self.phases[phase] = counter_increase(now, self._last)
        self._last = now

    def to_dict(self) -> dict[str, Any] | None:
        """``{"settings": ..., "counters": {phase: increase}}``, or None for a metric with neither."""
        settings = metric_settings(self.metric)
        if settings is None and all(v is None for v in self.phases.values()):
            return None
        return {"settings": settings, "counters": self.phases}


def flagged_count(record: dict[str, Any], phase: str = "test") -> int | None:
    """How many of ``phase``'s results the record's metric flagged as placeholders, or None when unknown: the
    metric keeps no such counter, or the record predates the ``metric`` block."""
    counters = ((record.get("metric") or {}).get("counters") or {}).get(phase) or {}
    return int(counters[FLAGGED]) if FLAGGED in counters else None
