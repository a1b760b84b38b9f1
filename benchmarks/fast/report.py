"""Report the fast grid: paired test gains with an interval resampling seeds and examples, per-seed signs, sample
efficiency and instruction length.

    python -m benchmarks.fast.report --runs runs/fast --out benchmarks/results/fast

reads every finished fast-suite ``record.json`` under ``--runs`` (the layout of ``benchmarks.compare``) and
writes ``fast_table.md``, ``fast_results.csv`` and two PNGs to ``--out``. With ``--export`` it first copies
the finished runs' small files to ``--out/runs`` (``benchmarks.compare --export``), which is what to commit.

Statistics. All optimizers of one (task, seed) are scored on the same 300 test examples (the split digests
are checked), so each example gives a paired difference. The interval resamples seeds with replacement
within each task, then test examples with replacement within each drawn seed (10,000 resamples, seeded); the
pooled row averages the task means, so every task weighs the same. With 3 seeds the seed level of the
resampling is coarse; the per-seed signs show the spread directly. The interval does not cover a different
draw of tasks.
"""

from __future__ import annotations

import argparse
import collections
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from benchmarks.compare.config import OPTIMIZERS
from benchmarks.compare.report import (
    CONFIDENCE,
    OPTIMIZER_LABELS,
    RESAMPLES,
    export_runs,
    load_records,
    pairable,
    plot_prompt_lengths,
    plot_score_vs_calls,
    results_frame,
)

from .registry import PREFIX

TABLE = "fast_table.md"
CSV = "fast_results.csv"
SCORE_PLOT = "fast_score_vs_calls.png"
PROMPT_PLOT = "fast_prompt_lengths.png"
#: Reference -> the optimizers compared with it (None: every other one). Issue 30's validation policies are
#: compared with the default loop ("gepa") as well.
REFERENCES: dict[str, tuple[str, ...] | None] = {
    "baseline": None,
    "dspy_gepa": ("gepa", "gepa_merge", "mipro", "gepa_racing", "gepa_heldout"),
    "gepa": ("gepa_racing", "gepa_heldout"),
}
#: Optimizers whose program does not depend on the seed: the baseline is the seed program, and the test split
#: is the same for every seed, so one baseline run per task pairs with every seed's runs.
SEED_FREE = ("baseline",)
#: Fraction of the final validation score that "calls to reach" measures.
REACH = 0.9


@dataclass(frozen=True)
class Gain:
    """Test gain (scores in [0, 1]) of ``optimizer`` over ``reference`` with its resampling interval."""

    optimizer: str
    reference: str
    gain: float
    low: float
    high: float
    pairs: int
    #: Per (task, seed) sign of the mean difference: "+", "-" or "0", in task then seed order.
    signs: str
    #: (task, seed) cells that could not be paired (different test examples or metric settings).
    unpaired: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def verdict(self) -> str:
        if self.low == self.high == 0:
            return "no difference"
        return "better" if self.low > 0 else "worse" if self.high < 0 else "within noise"


def fast_records(runs_dir: str | Path) -> list[dict[str, Any]]:
    """The finished records of the fast suite's tasks under ``runs_dir``."""
    return [r for r in load_records(runs_dir) if str(r["benchmark"]).startswith(PREFIX)]


def paired_diffs(records: Sequence[dict[str, Any]], optimizer: str, reference: str
                 ) -> tuple[dict[str, dict[int, np.ndarray]], list[str]]:
    """task -> seed -> per-example test differences (optimizer - reference); and the cells that do not pair."""
    by_key = {(r["benchmark"], r["optimizer"], r["seed"]): r for r in records}
    diffs: dict[str, dict[int, np.ndarray]] = {}
    unpaired = []
    for (task, opt, seed), mine in sorted(by_key.items()):
        if opt != optimizer:
            continue
        # The reference's run of the same seed; for a seed-free reference (the same program for every seed) any
        # of its runs on the same test examples. A cell whose reference ran but cannot be paired is reported.
        candidates = [by_key[(task, reference, seed)]] if (task, reference, seed) in by_key else []
        if reference in SEED_FREE:
            candidates += [r for (t, o, s), r in sorted(by_key.items()) if t == task and o == reference and s != seed]
        ref = next((r for r in candidates if pairable(mine, r)), None)
        if ref is None:
            if candidates:
                unpaired.append(f"{task}/seed{seed}")
            continue
        diffs.setdefault(task, {})[seed] = (np.asarray(mine["test"]["scores"], float)
                                            - np.asarray(ref["test"]["scores"], float))
    return diffs, unpaired


