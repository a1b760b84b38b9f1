"""Running a candidate DSPy program on examples, with traces, in parallel threads."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Callable, Mapping, Sequence

import dspy
from dspy.utils.callback import BaseCallback
from dspy.utils import exceptions as dspy_errors
from dspy.utils.exceptions import AdapterParseError

from ..engine.candidate import Candidate, candidate_key
from ..engine.protocols import OutcomeSink
from ..engine.records import Outcome
from .feedback import generic_feedback, normalize_metric_result, objective_scores_of
from .program import build_program, named_predictors
from . import typed_json
from .snapshot import to_jsonable

logger = logging.getLogger("gepa_dspy")

Metric = Callable[..., Any]

#: Programs (one per candidate) kept built between evaluations.
_PROGRAM_CACHE_SIZE = 16

#: Module prefixes of exceptions that mean "the LM (or the network to it) failed", not the program.
_LM_ERROR_MODULES = ("litellm", "openai", "httpx", "httpcore", "requests", "urllib3", "aiohttp")


#: LM errors that no retry or later example will fix: they stop the run at once instead of being scored.
FATAL_LM_ERRORS: tuple[type[BaseException], ...] = (
    dspy_errors.LMConfigurationError,
    dspy_errors.LMAuthError,
    dspy_errors.LMBillingError,
    dspy_errors.LMUnsupportedModelError,
)


#: LM errors caused by the request itself (too long, malformed, unsupported): the same request fails the same way
#: again, so they stay recorded on resume, unlike ``lm_error`` (outage: connection, timeout, 5xx, rate limit).
REQUEST_LM_ERRORS: tuple[type[BaseException], ...] = (dspy_errors.LMInvalidRequestError, dspy_errors.LMUnsupportedFeatureError)


def classify_exception(exc: BaseException) -> str:
    """Failure kind of an exception raised while running the program: ``parse_error``, ``lm_error`` (the LM or
    the way to it is down: retried on resume), ``lm_request_error`` (the LM refused this request), ``program_error``,
    or ``fatal`` (misconfigured LM, bad credentials: re-raised, never scored)."""
    if isinstance(exc, AdapterParseError):
        return "parse_error"
    if isinstance(exc, FATAL_LM_ERRORS):
        return "fatal"
    from_lm = isinstance(exc, (dspy_errors.LMError, TimeoutError, ConnectionError)) or any(
        cls.__module__.split(".")[0] in _LM_ERROR_MODULES for cls in type(exc).__mro__)
    if not from_lm:
        return "program_error"
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    if isinstance(exc, REQUEST_LM_ERRORS) or (isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429)):
        return "lm_request_error"
    return "lm_error"


class _FailedCallRecorder(BaseCallback):
    """Notes predictor calls that raised (e.g. unparsable LM output), which DSPy's trace does not keep."""

    def __init__(self, names_by_id: Mapping[int, str]) -> None:
        self._names = names_by_id
        self._started: dict[str, tuple[str, dict[str, Any]]] = {}
        self.failed: list[dict[str, Any]] = []

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        name = self._names.get(id(instance))
        if name is not None:
            self._started[call_id] = (name, dict(inputs))

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        started = self._started.pop(call_id, None)
        if started is None or exception is None:
            return
        name, inputs = started
        entry: dict[str, Any] = {"predictor": name, "inputs": typed_json.encode(inputs), "outputs": {},
                                 "error": str(exception)[:2000]}
        if isinstance(exception, AdapterParseError):
            entry["raw_response"] = str(exception.lm_response)[:4000]
            entry["expected_fields"] = list(exception.signature.output_fields)
        self.failed.append(entry)


