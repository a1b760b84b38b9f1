"""Command line of the comparison harness (``python -m benchmarks.compare --help``)."""

from __future__ import annotations

import argparse
import collections
import logging
import sys
from pathlib import Path
from typing import Sequence

import benchmarks
from benchmarks.common import SCALE_SIZES
from benchmarks.pupa.judge import JUDGE_FORMATS
from gepa_dspy.adapter.reflection import REPLY_FORMATS

from .config import BUDGETED, ERROR, OPTIMIZERS, RECORD, SCALES, CompareConfig, LMSpec, MiproSettings, parse_lm_string
from .report import TABLE_MD, export_runs, import_finished_runs, read_json, report

DEFAULT_OPTIMIZERS = "baseline,mipro,dspy_gepa,gepa"

EPILOG = """examples:
  python -m benchmarks.compare --benchmark ifbench --optimizers baseline,gepa --scale tiny --seeds 0 \\
      --lm local:fast --reflection-lm local:default --out runs/ifbench_tiny
  python -m benchmarks.compare --benchmark all --scale small --seeds 0,1 --out runs/small
  python -m benchmarks.compare --report-only --out runs/small
See docs/compare.md."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (validation of values happens in ``config_from_args``)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", epilog=EPILOG,
                                description="Compare baseline, MIPROv2, dspy.GEPA and our GEPA on the GEPA paper's "
                                            "benchmarks with matched metric-call budgets.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="all",
                   help="comma-separated benchmark names, 'all' (the paper's four; default) or 'fast' (the fast suite)")
    p.add_argument("--optimizers", default=DEFAULT_OPTIMIZERS,
                   help=f"comma-separated subset of {','.join(OPTIMIZERS)} (default {DEFAULT_OPTIMIZERS})")
    p.add_argument("--scale", default="small", choices=sorted(SCALES), help="tiny 8/8/16, small 20/20/40, paper")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0); each seed draws its own split")
    p.add_argument("--split-seed", type=int, default=None, help="use this one data split for every seed")
    p.add_argument("--out", required=True, help="output folder (runs resume from what is already there)")
    p.add_argument("--budget", type=int, default=None,
                   help="metric calls for every GEPA variant (default: what MIPROv2 spent, else the scale default)")
    for split in ("train", "val", "test"):
        p.add_argument(f"--{split}-size", type=int, default=None, help=f"override the scale's {split} size")
    p.add_argument("--data-dir", default=None, help="benchmark data folder (default $GEPA_DSPY_DATA or ../shared/data)")
    p.add_argument("--num-threads", type=int, default=2, help="examples evaluated concurrently (default 2)")
    lm = p.add_argument_group("language models")
    lm.add_argument("--lm", default="local:default",
                    help="task LM: local:default | local:fast | local:http://HOST:PORT | a LiteLLM model string")
    lm.add_argument("--reflection-lm", default=None, help="reflection / proposal LM (default: same as --lm)")
    lm.add_argument("--api-base", default=None, help="OpenAI-compatible base URL for --lm")
    lm.add_argument("--api-key", default=None, help="API key for --lm (default: the provider's env variable)")
    lm.add_argument("--reflection-api-base", default=None, help="base URL for --reflection-lm (default --api-base)")
    lm.add_argument("--reflection-api-key", default=None, help="API key for --reflection-lm (default --api-key)")
    lm.add_argument("--temperature", type=float, default=0.0, help="task LM temperature (default 0)")
    lm.add_argument("--reflection-temperature", type=float, default=0.7, help="reflection LM temperature (default 0.7)")
    lm.add_argument("--max-tokens", type=int, default=1024, help="task LM output cap per call (default 1024)")
    lm.add_argument("--reflection-max-tokens", type=int, default=2048, help="reflection LM output cap (default 2048)")
    lm.add_argument("--program-max-tokens", type=int, default=None,
                    help="per-predictor output cap passed to make_program(max_tokens=...) where supported")
    lm.add_argument("--lm-timeout", type=float, default=600.0, help="seconds before one LM request fails (default 600)")
    lm.add_argument("--lm-retries", type=int, default=2, help="retries of a failed LM request (default 2)")
    lm.add_argument("--local-threads", type=int, default=None,
                    help="CPU threads per llama.cpp server started for local:* (default all cores; 1 on shared cores)")
    opt = p.add_argument_group("optimizers")
    opt.add_argument("--mipro-auto", default=None, choices=["light", "medium", "heavy"],
                     help="MIPROv2 auto mode (default: light below paper scale, heavy at paper scale)")
    opt.add_argument("--mipro-demos", default=None,
                     help="MIPROv2 bootstrapped,labeled demos (default 0,0 below paper scale, 4,4 at paper)")
    opt.add_argument("--judge-format", default="json_schema", choices=list(JUDGE_FORMATS),
                     help="how PUPA's judge answers: json_schema (default) or text (endpoints without response_format)")
    opt.add_argument("--reflection-minibatch-size", type=int, default=3, help="GEPA minibatch size (default 3)")
    opt.add_argument("--reflection-format", choices=sorted(REPLY_FORMATS), default="fenced",
                     help="our GEPA's reflection reply: fenced (default) or json_schema (small local LMs)")
    opt.add_argument("--dspy-straggler-timeout", type=float, default=None, metavar="SECONDS",
                     help="seconds before DSPy's evaluator re-runs a slow example (DSPy: 120; 0: never)")
    opt.add_argument("--attempts", type=int, default=1,
                     help="start a failing run up to this many times (default 1); GEPA variants resume")
    opt.add_argument("--rescore-identical-programs", action="store_true",
                     help="score every program on test, even one identical to a program another run already scored")
    out = p.add_argument_group("output")
    out.add_argument("--report-only", action="store_true", help="only (re)write results.csv, table.md and PNGs")
    out.add_argument("--no-report", action="store_true", help="do not write the report after the runs")
    out.add_argument("--status", action="store_true", help="only show each run's state: finished, running, failed...")
    out.add_argument("--export", default=None, metavar="DIR",
                     help="only copy the runs' small files (no checkpoints) to DIR and write the report there")
    out.add_argument("--import-finished", default=None, metavar="DIR",
                     help="only copy an --export folder's finished runs into --out where it has none yet")
    return p


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"{what} must name at least one value")
    if any(v < 0 for v in values):
        raise ValueError(f"{what} must be non-negative, got {text!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} has duplicates: {text!r}")
    return values


def _names(text: str, known: Sequence[str], what: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError(f"{what} must name at least one of {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} has duplicates: {text!r}")
    return names


def _sizes(args: argparse.Namespace) -> tuple[int, int, int] | None:
    preset = SCALES[args.scale].sizes
    overrides = (args.train_size, args.val_size, args.test_size)
    if all(o is None for o in overrides):
        return preset
    base = preset or SCALE_SIZES["paper"]
    sizes = tuple(o if o is not None else b for o, b in zip(overrides, base))
    if any(s < 1 for s in sizes):
        raise ValueError(f"split sizes must be >= 1, got train/val/test = {sizes}")
    return sizes  # type: ignore[return-value]


def config_from_args(args: argparse.Namespace) -> CompareConfig:
    """Validate parsed arguments into a ``CompareConfig``; raises ValueError with a readable message."""
    suite = benchmarks.SUITES.get(args.benchmark.strip())
    benches = list(suite) if suite else _names(args.benchmark, sorted(benchmarks.BENCHMARKS), "benchmark")
    optimizers = _names(args.optimizers, OPTIMIZERS, "optimizer")
    seeds = _int_list(args.seeds, "--seeds")
    for value, name in ((args.budget, "--budget"), (args.num_threads, "--num-threads"),
                        (args.max_tokens, "--max-tokens"), (args.reflection_max_tokens, "--reflection-max-tokens"),
                        (args.program_max_tokens, "--program-max-tokens"), (args.lm_timeout, "--lm-timeout"),
                        (args.reflection_minibatch_size, "--reflection-minibatch-size"),
                        (args.local_threads, "--local-threads"), (args.attempts, "--attempts")):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if args.dspy_straggler_timeout is not None and args.dspy_straggler_timeout < 0:
        raise ValueError(f"--dspy-straggler-timeout must be >= 0, got {args.dspy_straggler_timeout}")
    if args.lm_retries < 0:
        raise ValueError(f"--lm-retries must be >= 0, got {args.lm_retries}")
    preset = SCALES[args.scale]
    if (any(o in BUDGETED for o in optimizers) and args.budget is None and "mipro" not in optimizers
            and preset.budget is None):
        raise ValueError(f"--scale {args.scale} has no default budget: add mipro to --optimizers or give --budget")
    demos = preset.mipro_demos if args.mipro_demos is None else tuple(_int_list(args.mipro_demos, "--mipro-demos"))
    if len(demos) != 2:
        raise ValueError(f"--mipro-demos takes two numbers (bootstrapped,labeled), got {args.mipro_demos!r}")
    shared = dict(timeout_s=args.lm_timeout, num_retries=args.lm_retries, local_threads=args.local_threads)
    task = LMSpec(parse_lm_string(args.lm), api_base=args.api_base, api_key=args.api_key, temperature=args.temperature,
                  max_tokens=args.max_tokens, **shared)
    reflection = LMSpec(parse_lm_string(args.reflection_lm or args.lm), temperature=args.reflection_temperature,
                        api_base=args.reflection_api_base or args.api_base, max_tokens=args.reflection_max_tokens,
                        api_key=args.reflection_api_key or args.api_key, **shared)
    return CompareConfig(
        benchmarks=benches, optimizers=optimizers, seeds=seeds, out_dir=Path(args.out), scale=args.scale,
        sizes=_sizes(args), budget=args.budget, num_threads=args.num_threads, data_dir=args.data_dir,
        split_seed=args.split_seed, task_lm=task, reflection_lm=reflection,
        mipro=MiproSettings(auto=args.mipro_auto or preset.mipro_auto, max_bootstrapped_demos=demos[0],
                            max_labeled_demos=demos[1]),
        program_max_tokens=args.program_max_tokens, reflection_minibatch_size=args.reflection_minibatch_size,
        reflection_reply_format=args.reflection_format,
        dspy_straggler_timeout=args.dspy_straggler_timeout, attempts=args.attempts, judge_format=args.judge_format,
        reuse_identical_test_scores=not args.rescore_identical_programs,
    )


def status_text(out_dir: Path) -> str:
    """One line per run folder under ``out_dir``: finished (its record), running (another process holds its
    lock), failed (its last error) or unfinished (stopped; the next ``compare`` starts it again), then counts."""
    from .run import is_locked  # loads DSPy

    lines, counts = [], collections.Counter()
    for folder in sorted(p for p in Path(out_dir).glob("*/*/seed*") if p.is_dir()):
        record, error = read_json(folder / RECORD), read_json(folder / ERROR)
        if record is not None:
            state, detail = "finished", (f"test {100 * record['test']['mean']:.1f}, {record.get('metric_calls', 0)} "
                                         f"metric calls, {record['wall_seconds']['total'] / 60:.0f} min")
        elif is_locked(folder):
            state, detail = "running", "another process holds its lock"
        elif error is not None:
            state, detail = "failed", str(error.get("error", ""))[:160]
        else:
            state, detail = "unfinished", "stopped; the next compare starts it again"
        counts[state] += 1
        lines.append(f"{folder.relative_to(out_dir)!s:<40} {state:<11} {detail}")
    if not lines:
        return "no runs yet"
    return "\n".join([*lines, ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))])


def _print_report(out_dir: Path) -> None:
    paths = report(out_dir)
    if not paths:
        print(f"[compare] no finished runs in {out_dir} yet; nothing to report", file=sys.stderr)
        return
    print(paths["table"].read_text(encoding="utf-8"))
    print("[compare] wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (a test or notebook may swap it and close the old one)."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison (or only the report); exit code 1 when any run failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    if args.status:
        print(status_text(out_dir))
        return 0
    if args.report_only:
        _print_report(out_dir)
        return 0
    try:
        if args.export:
            written = export_runs(out_dir, args.export)
        elif args.import_finished:
            written, kept = import_finished_runs(args.import_finished, out_dir)
        else:
            config = config_from_args(args)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    if args.export:
        print((Path(args.export) / TABLE_MD).read_text(encoding="utf-8"))
        print(f"[compare] exported {len(written)} finished run(s) from {out_dir} to {args.export}", file=sys.stderr)
        return 0
    if args.import_finished:
        print(f"[compare] imported {len(written)} finished run(s) from {args.import_finished} into {out_dir}; "
              f"{len(kept)} already had a folder there and were left alone", file=sys.stderr)
        return 0
    from .run import run_comparison, run_keys  # loads DSPy

    in_order = [o for o in OPTIMIZERS if o in config.optimizers]  # the order run_keys runs them in
    print(f"[compare] {len(run_keys(config))} runs: {', '.join(config.benchmarks)} x {', '.join(in_order)} "
          f"x seeds {', '.join(map(str, config.seeds))}; scale {config.scale} {config.sizes or '(paper sizes)'}; "
          f"task LM {config.task_lm.model}, reflection LM {config.reflection_lm.model}; out {out_dir}",
          file=sys.stderr, flush=True)
    logger = logging.getLogger("gepa_dspy")  # our GEPA's INFO lines (seed score, accepted candidates) to stderr
    if not logger.handlers:
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    summary = run_comparison(config)
    if not args.no_report:
        _print_report(out_dir)
    busy = f", running in another process {len(summary.busy)}" if summary.busy else ""
    print(f"[compare] finished {len(summary.finished)}, skipped {len(summary.skipped)}{busy}, "
          f"failed {len(summary.failed)}", file=sys.stderr)
    for key, message in summary.failed.items():
        print(f"[compare]   failed {key}: {message}", file=sys.stderr)
    return 1 if summary.failed else 0