def resampled_gain(diffs: dict[str, dict[int, np.ndarray]], resamples: int = RESAMPLES,
                   confidence: float = CONFIDENCE, rng_seed: int = 0) -> tuple[float, float, float]:
    """(mean gain, low, high): the mean over tasks of each task's mean difference over its (seed, example)
    pairs, with an interval that resamples seeds within tasks, then examples within each drawn seed.

    Hand-written rather than ``scipy.stats.bootstrap``: scipy resamples each sample independently (or all of them
    with shared indices when paired), but not two levels, where the seeds drawn decide which examples are
    resampled. ``benchmarks.compare.report`` uses scipy for its one-level interval."""
    rng = np.random.default_rng(rng_seed)
    task_means = np.zeros((len(diffs), resamples))
    point = []
    for t, seeds in enumerate(diffs.values()):
        arrays = [seeds[s] for s in sorted(seeds)]
        point.append(float(np.concatenate(arrays).mean()))
        picks = rng.integers(0, len(arrays), size=(resamples, len(arrays)))
        sums = np.zeros(resamples)
        counts = np.zeros(resamples)
        for k in range(len(arrays)):  # the k-th seed drawn, with its own resample of examples
            for j, d in enumerate(arrays):
                chosen = picks[:, k] == j
                resampled = d[rng.integers(0, len(d), size=(resamples, len(d)))].sum(axis=1)
                sums += chosen * resampled
                counts += chosen * len(d)
        task_means[t] = sums / counts
    means = task_means.mean(axis=0)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(np.mean(point)), float(low), float(high)


def signs(diffs: dict[str, dict[int, np.ndarray]]) -> str:
    marks = []
    for task in sorted(diffs):
        for seed in sorted(diffs[task]):
            mean = float(diffs[task][seed].mean())
            marks.append("+" if mean > 0 else "-" if mean < 0 else "0")
    return "".join(marks)


def gain(records: Sequence[dict[str, Any]], optimizer: str, reference: str, tasks: Sequence[str] | None = None,
         **kwargs: Any) -> Gain | None:
    """The paired gain of ``optimizer`` over ``reference`` on ``tasks`` (default: every task), or None."""
    diffs, unpaired = paired_diffs(records, optimizer, reference)
    if tasks is not None:
        diffs = {t: d for t, d in diffs.items() if t in tasks}
    if not diffs:
        return None
    mean, low, high = resampled_gain(diffs, **kwargs)
    return Gain(optimizer, reference, mean, low, high, sum(len(d) for s in diffs.values() for d in s.values()),
                signs(diffs), tuple(unpaired))


def calls_to_reach_value(record: dict[str, Any], target: float) -> int | None:
    """Metric calls after which the run's best validation score first reached ``target``; None if it never did."""
    return next((int(calls) for calls, best in record.get("curve") or [] if float(best) >= target), None)


def calls_to_reach(record: dict[str, Any], fraction: float = REACH) -> int | None:
    """Metric calls after which the best validation score so far first reached ``fraction`` of its final
    value (the optimizer's own curve); None without a curve."""
    curve = record.get("curve") or []
    return calls_to_reach_value(record, fraction * float(curve[-1][1])) if curve else None


def _label(name: str) -> str:
    return OPTIMIZER_LABELS.get(name, name)


