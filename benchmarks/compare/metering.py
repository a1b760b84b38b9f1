"""Counting what an optimizer run spends: metric calls (rollouts), program runs, and LM calls and tokens per LM
role."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable

import dspy
from dspy.utils.callback import BaseCallback

from benchmarks.common import score_of


class MetricCallCapExceeded(BaseException):
    """Raised by a ``CountingMetric`` once its hard cap on metric calls is used up (a runaway guard).

    A ``BaseException`` on purpose, like ``KeyboardInterrupt``: DSPy's evaluator and bootstrapper turn any
    ``Exception`` from a metric into a zero score and carry on, which would let a runaway optimizer keep
    running programs unmetered. This one aborts the optimizer; the harness turns it into a failed run.
    """


class CountingMetric:
    """Wraps a benchmark metric and counts its calls, thread-safely.

    ``rollouts`` counts calls without ``pred_name`` (one program run judged once: the unit every
    optimizer's budget is measured in; ``traced_rollouts`` of them came with a trace, as bootstrapping's
    do); ``feedback_calls`` counts calls with ``pred_name`` (GEPA asking
    the metric for one predictor's feedback on an already paid-for run). With ``scalar=True`` the
    wrapper returns the float score (for optimizers such as MIPROv2 that test a metric's truth value).
    With ``cap`` set, the call after the cap-th rollout raises ``MetricCallCapExceeded``. ``on_rollout`` is
    called after each counted rollout (the harness's ``progress.json``).
    """

    def __init__(self, metric: Callable[..., Any], *, scalar: bool = False, cap: int | None = None,
                 on_rollout: Callable[[], None] | None = None) -> None:
        self.metric = metric
        self.scalar = scalar
        self.cap = cap
        self.on_rollout = on_rollout
        self.rollouts = 0
        self.traced_rollouts = 0
        self.feedback_calls = 0
        self._lock = threading.Lock()

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> Any:
        with self._lock:
            if pred_name is None:
                if self.cap is not None and self.rollouts >= self.cap:
                    raise MetricCallCapExceeded(f"metric call cap of {self.cap} reached")
                self.rollouts += 1
                self.traced_rollouts += trace is not None
            else:
                self.feedback_calls += 1
        if pred_name is None and self.on_rollout is not None:
            self.on_rollout()
        if pred_name is None and pred_trace is None:
            result = self.metric(gold, pred, trace)
        else:
            result = self.metric(gold, pred, trace, pred_name, pred_trace)
        return score_of(result) if self.scalar else result


@dataclass
class LMUsage:
    """LM traffic of one role during one run (calls started, calls that raised, tokens of finished calls)."""

    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _token_counts(usage: Any) -> tuple[int, int]:
    """(prompt, completion) tokens from a usage dict in OpenAI or lm15 naming."""
    if not isinstance(usage, dict):
        usage = dict(getattr(usage, "__dict__", {}) or {})
    prompt = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    completion = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    return int(prompt), int(completion)


class LMUsageMeter(BaseCallback):
    """Counts calls and tokens of one LM (and of every copy DSPy makes of it).

    ``attach(lm)`` adds the meter to the LM's own callbacks (copies keep them) for call counts, and
    wraps the LM's ``update_history`` hook (copies share it) to add the tokens of each finished call.
    Both work across threads, with the DSPy cache off, and without any global DSPy settings.
    """

    def __init__(self, role: str) -> None:
        self.role = role
        self.usage = LMUsage()
        self._lock = threading.Lock()

    def attach(self, lm: dspy.BaseLM) -> dspy.BaseLM:
        """Start metering ``lm`` (in place); returns it."""
        lm.callbacks = [*getattr(lm, "callbacks", []), self]
        original = lm.update_history
        meter = self

        def update_history(entry: dict[str, Any]) -> None:
            meter.add_tokens(entry.get("usage"))
            original(entry)

        lm.update_history = update_history  # type: ignore[method-assign]
        return lm

    def add_tokens(self, usage: Any) -> None:
        prompt, completion = _token_counts(usage or {})
        with self._lock:
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        with self._lock:
            self.usage.calls += 1

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if exception is not None:
            with self._lock:
                self.usage.failed_calls += 1

    def snapshot(self) -> LMUsage:
        with self._lock:
            return LMUsage(**asdict(self.usage))

    def reset(self) -> None:
        with self._lock:
            self.usage = LMUsage()


class ProgramRunMeter(BaseCallback):
    """Reports every run of the program an optimizer is optimizing, failed runs included.

    A run that raises before the metric is called (an unparsable reply) never reaches ``CountingMetric``, yet
    dspy.GEPA and MIPROv2 pay for it, so a count of metric calls alone understates how far a run has got.
    DSPy drops a module's own callbacks when it copies the module, and optimizers run copies, so the meter
    goes into the global callbacks (``dspy.context(callbacks=[..., meter])``, which worker threads inherit)
    and counts the top-level calls (no enclosing module) of modules of the program's class. Modules of
    other classes, such as a proposer's ``dspy.Predict``, are not counted. ``on_run(failed)`` is called after
    each run.
    """

    def __init__(self, program_type: type, on_run: Callable[[bool], None]) -> None:
        self.program_type = program_type
        self.on_run = on_run
        self._runs: set[str] = set()
        self._lock = threading.Lock()

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        # The enclosing modules are pushed only once the call has begun, so a top-level call sees none here.
        if type(instance) is self.program_type and not dspy.settings.get("caller_modules"):
            with self._lock:
                self._runs.add(call_id)

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        with self._lock:
            if call_id not in self._runs:
                return
            self._runs.discard(call_id)
        self.on_run(exception is not None)
