"""Validation policies side by side: the paper's full validation, racing, held-out selection, and dspy.GEPA.

The task is the orchestration benchmark's two-stage topic task (``benchmarks/orchestration.py``) against the same
scripted OpenAI-compatible server, with two additions that make validation matter:

- a **test split**, scored after the run with the returned program, so selection on the validation set can be
  told apart from real quality;
- an optional **noisy task LM** (``--task-noise P``): each stage's answer is flipped (right to wrong or wrong to
  right) with probability P, decided by a hash of the instruction and the question. A child whose instruction
  differs from its parent's draws new flips everywhere, so it can win a minibatch by luck and then lose on
  validation, as children of real LMs do. Replies stay deterministic given the prompt.

For every seed, each policy runs at the same budget on the same splits; the report gives per policy the mean
best validation score, the mean test score, the validation-to-test gap of the returned program, the metric calls
it needed to first reach the default's final validation score (same valset only), and, paired by seed against the
default, the test-score difference with a 95% bootstrap interval (scipy.stats.bootstrap).

Usage::

    python -m benchmarks.validation_policies --seeds 10 --budget 300 --task-noise 0.1 --out benchmarks/results/validation_policies.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import platform
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import dspy

from benchmarks.orchestration import (REFLECTION_MODEL, TASK_MODEL, ReflectionResponder, TopicQA, _quiet,
                                      build_dataset, metric, task_responder, write_report)
from gepa_dspy.testing import ScriptedOpenAIServer, format_chat_adapter_reply, parse_input_fields, parse_instructions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results" / "validation_policies.json"
#: Policy name -> extra arguments of our GEPA (``None``: dspy.GEPA).
POLICIES: dict[str, dict[str, Any] | None] = {
    "full": {},
    "racing": {"val_policy": "racing"},
    "holdout": {"selection_fraction": 0.25},
    "dspy": None,
}


def noisy(responder: Callable[[list[dict[str, Any]], str], str], noise: float) -> Callable[[list[dict[str, Any]], str], str]:
    """The task responder with each stage's answer flipped with probability ``noise`` (by prompt hash)."""
    if noise <= 0:
        return responder

    def flipped(messages: list[dict[str, Any]], model: str) -> str:
        reply = responder(messages, model)
        inputs = parse_input_fields(messages)
        blob = (parse_instructions(messages) + "\x00" + json.dumps(inputs, sort_keys=True)).encode("utf-8")
        if int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") / 2 ** 64 >= noise:
            return reply
        number, topic = inputs["question"].split()[1], inputs["question"].rstrip(".").split()[-1]
        if "topic" not in inputs:  # the route stage
            right = f"[[ ## topic ## ]]\n{topic}"
            return format_chat_adapter_reply({"topic": "unknown" if right in reply else topic})
        right = f"{number}:{inputs['topic'].strip()}"
        return format_chat_adapter_reply({"answer": "I do not know." if right in reply else right})

    return flipped


def _optimizer(policy: str, *, budget: int, seed: int, reflection_lm: dspy.LM, num_threads: int) -> Any:
    extra = POLICIES[policy]
    if extra is None:
        cls = dspy.GEPA
        extra = {}
    else:
        from gepa_dspy import GEPA as cls  # noqa: N813 - the class under comparison
    return cls(metric=metric, max_metric_calls=budget, reflection_lm=reflection_lm, num_threads=num_threads, seed=seed,
               track_stats=True, **extra)


def _test_scores(program: dspy.Module, testset: Sequence[dspy.Example]) -> list[float]:
    return [float(metric(ex, program(**ex.inputs())).score) for ex in testset]


def _calls_to_reach(curve: Sequence[Sequence[float]] | None, target: float) -> int | None:
    for calls, best in curve or []:
        if best >= target - 1e-12:
            return int(calls)
    return None