def _task(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def _gain_cell(g: Gain | None) -> str:
    if g is None:
        return "–"
    return f"{100 * g.gain:+.1f} [{100 * g.low:+.1f}, {100 * g.high:+.1f}] {g.verdict}, signs {g.signs}"


def _ordered_optimizers(records: Sequence[dict[str, Any]]) -> list[str]:
    present = {r["optimizer"] for r in records}
    return [o for o in OPTIMIZERS if o in present] + sorted(present - set(OPTIMIZERS))


def summary_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (task, optimizer): test mean and sd over seeds, metric calls, calls to 90%, tokens, minutes."""
    rows = []
    for task in sorted({r["benchmark"] for r in records}):
        for opt in _ordered_optimizers(records):
            runs = [r for r in records if r["benchmark"] == task and r["optimizer"] == opt]
            if not runs:
                continue
            tests = [r["test"]["mean"] for r in runs]
            reach = [c for c in (calls_to_reach(r) for r in runs) if c is not None]
            rows.append({
                "task": _task(task), "optimizer": opt, "seeds": len(runs),
                "test_mean": float(np.mean(tests)), "test_sd": float(np.std(tests, ddof=1)) if len(tests) > 1 else 0.0,
                "val_mean": float(np.mean([r["val"]["mean"] for r in runs])),
                "metric_calls": float(np.mean([r.get("metric_calls", 0) for r in runs])),
                "calls_to_90pct_val": float(np.mean(reach)) if reach else None,
                "instruction_tokens": float(np.mean([r.get("prompts", {}).get("instruction_tokens", 0) for r in runs])),
                "demos": float(np.mean([r.get("prompts", {}).get("demos", 0) for r in runs])),
                "minutes": float(np.mean([r["wall_seconds"]["total"] for r in runs])) / 60,
            })
    return pd.DataFrame(rows)


#: The GEPA variants whose reflection cost the cost table compares (issue 32).
REFLECTING = ("dspy_gepa", "gepa", "gepa_merge", "gepa_racing", "gepa_heldout")


def resumed(record: dict[str, Any]) -> bool:
    """A run whose optimization resumed after a crash or stop: its record times and counts only its last attempt."""
    return int(record.get("attempt") or 1) > 1 or bool(record.get("resumed_from_checkpoint"))


def scoring_resumed(record: dict[str, Any]) -> bool:
    """A run whose val or test scoring kept examples an interrupted attempt had scored: its scoring minutes cover
    only the rest."""
    return any(int((record.get(split) or {}).get("carried_over") or 0) > 0 for split in ("val", "test"))


def cost_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per GEPA run: optimization seconds, reflection calls and generated tokens, children that joined
    the pool, our rejections per reason (dspy.GEPA keeps no such counts), and whether it resumed."""
    rows = []
    for r in records:
        if r["optimizer"] not in REFLECTING:
            continue
        details = r.get("optimizer_details") or {}
        reflection = (r.get("lm_usage") or {}).get("optimization", {}).get("reflection", {})
        counters = details.get("counters") or {}
        seconds, calls = float(r["wall_seconds"]["optimize"]), r.get("metric_calls", 0)
        rows.append({
            "task": _task(r["benchmark"]), "optimizer": r["optimizer"], "seed": r["seed"],
            "optimize_seconds": seconds, "metric_calls": calls,
            "seconds_per_call": seconds / calls if calls else np.nan,
            "reflection_calls": reflection.get("calls", 0), "reflection_tokens": reflection.get("completion_tokens", 0),
            "children": max(0, int(details.get("candidates", 1)) - 1),
            "rejections": {k[len("reflection_rejected_"):]: int(v) for k, v in counters.items()
                           if k.startswith("reflection_rejected_") and v},
            "resumed": resumed(r),
        })
    return pd.DataFrame(rows)


def whole_pairs(costs: pd.DataFrame, optimizer: str, reference: str = "dspy_gepa") -> pd.DataFrame:
    """The rows of (task, seed) pairs where both ``optimizer`` and ``reference`` ran and neither resumed."""
    rows = costs[costs.optimizer.isin([optimizer, reference])]
    return rows.groupby(["task", "seed"]).filter(
        lambda pair: set(pair.optimizer) == {optimizer, reference} and not pair.resumed.astype(bool).any())


def wall_time_ratio(costs: pd.DataFrame, optimizer: str, reference: str = "dspy_gepa",
                    value: str = "optimize_seconds") -> tuple[float, float, float, int] | None:
    """Geometric mean over (task, seed) pairs of ``optimizer``'s ``value`` over ``reference``'s, with a bootstrap
    interval over the pairs (``scipy.stats.bootstrap``); None below two pairs. Pairs where either run resumed
    are left out: a resumed run's record times only its last attempt."""
    if costs.empty:
        return None
    wide = whole_pairs(costs, optimizer, reference).pivot_table(index=["task", "seed"], columns="optimizer",
                                                                values=value)
    if optimizer not in wide or reference not in wide:
        return None
    logs = np.log(wide[optimizer] / wide[reference]).dropna().to_numpy()
    if len(logs) < 2:
        return None
    ci = scipy.stats.bootstrap((logs,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES,
                               method="percentile", random_state=0).confidence_interval
    return float(np.exp(logs.mean())), float(np.exp(ci.low)), float(np.exp(ci.high)), len(logs)


def _ratio_text(tokens: int, children: int) -> str:
    return f"{tokens / children:.0f} ({tokens} for {children})" if children else f"– ({tokens} for no child)"


def _summed_rejections(rejections: pd.Series) -> str:
    total = sum((collections.Counter(counts) for counts in rejections), collections.Counter())
    return ", ".join(f"{reason} {n}" for reason, n in sorted(total.items())) or "–"


def _run_names(runs: Sequence[dict[str, Any]]) -> str:
    """"task optimizer seed N" of each record, comma-separated."""
    return ", ".join(f"{_task(r['benchmark'])} {_label(r['optimizer'])} seed {r['seed']}" for r in runs)


def cost_markdown(records: Sequence[dict[str, Any]]) -> list[str]:
    """The reflection-cost table (issue 32): per task and GEPA variant, summed over seeds; then the paired
    optimization wall time and seconds per metric call against dspy.GEPA."""
    costs = cost_frame(records)
    if costs.empty:
        return []
    lines = ["", "Reflection cost per task, summed over seeds (optimization only, test scoring excluded):", "",
             "| Task | Optimizer | Seeds | Optimization minutes | Metric calls | Reflection calls | Reflection tokens "
             "| Children accepted | Tokens per accepted child | Our rejected replies |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (task, opt), group in costs.groupby(["task", "optimizer"], sort=True):
        tokens, children = int(group.reflection_tokens.sum()), int(group.children.sum())
        per_child = f"{tokens / children:.0f}" if children else "–"
        rejected = _summed_rejections(group.rejections) if opt != "dspy_gepa" else "not counted"
        lines.append(f"| {task} | {_label(opt)} | {len(group)} | {group.optimize_seconds.sum() / 60:.1f} | "
                     f"{group.metric_calls.sum():.0f} | {group.reflection_calls.sum():.0f} | {tokens} | {children} | "
                     f"{per_child} | {rejected} |")
    again = [r for r in records if r["optimizer"] in REFLECTING and resumed(r)]
    if again:
        lines += ["", f"Resumed runs ({_run_names(again)}) count only their last attempt's minutes and reflection "
                      "tokens; the ratios below leave their pairs out."]
    for opt in sorted(set(costs.optimizer) - {"dspy_gepa"}):
        total = wall_time_ratio(costs, opt)
        per_call = wall_time_ratio(costs, opt, value="seconds_per_call")
        if total is None or per_call is None:
            continue
        pairs = whole_pairs(costs, opt)
        per_child = {o: (int(g.reflection_tokens.sum()), int(g.children.sum())) for o, g in pairs.groupby("optimizer")}
        (ours_tokens, ours_children), (ref_tokens, ref_children) = per_child[opt], per_child["dspy_gepa"]
        lines += ["", f"Reflection tokens per accepted child over the same whole pairs: {_label(opt)} "
                      f"{_ratio_text(ours_tokens, ours_children)}, dspy.GEPA {_ratio_text(ref_tokens, ref_children)}."]
        lines += ["", f"Optimization wall time, {_label(opt)} / dspy.GEPA with the same budget setting: "
                      f"{total[0]:.2f}x [{total[1]:.2f}, {total[2]:.2f}]; per metric call spent: {per_call[0]:.2f}x "
                      f"[{per_call[1]:.2f}, {per_call[2]:.2f}] (geometric means over {total[3]} (task, seed) pairs, "
                      f"{CONFIDENCE:.0%} bootstrap intervals over the pairs; dspy.GEPA runs past the budget, ours "
                      "stops within it, so part of the first ratio is calls not spent)."]
    return lines


#: Issue 30's validation policies, each measured against the default loop ("gepa") of the same task and seed.
POLICIES = ("gepa_racing", "gepa_heldout")


def policy_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (policy run, the default run of its task and seed): both runs' validation-to-test gaps, the
    metric calls each needed to reach the default's final validation score (racing only: held-out selection
    searches on part of the valset, so its curve is on other examples), and racing's counters."""
    default = {(r["benchmark"], r["seed"]): r for r in records if r["optimizer"] == "gepa"}
    rows = []
    for r in records:
        ref = default.get((r["benchmark"], r["seed"]))
        if r["optimizer"] not in POLICIES or ref is None or not ref.get("curve"):
            continue
        target = float(ref["curve"][-1][1])
        counters = (r.get("optimizer_details") or {}).get("counters") or {}
        same_valset = r["optimizer"] != "gepa_heldout"
        rows.append({
            "task": _task(r["benchmark"]), "policy": r["optimizer"], "seed": r["seed"],
            "gap": float(r["val"]["mean"]) - float(r["test"]["mean"]),
            "default_gap": float(ref["val"]["mean"]) - float(ref["test"]["mean"]),
            "calls": calls_to_reach_value(r, target) if same_valset else None,
            "default_calls": calls_to_reach_value(ref, target),
            "raced_out": int(counters.get("reflection_raced_out", 0)),
            "val_runs_saved": int(counters.get("val_runs_saved_by_racing", 0)),
        })
    return pd.DataFrame(rows)


def policy_markdown(records: Sequence[dict[str, Any]]) -> list[str]:
    """Issue 30's targets per policy against the default loop: the validation-to-test gap, and the metric calls
    needed to reach the default's final validation score (its test gain is in the gain table above)."""
    frame = policy_frame(records)
    if frame.empty:
        return []
    lines = ["", "Validation policies against the default loop, over the (task, seed) cells both ran (test gain: "
                 "the table over our GEPA above):", "",
             "| Policy | Cells | Val - test x100 (default) | Metric calls to reach the default's final val "
             "(default; ratio) | Children raced out | Val runs saved |", "|---|---|---|---|---|---|"]
    for policy, group in frame.groupby("policy", sort=True):
        reach = "– (searches on part of the valset)"
        if policy != "gepa_heldout":
            both = group[group.calls.notna()]
            never = f"never reached in {len(group) - len(both)} of {len(group)} cells"
            reach = never if both.empty else (
                f"{both.calls.sum():.0f} ({both.default_calls.sum():.0f}; "
                f"{both.calls.sum() / both.default_calls.sum():.2f}x) over {len(both)} cells"
                + (f"; {never}" if len(both) < len(group) else ""))
        lines.append(f"| {_label(policy)} | {len(group)} | {100 * group.gap.mean():+.1f} "
                     f"({100 * group.default_gap.mean():+.1f}) | {reach} | {group.raced_out.sum()} | "
                     f"{group.val_runs_saved.sum()} |")
    return lines


def table_markdown(records: Sequence[dict[str, Any]]) -> str:
    """The fast grid's report in Markdown: scores and costs per task, then the paired gains."""
    if not records:
        return "_No finished fast-suite runs yet._\n"
    frame = summary_frame(records)
    tasks = sorted({r["benchmark"] for r in records})
    opts = _ordered_optimizers(records)
    models = sorted({f"{r['lms']['task']['model']} (task) / {r['lms']['reflection']['model']} (reflection)"
                     for r in records})
    budgets = sorted({str(r.get("budget")) for r in records if r.get("budget") is not None})
    lines = [
        f"Fast suite: {len(tasks)} task(s), {len(records)} finished run(s); LMs {'; '.join(models)}; "
        f"GEPA budgets {', '.join(budgets) or '–'} metric calls; latest run finished "
        f"{max(str(r.get('finished_at')) for r in records)}.",
        "",
        "| Task | Optimizer | Seeds | Test x100 (mean ± sd) | Val x100 | Metric calls | Calls to 90% of final val "
        "| Instruction tokens | Demos | Minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples():
        reach = "–" if row.calls_to_90pct_val is None or pd.isna(row.calls_to_90pct_val) else f"{row.calls_to_90pct_val:.0f}"
        lines.append(f"| {row.task} | {_label(row.optimizer)} | {row.seeds} | {100 * row.test_mean:.1f} ± "
                     f"{100 * row.test_sd:.1f} | {100 * row.val_mean:.1f} | {row.metric_calls:.0f} | {reach} | "
                     f"{row.instruction_tokens:.0f} | {row.demos:.1f} | {row.minutes:.1f} |")
    again = [r for r in records if resumed(r) or scoring_resumed(r)]
    if again:
        lines += ["", f"Resumed runs count only their last attempt's minutes: {_run_names(again)}."]
    reused = [r for r in records if str((r.get("test") or {}).get("source", "")).startswith("reused")]
    if reused:
        lines += ["", f"Minutes per run include scoring the test split, except for runs that returned a program "
                      f"identical to one already scored and took its test scores: {_run_names(reused)}."]
    for reference, compared in REFERENCES.items():
        others = [o for o in opts if o != reference and (compared is None or o in compared)]
        if reference not in opts or not others:
            continue
        lines += ["", f"Test gain over {_label(reference)} x100, paired by example; {CONFIDENCE:.0%} resampling interval "
                      "over seeds and examples; signs are per (task, seed) in the order of the rows above:", "",
                  "| Optimizer | " + " | ".join(_task(t) for t in tasks) + " | All tasks (mean of task means) |",
                  "|---|" + "---|" * (len(tasks) + 1)]
        for opt in others:
            cells = [_gain_cell(gain(records, opt, reference, tasks=[t])) for t in tasks]
            cells.append(_gain_cell(gain(records, opt, reference)))
            lines.append(f"| {_label(opt)} | " + " | ".join(cells) + " |")
    lines += policy_markdown(records)
    lines += cost_markdown(records)
    lines += ["", "\"better\"/\"worse\": the interval excludes 0 (significant at 95%); \"within noise\": it contains 0. "
                  "Calls to 90%: metric calls after which the optimizer's best validation score first reached 90% of "
                  "its final best (MIPROv2's curve starts after its bootstrapping calls)."]
    return "\n".join(lines) + "\n"


def write_report(runs_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write the table, CSV and plots for the fast records under ``runs_dir`` into ``out_dir``."""
    records = fast_records(runs_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / TABLE, "csv": out / CSV}
    paths["table"].write_text(table_markdown(records), encoding="utf-8")
    if records:
        results_frame(records).to_csv(paths["csv"], index=False)
        paths["score_plot"] = plot_score_vs_calls(records, out / SCORE_PLOT)
        paths["prompt_plot"] = plot_prompt_lengths(records, out / PROMPT_PLOT)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fast.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", required=True, help="the grid's runs folder (benchmarks.compare --out)")
    p.add_argument("--out", default="benchmarks/results/fast", help="where the report goes")
    p.add_argument("--export", action="store_true",
                   help="first copy the finished runs' record and program files to OUT/runs (to commit)")
    args = p.parse_args(argv)
    runs = Path(args.runs)
    if args.export:
        try:
            written = export_runs(runs, Path(args.out) / "runs")
        except FileNotFoundError as exc:  # nothing finished yet: say so, still write the (empty) report
            print(f"[fast-report] nothing exported: {exc}", file=sys.stderr)
        else:
            print(f"[fast-report] exported {len(written)} finished run(s) to {Path(args.out) / 'runs'}",
                  file=sys.stderr)
    paths = write_report(runs, args.out)
    print(paths["table"].read_text(encoding="utf-8"))
    print("[fast-report] wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
