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
from pathlib import Path
from typing import Iterable

import pandas as pd

_TIMING = re.compile(
    r"^(?P<minutes>\d+)\.(?P<seconds>\d+)\.\d+\.\d+ .*\|\s+(?P<kind>prompt eval|eval) time =\s+"
    r"(?P<ms>[\d.]+) ms /\s+(?P<tokens>\d+) tokens"
)


def windows(lines: Iterable[str], minutes: int = 2) -> pd.DataFrame:
    """Per-window sums of the log's timing lines, one row per window with a timing line, in time order (other
    lines are ignored): ``start_min``, ``requests`` (one generation line per finished request), ``prompt_tokens``,
    ``generated_tokens``, ``generation_seconds`` and the rates derived from them."""
    if minutes < 1:
        raise ValueError(f"the window must be at least one minute, not {minutes}")
    rows = [{"start_min": int(m["minutes"]) // minutes * minutes, "generation": m["kind"] == "eval",
             "tokens": int(m["tokens"]), "seconds": float(m["ms"]) / 1000}
            for m in map(_TIMING.match, lines) if m is not None]
    columns = ["start_min", "requests", "prompt_tokens", "generated_tokens", "generation_seconds", "minutes",
               "prompt_tokens_per_s", "generated_tokens_per_s", "per_stream_tokens_per_s"]
    if not rows:
        return pd.DataFrame(columns=columns)
    timings = pd.DataFrame(rows)
    decode = timings[timings["generation"]].groupby("start_min").agg(
        requests=("tokens", "size"), generated_tokens=("tokens", "sum"), generation_seconds=("seconds", "sum"))
    prefill = timings[~timings["generation"]].groupby("start_min")["tokens"].sum().rename("prompt_tokens")
    table = decode.join(prefill, how="outer").fillna(0).sort_index()
    table["minutes"] = minutes
    table["prompt_tokens_per_s"] = table["prompt_tokens"] / (minutes * 60)
    table["generated_tokens_per_s"] = table["generated_tokens"] / (minutes * 60)
    table["per_stream_tokens_per_s"] = table["generated_tokens"] / table["generation_seconds"].where(
        table["generation_seconds"] > 0)
    return table.rename_axis("start_min").reset_index()[columns]


def format_table(table: pd.DataFrame) -> str:
    lines = ["| minutes | requests | prompt tok/s | generated tok/s | per stream tok/s |", "|---|---|---|---|---|"]
    for w in table.itertuples():
        stream = "-" if pd.isna(w.per_stream_tokens_per_s) else f"{w.per_stream_tokens_per_s:.1f}"
        lines.append(f"| {w.start_min}-{w.start_min + w.minutes} | {int(w.requests)} | {w.prompt_tokens_per_s:.1f} | "
                     f"{w.generated_tokens_per_s:.1f} | {stream} |")
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