def run_seed(seed: int, *, policies: Sequence[str], budget: int, n_train: int, n_val: int, n_test: int,
             task_noise: float, decoy_percent: int | None, num_threads: int) -> dict[str, dict[str, Any]]:
    """Every policy once on one seed's splits; returns per policy its scores and costs."""
    trainset, rest = build_dataset(seed, n_train, n_val + n_test)
    valset, testset = rest[:n_val], rest[n_val:]
    reflection = ReflectionResponder(decoy_percent=decoy_percent)
    task = noisy(task_responder, task_noise)

    def responder(messages: list[dict[str, Any]], model: str) -> str:
        return reflection(messages, model) if model == REFLECTION_MODEL else task(messages, model)

    out: dict[str, dict[str, Any]] = {}
    with ScriptedOpenAIServer(responder, latency_s=0.0, models=[TASK_MODEL, REFLECTION_MODEL]) as server:
        task_lm = dspy.LM(f"openai/{TASK_MODEL}", api_base=server.url, api_key="scripted", cache=False)
        reflection_lm = dspy.LM(f"openai/{REFLECTION_MODEL}", api_base=server.url, api_key="scripted", cache=False)
        for policy in policies:
            optimizer = _optimizer(policy, budget=budget, seed=seed, reflection_lm=reflection_lm, num_threads=num_threads)
            try:
                with dspy.context(lm=task_lm), _quiet(True):
                    program = optimizer.compile(TopicQA(), trainset=trainset, valset=valset)
                    test = _test_scores(program, testset)
            except Exception as exc:  # noqa: BLE001 - a crashed run is recorded and left out of the summary
                out[policy] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            details = program.detailed_results
            # The returned program: chosen on the held-out examples with held-out selection, else the best val mean.
            best = getattr(details, "selected_idx", None)
            best = details.best_idx if best is None else best
            out[policy] = {
                "val_score": float(details.val_aggregate_scores[best]),
                "test_scores": test,
                "test_score": sum(test) / len(test),
                "metric_calls": int(details.total_metric_calls),
                "curve": [list(point) for point in getattr(details, "score_curve", None) or []],
                "counters": dict(getattr(details, "counters", None) or {}),
            }
    return out


def paired_interval(differences: Sequence[float]) -> tuple[float, float] | None:
    """A 95% bootstrap interval (BCa where it can be computed, else percentile) for the mean of ``differences``."""
    if len(differences) < 2 or len(set(differences)) < 2:
        return None
    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        try:
            result = bootstrap((list(differences),), lambda x, axis=-1: x.mean(axis=axis), confidence_level=0.95,
                               n_resamples=9999, method=method, random_state=0)
        except Exception:  # noqa: BLE001 - BCa fails on degenerate samples; fall back
            continue
        return float(result.confidence_interval.low), float(result.confidence_interval.high)
    return None


def summarise(per_seed: dict[int, dict[str, dict[str, Any]]], policies: Sequence[str]) -> dict[str, Any]:
    # Seeds where some policy crashed are left out of every policy's summary, so all rows stay paired.
    seeds = sorted(s for s in per_seed if all("error" not in per_seed[s][p] for p in policies))
    summary: dict[str, Any] = {"crashed_runs": {p: [s for s in per_seed if "error" in per_seed[s][p]] for p in policies}}
    for policy in policies:
        rows = [per_seed[s][policy] for s in seeds]
        if not rows:
            continue
        reach = []
        for s in seeds:
            target = per_seed[s]["full"]["val_score"] if "full" in per_seed[s] else None
            same_valset = policy in ("full", "racing")
            reach.append(_calls_to_reach(per_seed[s][policy]["curve"], target) if target is not None and same_valset else None)
        entry: dict[str, Any] = {
            "mean_val_score": sum(r["val_score"] for r in rows) / len(rows),
            "mean_test_score": sum(r["test_score"] for r in rows) / len(rows),
            "mean_val_test_gap": sum(r["val_score"] - r["test_score"] for r in rows) / len(rows),
            "mean_metric_calls": sum(r["metric_calls"] for r in rows) / len(rows),
            "calls_to_reach_full_final_val": reach,
        }
        if "full" in policies and policy != "full":
            diffs = [per_seed[s][policy]["test_score"] - per_seed[s]["full"]["test_score"] for s in seeds]
            entry["test_minus_full"] = {"mean": sum(diffs) / len(diffs), "ci95": paired_interval(diffs),
                                        "per_seed_signs": "".join("+" if d > 0 else "-" if d < 0 else "0" for d in diffs)}
            pairs = [(a, b) for a, b in zip(reach, summary["full"]["calls_to_reach_full_final_val"]) if a and b]
            if pairs:
                entry["calls_ratio_to_reach_full_final_val"] = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
        summary[policy] = entry
    return summary


