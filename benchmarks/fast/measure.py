"""Measure a task LM on the fast suite: seconds per program call, seed score, and how much a told model gains.

    python -m benchmarks.fast.measure --model fast --out benchmarks/results/fast/measure_fast.json
    python -m benchmarks.fast.measure --url http://127.0.0.1:8092 --label default --reflection-probe 2 \\
        --out benchmarks/results/fast/measure_default.json

For each task it runs, on the first ``--examples`` val examples of seed 0 with ``--threads`` concurrent calls:

- the **seed** program as ``make_program()`` builds it;
- the **told** program: the same program with every house rule appended to each predictor's instruction. It is
  a yardstick of what the model can do once told, never something an optimizer sees.

From the paired per-example scores it derives the power figure used to choose the task LM: ``z_per_sqrt_hour``
= mean(told - seed) / sd(told - seed) x sqrt(program calls per hour). An optimizer run's gain is detected with
a paired test whose z grows with sqrt(test examples), so the LM with the larger figure gives more confidence per
hour of LM time (for gains of the size that telling the rules brings). ``--reflection-probe N`` also times N
reflection-sized calls (about 900 prompt tokens, up to 400 generated), the proposal step's unit of cost.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

from benchmarks.compare.run import evaluate_program  # noqa: E402
from benchmarks.fast.registry import TASKS, get  # noqa: E402


def told_program(module: Any) -> dspy.Module:
    """The task's seed program with every house rule appended to each predictor's instruction."""
    program = module.make_program()
    rules = "\n".join(f"- {rule.text}" for rule in module.TASK.rules)
    for _, predictor in program.named_predictors():
        predictor.signature = predictor.signature.with_instructions(
            f"{predictor.signature.instructions}\n\nHouse rules:\n{rules}")
    return program


def paired_power(seed: Sequence[float], told: Sequence[float], seconds_per_call: float) -> dict[str, float | None]:
    """Gain of told over seed, its paired standard deviation and the z reachable per sqrt(hour)."""
    diffs = [t - s for s, t in zip(seed, told)]
    gain = statistics.fmean(diffs) if diffs else 0.0
    sd = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    per_hour = 3600.0 / seconds_per_call if seconds_per_call > 0 else 0.0
    z = gain / sd * math.sqrt(per_hour) if sd > 0 else None
    return {"gain": gain, "sd_paired": sd, "program_calls_per_hour": per_hour, "z_per_sqrt_hour": z}


def measure_task(name: str, lm: dspy.BaseLM, examples: int, threads: int) -> dict[str, Any]:
    module = get(name)
    val = module.load_splits(seed=0).val[:examples]
    out: dict[str, Any] = {"task": name, "examples": len(val)}
    for label, program in (("seed", module.make_program()), ("told", told_program(module))):
        before = len(lm.history)
        scores = evaluate_program(program, val, module.metric, lm, num_threads=threads)
        calls = len(lm.history) - before
        out[label] = {"mean": scores.mean, "scores": scores.scores, "errors": scores.errors,
                      "seconds": round(scores.seconds, 2), "seconds_per_program_call": scores.seconds / len(val),
                      "lm_calls": calls, "seconds_per_lm_call": scores.seconds / calls if calls else None}
        print(f"[measure] {name} {label}: score {scores.mean:.2f}, {scores.seconds / len(val):.2f} s per program "
              f"call ({calls} LM calls, {scores.errors} errors)", file=sys.stderr, flush=True)
    per_call = (out["seed"]["seconds"] + out["told"]["seconds"]) / (2 * len(val))
    out["power"] = paired_power(out["seed"]["scores"], out["told"]["scores"], per_call)
    return out


REFLECTION_PROBE = (
    "You improve the instruction of one step of a language-model program.\n\nCurrent instruction:\n{instruction}\n\n"
    "Below are inputs the step received, what it answered, and what a reviewer said about each answer.\n\n{records}\n"
    "Write a new instruction for the step that fixes every problem the reviewer found. State each rule the "
    "reviewer relies on explicitly. Reply with the instruction only."
)


def reflection_probe(lm: dspy.BaseLM, calls: int) -> list[dict[str, Any]]:
    """Time ``calls`` proposal-sized requests built from the ticket router's rules and feedback."""
    module = get("ticket_router")
    examples = module.load_splits(seed=0).train
    out = []
    for i in range(calls):
        batch = examples[4 * i:4 * i + 4] * 2
        records = "\n".join(
            f"Input: {e.ticket}\nAnswer: {module.naive_queue(e.ticket)}\n"
            f"Reviewer: {module.metric(e, dspy.Prediction(queue=module.naive_queue(e.ticket))).feedback}\n"
            for e in batch)
        prompt = REFLECTION_PROBE.format(instruction=module.RouteTicket.instructions, records=records)
        start = time.perf_counter()
        reply = lm(messages=[{"role": "user", "content": prompt}], max_tokens=400)
        seconds = time.perf_counter() - start
        usage = (lm.history[-1].get("usage") or {}) if lm.history else {}
        out.append({"seconds": round(seconds, 2), "prompt_tokens": usage.get("prompt_tokens"),
                    "completion_tokens": usage.get("completion_tokens"), "reply_chars": len(str(reply[0]))})
        print(f"[measure] reflection probe {i + 1}: {seconds:.1f} s, {usage.get('prompt_tokens')} prompt / "
              f"{usage.get('completion_tokens')} completion tokens", file=sys.stderr, flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fast.measure", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="start a local server for this model alias (fast | default)")
    target.add_argument("--url", help="use a running llama.cpp server, e.g. http://127.0.0.1:8092")
    p.add_argument("--label", default=None, help="name stored in the output (default: the model alias or URL)")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated fast tasks (default all)")
    p.add_argument("--examples", type=int, default=25, help="val examples per task (default 25)")
    p.add_argument("--threads", type=int, default=2, help="concurrent program calls (default 2, as in the grid)")
    p.add_argument("--max-tokens", type=int, default=128, help="task LM output cap (default 128, as in the grid)")
    p.add_argument("--reflection-probe", type=int, default=0, help="also time this many proposal-sized calls")
    p.add_argument("--out", required=True, help="JSON file to write")
    args = p.parse_args(argv)
    from gepa_dspy.local_lm import local_lm

    kwargs = {"cache": False, "temperature": 0.0, "max_tokens": args.max_tokens}
    lm = local_lm(url=args.url, **kwargs) if args.url else local_lm(args.model, **kwargs)
    started = time.perf_counter()
    tasks: list[dict[str, Any]] = []
    probe: list[dict[str, Any]] = []

    def save(complete: bool) -> None:  # after every task, so an interrupted measurement keeps what it measured
        result = {
            "label": args.label or args.model or args.url, "url": args.url, "model": args.model,
            "threads": args.threads, "max_tokens": args.max_tokens, "examples": args.examples, "complete": complete,
            "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "python": platform.python_version()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "tasks": tasks, "reflection_probe": probe,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    for name in (t.strip() for t in args.tasks.split(",") if t.strip()):
        tasks.append(measure_task(name, lm, args.examples, args.threads))
        save(complete=False)
    if args.reflection_probe:
        probe.extend(reflection_probe(lm, args.reflection_probe))
    save(complete=True)
    print(f"[measure] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
