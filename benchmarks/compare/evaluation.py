"""The one evaluation runner every optimizer's program goes through (val re-scoring and the test split)."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import dspy

from benchmarks.run_baseline import evaluate_example


@dataclass
class SplitScores:
    """Scores of one program on one split: per example (in split order) and their mean."""

    scores: list[float]
    errors: int
    seconds: float
    source: str = "runner"
    error_messages: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "n": len(self.scores), "scores": self.scores, "errors": self.errors,
                "seconds": round(self.seconds, 2), "source": self.source,
                "error_messages": self.error_messages[:5]}


def evaluate_program(program: dspy.Module, examples: Sequence[dspy.Example], metric: Callable[..., Any],
                     lm: dspy.BaseLM, num_threads: int = 1, label: str | None = None,
                     on_example: Callable[[int], None] | None = None) -> SplitScores:
    """Run ``program`` and ``metric`` on every example with ``lm`` as the configured LM.

    The same function scores every optimizer's result, so test scores differ only by the program.
    A failing example scores 0 and is counted in ``errors``; it never stops the evaluation. With
    ``label``, progress is printed to stderr about every quarter of the examples; ``on_example(done)``
    is called after each example.
    """
    start = time.perf_counter()
    results = []
    every = max(1, len(examples) // 4)
    pool = ThreadPoolExecutor(max_workers=max(1, num_threads))
    try:
        futures = [pool.submit(evaluate_example, i, ex, program, metric, lm) for i, ex in enumerate(examples)]
        for done, future in enumerate(as_completed(futures), start=1):
            results.append(future.result())
            if on_example is not None:
                on_example(done)
            if label and (done % every == 0 or done == len(examples)):
                print(f"[compare]   {label}: {done}/{len(examples)} examples, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    except BaseException:  # Ctrl-C: drop the queued examples instead of running them all first
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    results.sort(key=lambda r: r.index)
    errors = [r.error for r in results if r.error]
    return SplitScores(scores=[r.score for r in results], errors=len(errors),
                       seconds=time.perf_counter() - start, error_messages=errors)