def format_table(report: dict[str, Any]) -> str:
    lines = [f"{'policy':<9} {'val':>6} {'test':>6} {'gap':>6} {'calls':>6}  test - full [95% CI] (signs)   calls to full's final val"]
    for policy, e in report["summary"].items():
        if policy == "crashed_runs":
            continue
        diff = e.get("test_minus_full")
        ci = diff and diff["ci95"]
        diff_text = (f"{diff['mean']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}] ({diff['per_seed_signs']})" if ci else
                     f"{diff['mean']:+.3f} ({diff['per_seed_signs']})") if diff else ""
        ratio = e.get("calls_ratio_to_reach_full_final_val")
        lines.append(f"{policy:<9} {e['mean_val_score']:6.3f} {e['mean_test_score']:6.3f} {e['mean_val_test_gap']:+6.3f} "
                     f"{e['mean_metric_calls']:6.1f}  {diff_text:<30} {'' if ratio is None else f'{ratio:.2f}x'}")
    s = report["settings"]
    crashed = {p: seeds for p, seeds in report["summary"]["crashed_runs"].items() if seeds}
    if crashed:
        lines.append(f"crashed runs (seeds left out of every row): {crashed}")
    lines.append(f"{len(s['seeds'])} seeds, budget {s['budget']}, train/val/test {s['n_train']}/{s['n_val']}/{s['n_test']}, "
                 f"task noise {s['task_noise']}, decoy percent {s['decoy_percent']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--n-train", type=int, default=24)
    parser.add_argument("--n-val", type=int, default=16)
    parser.add_argument("--n-test", type=int, default=120)
    parser.add_argument("--task-noise", type=float, default=0.0)
    parser.add_argument("--decoy-percent", type=int, default=None)
    parser.add_argument("--num-threads", type=int, default=8)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown or "full" not in policies:
        parser.error(f"--policies must include 'full' and only name {sorted(POLICIES)} (unknown: {unknown})")
    for name in ("dspy", "gepa", "gepa_dspy", "LiteLLM", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    per_seed = {}
    for seed in range(args.seeds):
        per_seed[seed] = run_seed(seed, policies=policies, budget=args.budget, n_train=args.n_train, n_val=args.n_val,
                                  n_test=args.n_test, task_noise=args.task_noise, decoy_percent=args.decoy_percent,
                                  num_threads=args.num_threads)
        print(f"seed {seed}: " + ", ".join(f"{p} crashed ({r['error'][:80]})" if "error" in r else
                                           f"{p} val {r['val_score']:.3f} test {r['test_score']:.3f}"
                                           for p, r in per_seed[seed].items()), file=sys.stderr)
    report = {
        "benchmark": "validation-policies",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"seeds": list(range(args.seeds)), "budget": args.budget, "n_train": args.n_train,
                     "n_val": args.n_val, "n_test": args.n_test, "task_noise": args.task_noise,
                     "decoy_percent": args.decoy_percent, "num_threads": args.num_threads, "policies": policies},
        "environment": {"python": platform.python_version(), "dspy": dspy.__version__},
        "summary": summarise(per_seed, policies),
        "per_seed": {str(s): {p: {k: v for k, v in r.items() if k != "test_scores"} for p, r in rows.items()}
                     for s, rows in per_seed.items()},
    }
    return write_report(args.out, report, format_table(report))


if __name__ == "__main__":
    raise SystemExit(main())
