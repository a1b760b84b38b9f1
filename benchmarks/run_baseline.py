"""Evaluate the unoptimized program of any registered benchmark on an LM and report score and cost.

Example (local llama.cpp server)::

    python -m benchmarks.run_baseline --benchmark hotpotqa --scale small --split val --limit 20 --num-threads 2

Prints the mean score, mean seconds per example (per-example latency and wall clock / examples) and mean
LM calls per example (program calls only; metric judge calls are counted separately), and optionally
writes every example's result as JSON (``--output``).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never let litellm reach the network

import argparse  # noqa: E402
import datetime  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import dspy  # noqa: E402
from dspy.utils.callback import BaseCallback  # noqa: E402

import benchmarks  # noqa: E402
from benchmarks.common import score_of  # noqa: E402

DEFAULT_LM = "openai/local"
DEFAULT_API_BASE = "http://127.0.0.1:8089/v1"
DEFAULT_API_KEY = "local"


class LMCallCounter(BaseCallback):
    """Counts LM calls made while it is among DSPy's active callbacks."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        with self._lock:
            self.calls += 1


@dataclass
class ExampleResult:
    """One example's outcome."""

    index: int
    score: float
    seconds: float
    program_lm_calls: int
    metric_lm_calls: int
    feedback: str = ""
    error: str | None = None


@dataclass
class BaselineReport:
    """Summary of one evaluation run."""

    benchmark: str
    split: str
    scale: str
    seed: int
    model: str
    api_base: str | None
    examples: int
    mean_score: float
    errors: int
    mean_seconds_per_example: float
    wall_seconds_per_example: float
    mean_program_lm_calls_per_example: float
    mean_metric_lm_calls_per_example: float
    wall_seconds: float
    num_threads: int
    date: str
    results: list[ExampleResult] = field(default_factory=list)


def evaluate_example(index: int, example: dspy.Example, program: dspy.Module, metric: Callable[..., Any],
                     lm: dspy.BaseLM) -> ExampleResult:
    """Run the program and the metric on one example (errors score 0 and are recorded, not raised)."""
    program_calls, metric_calls = LMCallCounter(), LMCallCounter()
    start = time.perf_counter()
    try:
        with dspy.context(lm=lm):
            with dspy.context(callbacks=[program_calls]):
                pred = program(**example.inputs())
            with dspy.context(callbacks=[metric_calls]):
                outcome = metric(example, pred)
        score = score_of(outcome)
        feedback = str(getattr(outcome, "feedback", "") or "")
        error = None
    except Exception as exc:  # one bad example must not end the run; it is counted and reported
        score, feedback, error = 0.0, "", f"{type(exc).__name__}: {exc}"
    return ExampleResult(index=index, score=score, seconds=time.perf_counter() - start,
                         program_lm_calls=program_calls.calls, metric_lm_calls=metric_calls.calls,
                         feedback=feedback, error=error)


def _program_options(make_program: Callable[..., dspy.Module], data_dir: str | None) -> dict[str, Any]:
    """Pass ``data_dir`` on to ``make_program`` when it takes one (retrieval programs read their corpus there)."""
    if data_dir is not None and "data_dir" in inspect.signature(make_program).parameters:
        return {"data_dir": data_dir}
    return {}


def run(benchmark: str, *, scale: str = "small", split: str = "val", limit: int | None = None, seed: int = 0,
        data_dir: str | None = None, lm: dspy.BaseLM, num_threads: int = 1,
        progress: Callable[[ExampleResult], None] | None = None) -> BaselineReport:
    """Evaluate ``benchmarks.get(benchmark).make_program()`` on a split and summarise the results."""
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    module = benchmarks.get(benchmark)
    splits = module.load_splits(scale=scale, seed=seed, data_dir=data_dir)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test, got {split!r}")
    examples: Sequence[dspy.Example] = getattr(splits, split)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        examples = examples[:limit]
    if not examples:
        raise ValueError(f"{benchmark}: the {split} split is empty")
    program = module.make_program(**_program_options(module.make_program, data_dir))
    start = time.perf_counter()
    results: list[ExampleResult] = []
    with ThreadPoolExecutor(max_workers=num_threads) as pool:
        futures = [pool.submit(evaluate_example, i, ex, program, module.metric, lm) for i, ex in enumerate(examples)]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if progress is not None:
                progress(result)
    results.sort(key=lambda r: r.index)
    wall = time.perf_counter() - start
    n = len(results)
    return BaselineReport(
        benchmark=benchmark, split=split, scale=scale, seed=seed,
        model=str(getattr(lm, "model", type(lm).__name__)), api_base=getattr(lm, "kwargs", {}).get("api_base"),
        examples=n, mean_score=sum(r.score for r in results) / n, errors=sum(r.error is not None for r in results),
        mean_seconds_per_example=sum(r.seconds for r in results) / n, wall_seconds_per_example=wall / n,
        mean_program_lm_calls_per_example=sum(r.program_lm_calls for r in results) / n,
        mean_metric_lm_calls_per_example=sum(r.metric_lm_calls for r in results) / n,
        wall_seconds=wall, num_threads=num_threads, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        results=results,
    )


def format_report(report: BaselineReport) -> str:
    """Human-readable summary lines."""
    return "\n".join([
        f"benchmark={report.benchmark} split={report.split} scale={report.scale} seed={report.seed} "
        f"examples={report.examples} model={report.model} threads={report.num_threads}",
        f"score: {report.mean_score:.3f} ({sum(r.score for r in report.results):g}/{report.examples}), "
        f"errors: {report.errors}",
        f"seconds per example: {report.mean_seconds_per_example:.1f} latency, "
        f"{report.wall_seconds_per_example:.1f} wall clock (total {report.wall_seconds:.0f} s)",
        f"LM calls per example: {report.mean_program_lm_calls_per_example:.2f} program, "
        f"{report.mean_metric_lm_calls_per_example:.2f} metric",
    ])


def make_lm(model: str, api_base: str | None, api_key: str, max_tokens: int, temperature: float) -> dspy.LM:
    """An uncached LM, so the timings are real calls."""
    kwargs: dict[str, Any] = {"api_key": api_key, "cache": False, "max_tokens": max_tokens, "temperature": temperature}
    if api_base:
        kwargs["api_base"] = api_base
    return dspy.LM(model, **kwargs)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True, choices=sorted(benchmarks.BENCHMARKS))
    parser.add_argument("--scale", default="small", choices=["small", "paper"])
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N examples of the split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="benchmark data folder (default: $GEPA_DSPY_DATA or ../shared/data)")
    parser.add_argument("--lm", default=DEFAULT_LM, help=f"LiteLLM model name (default {DEFAULT_LM})")
    parser.add_argument("--api-base", default=DEFAULT_API_BASE, help=f"OpenAI-compatible base URL (default {DEFAULT_API_BASE})")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--max-tokens", type=int, default=1024, help="cap on tokens generated per LM call")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--output", default=None, help="write the report (with per-example results) as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no per-example progress lines")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    lm = make_lm(args.lm, args.api_base, args.api_key, args.max_tokens, args.temperature)

    def show(result: ExampleResult) -> None:
        status = f"error {result.error}" if result.error else f"score {result.score:g}"
        print(f"  example {result.index}: {status}, {result.seconds:.1f} s, {result.program_lm_calls} LM calls",
              file=sys.stderr, flush=True)

    report = run(args.benchmark, scale=args.scale, split=args.split, limit=args.limit, seed=args.seed,
                 data_dir=args.data_dir, lm=lm, num_threads=args.num_threads, progress=None if args.quiet else show)
    print(format_report(report))
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(report), indent=2))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
