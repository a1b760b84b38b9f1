"""Throughput of a running llama.cpp server, read back from its log, per window of minutes.

Usage::

    python -m benchmarks.server_log_throughput ~/.cache/gepa-dspy/logs/llama-server-8091.log --window 2

llama-server prints two ``print_timing`` lines for every finished request: its prompt evaluation (prefill)
and its generation (decode), each with a duration and a token count, after a timestamp that counts from the
server's start (``minutes.seconds.milliseconds.microseconds``). This sums them per window: requests finished,
prompt tokens and generated tokens per wall-clock second (the server's throughput, whoever sent the
requests), and generated tokens per second of one request's generation (what one stream got). Comparing
windows where one client ran against windows where two ran shows what sharing the server costs or gains,
without stopping the work to measure it (``benchmarks/lm_throughput.py`` measures the same in isolation).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

_TIMING = re.compile(
    r"^(?P<minutes>\d+)\.(?P<seconds>\d+)\.\d+\.\d+ .*\|\s+(?P<kind>prompt eval|eval) time =\s+"
    r"(?P<ms>[\d.]+) ms /\s+(?P<tokens>\d+) tokens"
)


@dataclass
class Window:
    """The requests that finished in ``[start_min, start_min + minutes)`` of the server's uptime."""

    start_min: int
    minutes: int
    requests: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    generation_seconds: float = 0.0

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.prompt_tokens / (self.minutes * 60)

    @property
    def generated_tokens_per_s(self) -> float:
        return self.generated_tokens / (self.minutes * 60)

    @property
    def per_stream_tokens_per_s(self) -> float | None:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else None


def windows(lines: Iterable[str], minutes: int = 2) -> list[Window]:
    """Per-window sums of the log's timing lines, in time order; other lines are ignored."""
    if minutes < 1:
        raise ValueError(f"the window must be at least one minute, not {minutes}")
    found: dict[int, Window] = {}
    for line in lines:
        match = _TIMING.match(line)
        if match is None:
            continue
        start = int(match["minutes"]) // minutes * minutes
        window = found.setdefault(start, Window(start, minutes))
        tokens = int(match["tokens"])
        if match["kind"] == "eval":  # generation; one such line per finished request
            window.requests += 1
            window.generated_tokens += tokens
            window.generation_seconds += float(match["ms"]) / 1000
        else:
            window.prompt_tokens += tokens
    return [found[k] for k in sorted(found)]


def format_table(rows: list[Window]) -> str:
    lines = ["| minutes | requests | prompt tok/s | generated tok/s | per stream tok/s |", "|---|---|---|---|---|"]
    for w in rows:
        stream = w.per_stream_tokens_per_s
        lines.append(
            f"| {w.start_min}-{w.start_min + w.minutes} | {w.requests} | {w.prompt_tokens_per_s:.1f} | "
            f"{w.generated_tokens_per_s:.1f} | {'-' if stream is None else f'{stream:.1f}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="the llama-server log (gepa-dspy serve writes it under ~/.cache/gepa-dspy/logs)")
    parser.add_argument("--window", type=int, default=2, help="minutes per row (default 2)")
    args = parser.parse_args(argv)
    with args.log.open(encoding="utf-8", errors="replace") as handle:
        print(format_table(windows(handle, args.window)))


if __name__ == "__main__":
    main()
