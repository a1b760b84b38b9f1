"""The PUPA metric: (quality + (1 - leakage)) / 2 with an LLM judge, plus textual feedback for GEPA."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import dspy

from benchmarks.pupa.data import parse_pii_units
from benchmarks.pupa.feedback import failure_text, feedback_text
from benchmarks.pupa.judge import Judge, JudgeFailure, JudgeFormat, JudgeStats
from benchmarks.pupa.verdicts import LeakageVerdict, QualityVerdict, combined_score

logger = logging.getLogger(__name__)

OnJudgeFailure = Literal["flag", "raise"]
#: How many judged (gold, prediction) pairs to remember. GEPA asks for feedback once per predictor on the
#: same prediction; remembering the verdicts avoids re-asking the judge for each.
MEMO_SIZE = 4096


@dataclass(frozen=True)
class MetricStats:
    """Counters a harness can print: flagged results are judge failures scored as a placeholder 0."""

    results: int
    flagged_results: int
    memo_hits: int
    judge: JudgeStats


def leaked_verbatim(units: list[str], request: str) -> list[str]:
    """The units that occur in ``request`` as case-insensitive substrings."""
    haystack = request.casefold()
    return [unit for unit in units if unit.casefold() in haystack]


def _gold_units(gold: Any) -> list[str]:
    units = getattr(gold, "pii_units", None)
    if isinstance(units, str):
        return parse_pii_units(units)
    if not isinstance(units, (list, tuple)) or not all(isinstance(u, str) for u in units):
        raise ValueError(f"pupa metric: gold.pii_units must be a list of strings or a '||' string, got {units!r}")
    return parse_pii_units("||".join(units))


def _text_field(obj: Any, name: str, role: str) -> str:
    value = getattr(obj, name, None)
    if not isinstance(value, str):
        raise ValueError(f"pupa metric: {role}.{name} must be a string, got {value!r}")
    return value


class PupaMetric:
    """Callable PUPA metric with its own judge, counters and verdict memo; safe to call from many threads.

    ``on_judge_failure="flag"`` (default) turns a judge that gave no parseable answer twice into a result
    with ``score=0.0``, ``judge_failed=True`` and a feedback text saying the score is a placeholder, logs
    a warning and counts it in ``stats.flagged_results``. ``"raise"`` raises :class:`JudgeFailure` instead
    (``dspy.Evaluate`` then counts the example as an error). ``judge_format`` is how the judge answers:
    ``"json_schema"`` (default) or ``"text"``, see :mod:`benchmarks.pupa.judge`.
    """

    def __init__(self, judge_lm: dspy.BaseLM | None = None, on_judge_failure: OnJudgeFailure = "flag",
                 judge_format: JudgeFormat = "json_schema") -> None:
        if on_judge_failure not in ("flag", "raise"):
            raise ValueError(f"on_judge_failure must be 'flag' or 'raise', got {on_judge_failure!r}")
        self.judge = Judge(judge_lm, answer_format=judge_format)
        self.on_judge_failure = on_judge_failure
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple[Any, ...], tuple[QualityVerdict, LeakageVerdict]] = OrderedDict()
        self._results = 0
        self._flagged = 0
        self._memo_hits = 0

    @property
    def stats(self) -> MetricStats:
        with self._lock:
            return MetricStats(self._results, self._flagged, self._memo_hits, self.judge.stats)

    @property
    def settings(self) -> dict[str, str]:
        """What changes the scores besides the judge LM; a comparison harness records it with each run."""
        return {"judge_format": self.judge.answer_format, "on_judge_failure": self.on_judge_failure}

    @property
    def judge_failures(self) -> int:
        """How many results were flagged because the judge failed (the harness prints this)."""
        with self._lock:
            return self._flagged

    def __call__(self, gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
        units = _gold_units(gold)
        user_query = _text_field(gold, "user_query", "gold")
        target = _text_field(gold, "target_response", "gold")
        response = _text_field(pred, "response", "prediction")
        request = _text_field(pred, "redacted_request", "prediction")

        key = (user_query, target, tuple(units), response, request)
        with self._lock:
            self._results += 1
            remembered = self._memo.get(key)
            if remembered is not None:
                self._memo.move_to_end(key)
                self._memo_hits += 1
        if remembered is not None:
            quality, leakage = remembered
        else:
            failures: list[JudgeFailure] = []
            quality = self._guarded(self.quality, failures, user_query, response, target)
            leakage = self._guarded(self.leakage, failures, units, request)
            if failures:
                return self._flag(failures, quality, leakage)
            assert quality is not None and leakage is not None
            self._remember(key, (quality, leakage))

        return dspy.Prediction(
            score=combined_score(quality, leakage),
            feedback=feedback_text(quality, leakage, target, pred_name),
            quality=quality.score,
            leakage=leakage.fraction,
            leaked_units=list(leakage.leaked),
            judge_failed=False,
        )

    def quality(self, user_query: str, response: str, target_response: str) -> QualityVerdict:
        """Ask the judge twice, with our response first and then second, to cancel position bias."""
        first = self.judge.preference(user_query, response, target_response)
        second = self.judge.preference(user_query, target_response, response)
        return QualityVerdict(ours_first=first, ours_second=second)

    def leakage(self, units: list[str], request: str) -> LeakageVerdict:
        """Verbatim units need no LM call; the judge is asked only about the rest, and only if any remain."""
        verbatim = leaked_verbatim(units, request)
        remaining = [u for u in units if u not in verbatim]
        # An empty request cannot reveal anything, so it needs no judge either.
        ask = bool(remaining) and bool(request.strip())
        judged = [remaining[i] for i in self.judge.revealed(request, remaining)] if ask else []
        return LeakageVerdict(tuple(units), tuple(verbatim), tuple(judged), judge_asked=ask)

    def _guarded(self, part: Any, failures: list[JudgeFailure], *args: Any) -> Any:
        try:
            return part(*args)
        except JudgeFailure as failure:
            if self.on_judge_failure == "raise":
                raise
            failures.append(failure)
            return None

    def _flag(
        self, failures: list[JudgeFailure], quality: QualityVerdict | None, leakage: LeakageVerdict | None
    ) -> dspy.Prediction:
        with self._lock:
            self._flagged += 1
        logger.warning("pupa metric: judge failure, example scored as a flagged placeholder 0: %s", failures[0])
        return dspy.Prediction(
            score=0.0,
            feedback=failure_text(failures, quality, leakage),
            quality=None if quality is None else quality.score,
            leakage=None if leakage is None else leakage.fraction,
            leaked_units=None if leakage is None else list(leakage.leaked),
            judge_failed=True,
        )

    def _remember(self, key: tuple[Any, ...], verdicts: tuple[QualityVerdict, LeakageVerdict]) -> None:
        with self._lock:
            self._memo[key] = verdicts
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)


def make_metric(judge_lm: dspy.BaseLM | None = None, on_judge_failure: OnJudgeFailure = "flag",
                judge_format: JudgeFormat = "json_schema") -> PupaMetric:
    """A PUPA metric whose judge runs on ``judge_lm`` (default: the LM configured in DSPy at call time)."""
    return PupaMetric(judge_lm=judge_lm, on_judge_failure=on_judge_failure, judge_format=judge_format)
