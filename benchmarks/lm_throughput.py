"""Throughput of the embedded local LM: calls/min and tokens/s at 1, 2 and 4 concurrent DSPy calls.

Usage::

    python -m benchmarks.lm_throughput --url http://127.0.0.1:8089        # reuse a running server
    python -m benchmarks.lm_throughput --model fast                        # start one for this run

Each level runs ``--calls`` distinct ``dspy.ChainOfThought("question -> answer")`` calls (small arithmetic
word problems, so prompts share DSPy's prefix as in real use, and answers are a few dozen tokens) with
the DSPy cache off, after one unmeasured warm-up call. Token counts come from the server's ``usage`` and include every LM request (also those of DSPy calls that
failed to parse); ``calls_per_min`` counts successful DSPy calls only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "lm_throughput.json"
ITEMS = ("pencils", "apples", "stamps", "notebooks", "candles", "batteries", "postcards", "lemons")


def word_problems(count: int) -> list[str]:
    """``count`` distinct short word problems (deterministic)."""
    questions = []
    for i in range(count):
        price = 15 + 7 * i
        quantity = 3 + (i * 5) % 11
        item = ITEMS[i % len(ITEMS)]
        questions.append(
            f"A shop sells {item} at {price} cents each. How much do {quantity} {item} cost, in dollars?"
        )
    return questions


@dataclass(frozen=True)
class LevelResult:
    """Figures for one concurrency level."""

    concurrency: int
    calls: int
    failures: int  # DSPy calls that raised (e.g. unparsable output); their LM requests still count below
    lm_requests: int
    wall_s: float
    calls_per_min: float
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_per_s: float
    completion_tokens_per_s: float
    total_tokens_per_s: float
    latency_mean_s: float
    latency_p50_s: float
    latency_max_s: float
    busy_slots_mean: float | None  # all clients' requests in progress on the server, sampled every second
    load_average_1min: float


@dataclass(frozen=True)
class CallRecord:
    seconds: float
    lm_requests: int
    prompt_tokens: int
    completion_tokens: int
    ok: bool


def _usage_since(lm: dspy.LM, start: int) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) of the history entries from index ``start`` on.

    A DSPy call can make more than one LM request (e.g. the JSON-adapter retry after a parse failure);
    all of them count, including those of calls that finally failed.
    """
    entries = lm.history[start:]
    prompt = sum(int((e.get("usage") or {}).get("prompt_tokens") or 0) for e in entries)
    completion = sum(int((e.get("usage") or {}).get("completion_tokens") or 0) for e in entries)
    return len(entries), prompt, completion


class SlotSampler:
    """Samples llama-server's ``/slots`` every second: how many requests (ours and other clients') run.

    The server may be shared, so the figures are only meaningful next to this number.
    """

    def __init__(self, root_url: str | None) -> None:
        self.url = f"{root_url}/slots" if root_url else None
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    slots = json.loads(response.read())
                self.samples.append(sum(1 for slot in slots if slot.get("is_processing")))
            except (OSError, ValueError):
                pass  # /slots is optional (disabled with --no-slots): report None
            self._stop.wait(1.0)

    def __enter__(self) -> "SlotSampler":
        if self.url:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def mean(self) -> float | None:
        return round(statistics.mean(self.samples), 2) if self.samples else None


def run_level(lm: dspy.LM, questions: Sequence[str], concurrency: int, root_url: str | None = None) -> LevelResult:
    """Run every question once with ``concurrency`` worker threads; each worker has its own LM copy."""
    program = dspy.ChainOfThought("question -> answer")
    local = threading.local()

    def one_call(question: str) -> CallRecord:
        if not hasattr(local, "lm"):
            local.lm = lm.copy()
        started = time.perf_counter()
        history_start = len(local.lm.history)
        ok = True
        try:
            with dspy.context(lm=local.lm):
                program(question=question)
        except Exception as exc:  # counted and reported, never silently dropped
            print(f"  call failed: {type(exc).__name__}: {str(exc)[:200]}")
            ok = False
        requests, prompt, completion = _usage_since(local.lm, history_start)
        return CallRecord(time.perf_counter() - started, requests, prompt, completion, ok=ok)

    started = time.perf_counter()
    with SlotSampler(root_url) as sampler, ThreadPoolExecutor(max_workers=concurrency) as pool:
        records = list(pool.map(one_call, questions))
    wall = time.perf_counter() - started
    ok = [r for r in records if r.ok]
    prompt = sum(r.prompt_tokens for r in records)
    completion = sum(r.completion_tokens for r in records)
    latencies = [r.seconds for r in ok] or [0.0]
    return LevelResult(
        concurrency=concurrency,
        calls=len(records),
        failures=len(records) - len(ok),
        lm_requests=sum(r.lm_requests for r in records),
        wall_s=round(wall, 2),
        calls_per_min=round(len(ok) / wall * 60.0, 2),
        prompt_tokens=prompt,
        completion_tokens=completion,
        prompt_tokens_per_s=round(prompt / wall, 1),
        completion_tokens_per_s=round(completion / wall, 1),
        total_tokens_per_s=round((prompt + completion) / wall, 1),
        latency_mean_s=round(statistics.mean(latencies), 2),
        latency_p50_s=round(statistics.median(latencies), 2),
        latency_max_s=round(max(latencies), 2),
        busy_slots_mean=sampler.mean(),
        load_average_1min=round(os.getloadavg()[0], 2),
    )


def run_benchmark(
    lm: dspy.LM, levels: Sequence[int], calls: int, root_url: str | None = None
) -> list[LevelResult]:
    """Warm up once, then measure each level on its own fresh set of questions (no prompt repeats)."""
    questions = word_problems(1 + calls * len(levels))
    with dspy.context(lm=lm):
        dspy.ChainOfThought("question -> answer")(question=questions[0])
    results = []
    for index, level in enumerate(levels):
        batch = questions[1 + index * calls: 1 + (index + 1) * calls]
        result = run_level(lm, batch, level, root_url)
        print(
            f"concurrency {level}: {result.calls_per_min:.1f} calls/min, "
            f"{result.completion_tokens_per_s:.1f} gen tok/s, {result.prompt_tokens_per_s:.1f} prompt tok/s, "
            f"mean latency {result.latency_mean_s:.1f} s, failures {result.failures}, "
            f"busy slots {result.busy_slots_mean}, load {result.load_average_1min}",
            flush=True,
        )
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="reuse the server at this URL instead of starting one")
    parser.add_argument("--model", default="default", help="model to start when --url is not given")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--calls", type=int, default=8, help="calls per concurrency level")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from gepa_dspy.local_lm import connect, start_server

    server: Any = connect(args.url) if args.url else start_server(args.model)
    try:
        lm = server.lm(temperature=0.0, cache=False, max_tokens=512)
        started = time.perf_counter()
        results = run_benchmark(lm, args.levels, args.calls, server.url)
        total = time.perf_counter() - started
    finally:
        server.stop()
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": lm.model,
        "server_url": server.url,
        "workload": "dspy.ChainOfThought('question -> answer') on distinct arithmetic word problems, cache off, "
        "temperature 0, max_tokens 512",
        "calls_per_level": args.calls,
        "note": "busy_slots_mean counts every client's requests; above the concurrency level means the server "
        "was shared with other work during the measurement",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
        "total_wall_s": round(total, 1),
        "levels": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