class DSPyEvaluator:
    """Implements the engine's ``Evaluator`` for a DSPy program and a feedback metric.

    Scores come from ``metric(gold, pred, None, None, None)``, exactly as ``dspy.Evaluate`` computes
    them, so a candidate gets the same score on an example whether or not traces were wanted.
    """

    def __init__(
        self,
        student: dspy.Module,
        examples: Mapping[str, dspy.Example],
        metric: Metric,
        *,
        num_threads: int | None = None,
        failure_score: float = 0.0,
        perfect_score: float = 1.0,
        lm_retries: int = 1,
        retry_backoff_s: float = 2.0,
    ) -> None:
        self.student = student
        self.examples = dict(examples)
        self.metric = metric
        self.num_threads = max(1, int(num_threads or 1))
        self.failure_score = float(failure_score)
        self.perfect_score = float(perfect_score)
        self.lm_retries = int(lm_retries)
        self.retry_backoff_s = float(retry_backoff_s)
        self._retry_lock = threading.Lock()
        self._programs: OrderedDict[str, dspy.Module] = OrderedDict()
        self._programs_lock = threading.Lock()
        #: Caps program runs in progress at ``num_threads`` across concurrent ``evaluate`` calls (parallel proposals).
        self._run_slots = threading.BoundedSemaphore(self.num_threads)
        self.lm_retry_count = 0

    # ------------------------------------------------------------- programs
    def program_for(self, candidate: Candidate) -> dspy.Module:
        """The (cached) program carrying this candidate's instructions."""
        key = candidate_key(candidate)
        with self._programs_lock:
            program = self._programs.get(key)
            if program is None:
                program = build_program(self.student, candidate)
                self._programs[key] = program
                # A few recent programs are kept: concurrent proposals evaluate several candidates at once.
                while len(self._programs) > _PROGRAM_CACHE_SIZE:
                    self._programs.popitem(last=False)
            else:
                self._programs.move_to_end(key)
            return program

    # ----------------------------------------------------------- evaluation
    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        program = self.program_for(candidate)
        names_by_id = {id(p): n for n, p in named_predictors(program)}

        def task(example_id: str) -> None:
            with self._run_slots:
                outcome = self._run_one(program, names_by_id, example_id)
            sink(example_id, outcome)

        if self.num_threads == 1 or len(example_ids) == 1:
            for example_id in example_ids:
                task(example_id)
            return
        executor = ThreadPoolExecutor(max_workers=min(self.num_threads, len(example_ids)), thread_name_prefix="gepa-eval")
        try:
            # Each task runs in a copy of the caller's context so DSPy's thread-local settings
            # (lm, adapter, callbacks set with dspy.context) follow it into the worker.
            futures = [executor.submit(contextvars.copy_context().run, task, e) for e in example_ids]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                for f in pending:
                    f.cancel()
                wait([f for f in pending if not f.cancelled()])
                raise failed.exception()  # type: ignore[misc]
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _run_one(self, program: dspy.Module, names_by_id: Mapping[int, str], example_id: str) -> Outcome:
        example = self.examples[example_id]
        attempt = 0
        while True:
            recorder = _FailedCallRecorder(names_by_id)
            callbacks = [*(dspy.settings.get("callbacks") or []), recorder]
            with dspy.context(trace=[], callbacks=callbacks):
                try:
                    prediction = program(**example.inputs())
                    error: BaseException | None = None
                except Exception as exc:  # noqa: BLE001 - every program failure becomes a scored record
                    prediction, error = None, exc
                trace = list(dspy.settings.trace or [])
            if error is not None and classify_exception(error) == "fatal":
                raise error
            # DSPy's LM already retries transient errors (num_retries, with backoff); this is one more
            # bounded round on top, for custom LMs and for outages longer than DSPy's retry window.
            if error is not None and classify_exception(error) == "lm_error" and attempt < self.lm_retries:
                attempt += 1
                with self._retry_lock:
                    self.lm_retry_count += 1
                delay = self.retry_backoff_s * (2 ** (attempt - 1))
                logger.warning("GEPA: LM error on example %s (%s); retry %d/%d in %.1fs", example_id, _short(error), attempt, self.lm_retries, delay)
                time.sleep(delay)
                continue
            break

        # Typed JSON, so reflection rebuilds the same objects from a stored run as from a fresh one.
        snapshot = [
            {"predictor": names_by_id[id(pred)], "inputs": typed_json.encode(inputs),
             "outputs": typed_json.encode(dict(out))}
            for pred, inputs, out in trace
            if id(pred) in names_by_id
        ] + recorder.failed
        if error is not None:
            kind = classify_exception(error)
            return Outcome(
                score=self.failure_score,
                feedback=f"The program failed on this example ({kind}): {_short(error, 1500)}",
                failure=kind,
                trace=snapshot,
            )

        where = f"for example {example_id!r} ({_describe(example)})"
        try:
            result = self.metric(example, prediction, None, None, None)
        except Exception as exc:  # noqa: BLE001 - a metric crashing at run time is a counted failure
            logger.warning("GEPA: metric raised %s", where, exc_info=True)
            return Outcome(
                score=self.failure_score,
                feedback=f"The metric raised {type(exc).__name__}: {_short(exc, 1000)}",
                failure="metric_error",
                trace=snapshot,
                output=to_jsonable(_prediction_fields(prediction)),
            )
        score, feedback = normalize_metric_result(result, self.perfect_score, where)
        objectives = objective_scores_of(result, where)
        return Outcome(
            score=score,
            feedback=feedback or generic_feedback(score, self.perfect_score),
            trace=snapshot,
            output=to_jsonable(_prediction_fields(prediction)),
            objectives=objectives,
        )


def _prediction_fields(prediction: Any) -> dict[str, Any]:
    if isinstance(prediction, dspy.Prediction):
        return dict(prediction.items())
    if isinstance(prediction, dict):
        return dict(prediction)
    return {"output": prediction}


def _describe(example: dspy.Example) -> str:
    text = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in example.inputs().items())
    return text[:200]


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
