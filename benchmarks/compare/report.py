"""Turn finished run records into ``results.csv``, a Table-1-shaped ``table.md`` and PNG plots.

Notebook API (keep these names): ``load_records(out_dir)``, ``results_frame(records)``,
``table_markdown(frame)``, ``gains_table(records)``, ``plot_score_vs_calls(records, path)``,
``plot_prompt_lengths(records, path)``, ``failed_runs(out_dir)``, ``metric_settings_markdown(records)``,
``reflection_format_markdown(records)``, ``flagged_markdown(records)`` and ``report(out_dir)``, which
(re)writes every output from whatever records exist.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .config import OPTIMIZERS
from .layout import ATTEMPTS, ERROR, RECORD
from .metric_stats import flagged_count
from .significance import REFERENCE, PairedGain, gains_markdown, paired_gains

RESULTS_CSV = "results.csv"
TABLE_MD = "table.md"
SCORE_PLOT = "score_vs_calls.png"
PROMPT_PLOT = "prompt_lengths.png"

#: Column order of the paper's Table 1.
PAPER_BENCHMARK_ORDER = ("hotpotqa", "ifbench", "hover", "pupa")

OPTIMIZER_LABELS = {
    "baseline": "Baseline",
    "mipro": "MIPROv2",
    "dspy_gepa": "dspy.GEPA",
    "dspy_gepa_merge": "dspy.GEPA+Merge",
    "gepa": "GEPA (ours)",
    "gepa_merge": "GEPA+Merge (ours)",
}

BENCHMARK_LABELS = {"hotpotqa": "HotpotQA", "ifbench": "IFBench", "hover": "HoVer", "pupa": "PUPA"}


def load_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``record.json`` under ``out_dir`` (``<benchmark>/<optimizer>/seed<k>/record.json``), sorted."""
    root = Path(out_dir)
    records = []
    for path in sorted(root.glob(f"*/*/seed*/{RECORD}")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError:  # never happens with atomic writes; a hand-edited file is skipped
            continue
    return records


def failed_runs(out_dir: str | Path) -> list[dict[str, Any]]:
    """Runs whose last attempt raised (an ``error.json`` and no ``record.json``), with their error and attempts.

    The table only counts finished runs; these are what it leaves out, so the report lists them.
    """
    failures = []
    for path in sorted(Path(out_dir).glob(f"*/*/seed*/{ERROR}")):
        folder = path.parent
        if (folder / RECORD).exists():
            continue
        try:
            error = json.loads(path.read_text(encoding="utf-8"))
            attempts = json.loads((folder / ATTEMPTS).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            error, attempts = {"error": "(unreadable error.json or attempts.json)"}, []
        failures.append({"benchmark": folder.parent.parent.name, "optimizer": folder.parent.name,
                         "seed": int(folder.name[len("seed"):]), "attempts": len(attempts),
                         "error": str(error.get("error", "")).splitlines()[0] if error.get("error") else "",
                         "at": error.get("at")})
    return failures


def _run_label(run: dict[str, Any]) -> str:
    """"Benchmark / Optimizer / seed k" for a record or a failed run."""
    return (f"{BENCHMARK_LABELS.get(run['benchmark'], run['benchmark'])} / "
            f"{OPTIMIZER_LABELS.get(run['optimizer'], run['optimizer'])} / seed {run['seed']}")


def failures_markdown(failures: Sequence[dict[str, Any]]) -> str:
    """A Markdown list of failed runs for ``table.md`` (empty string when there are none)."""
    if not failures:
        return ""
    lines = ["", "Runs that failed and are not in the table (last error, attempts so far):", ""]
    for f in failures:
        lines.append(f"- {_run_label(f)}: {f['error']} ({f['attempts']} attempt{'s' if f['attempts'] != 1 else ''})")
    return "\n".join(lines) + "\n"


def metric_settings_markdown(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown note with each benchmark's metric settings (PUPA: how its judge answered), naming the runs
    when they differ; empty when no record has settings."""
    by_benchmark: dict[str, dict[str, list[str]]] = {}
    for r in sorted(records, key=lambda r: (r["benchmark"], r["optimizer"], r["seed"])):
        settings = (r.get("metric") or {}).get("settings")
        text = ", ".join(f"{k} {v}" for k, v in sorted(settings.items())) if settings else "not recorded"
        run = f"{OPTIMIZER_LABELS.get(r['optimizer'], r['optimizer'])} seed {r['seed']}"
        by_benchmark.setdefault(r["benchmark"], {}).setdefault(text, []).append(run)
    lines = []
    for bench in _ordered(list(by_benchmark), PAPER_BENCHMARK_ORDER):
        variants = by_benchmark[bench]
        if list(variants) == ["not recorded"]:
            continue
        label = BENCHMARK_LABELS.get(bench, bench)
        if len(variants) == 1:
            lines.append(f"- {label}: {next(iter(variants))} (every run)")
        else:
            lines += [f"- {label}: {text} ({'; '.join(runs)})" for text, runs in variants.items()]
    return "\n".join(["", "Metric settings:", "", *lines]) + "\n" if lines else ""


def reflection_format_markdown(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown note naming our GEPA's runs whose reflection LM replied in a non-default format
    (``--reflection-format json_schema``); empty when every one used the default (or predates the setting)."""
    ours = [r for r in records if r["optimizer"] in ("gepa", "gepa_merge")
            and r.get("config", {}).get("reflection_reply_format", "fenced") != "fenced"]
    if not ours:
        return ""
    lines = ["", "Our GEPA's reflection reply format, where it is not the default (fenced):", ""]
    for r in sorted(ours, key=lambda r: (r["benchmark"], r["optimizer"], r["seed"])):
        lines.append(f"- {_run_label(r)}: {r['config']['reflection_reply_format']}")
    return "\n".join(lines) + "\n"


def flagged_markdown(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown note naming the runs whose test score includes results the metric flagged as placeholders
    (PUPA: a judge that gave no readable verdict, scored 0); empty when there are none."""
    flagged = [r for r in records if flagged_count(r, "test")]
    if not flagged:
        return ""
    lines = ["", "Test scores that include placeholder 0s the metric flagged (a judge with no readable verdict), "
                 "counted in `test_flagged` in results.csv:", ""]
    for r in sorted(flagged, key=lambda r: (r["benchmark"], r["optimizer"], r["seed"])):
        lines.append(f"- {_run_label(r)}: {flagged_count(r, 'test')} of {r['sizes']['test']} test examples")
    return "\n".join(lines) + "\n"


def _usage(record: dict[str, Any], phase: str, role: str, key: str) -> int:
    return int(record.get("lm_usage", {}).get(phase, {}).get(role, {}).get(key, 0))


def _all_attempts_lm(record: dict[str, Any], key: str) -> int | None:
    """From the LM journal, over every attempt; None without a journal or in records that predate the field."""
    lm = (record.get("all_attempts") or {}).get("lm")
    return None if lm is None else int(lm.get(key, 0))


def _row(record: dict[str, Any]) -> dict[str, Any]:
    prompts = record.get("prompts", {})
    return {
        "benchmark": record["benchmark"],
        "optimizer": record["optimizer"],
        "seed": record["seed"],
        "scale": record.get("scale"),
        "n_train": record["sizes"]["train"],
        "n_val": record["sizes"]["val"],
        "n_test": record["sizes"]["test"],
        "val_score": record["val"]["mean"],
        "test_score": record["test"]["mean"],
        "test_errors": record["test"].get("errors", 0),
        "test_flagged": flagged_count(record, "test"),
        "budget": record.get("budget"),
        "budget_source": record.get("budget_source"),
        "metric_calls": record.get("metric_calls", 0),
        "wall_seconds": record["wall_seconds"]["total"],
        "optimize_seconds": record["wall_seconds"]["optimize"],
        "attempts": record.get("all_attempts", {}).get("attempts", record.get("attempt")),
        "wall_seconds_all_attempts": record.get("all_attempts", {}).get("wall_seconds"),
        "lm_replies_all_attempts": _all_attempts_lm(record, "replies"),
        "lm_prompt_tokens_all_attempts": _all_attempts_lm(record, "prompt_tokens"),
        "lm_completion_tokens_all_attempts": _all_attempts_lm(record, "completion_tokens"),
        "task_lm_calls": _usage(record, "optimization", "task", "calls"),
        "task_prompt_tokens": _usage(record, "optimization", "task", "prompt_tokens"),
        "task_completion_tokens": _usage(record, "optimization", "task", "completion_tokens"),
        "reflection_lm_calls": _usage(record, "optimization", "reflection", "calls"),
        "reflection_prompt_tokens": _usage(record, "optimization", "reflection", "prompt_tokens"),
        "reflection_completion_tokens": _usage(record, "optimization", "reflection", "completion_tokens"),
        "judge_lm_calls": _usage(record, "optimization", "judge", "calls"),
        "untrusted_lm_calls": _usage(record, "optimization", "untrusted", "calls"),
        "eval_task_lm_calls": _usage(record, "evaluation", "task", "calls"),
        "instruction_chars": prompts.get("instruction_chars", 0),
        "instruction_tokens": prompts.get("instruction_tokens", 0),
        "demos": prompts.get("demos", 0),
        "demo_tokens": prompts.get("demo_tokens", 0),
        "prompt_tokens": prompts.get("instruction_tokens", 0) + prompts.get("demo_tokens", 0),
        "tokenizer": prompts.get("tokenizer"),
        "task_model": record.get("lms", {}).get("task", {}).get("model"),
        "reflection_model": record.get("lms", {}).get("reflection", {}).get("model"),
        "finished_at": record.get("finished_at"),
    }


def results_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: scores, metric calls, LM calls and tokens, prompt lengths (see docs/compare.md)."""
    columns = list(_row(_EXAMPLE_RECORD).keys())
    frame = pd.DataFrame([_row(r) for r in records], columns=columns)
    return frame.sort_values(["benchmark", "optimizer", "seed"], key=_sort_key).reset_index(drop=True)


def _sort_key(column: pd.Series) -> pd.Series:
    if column.name == "optimizer":
        return column.map(lambda o: f"{OPTIMIZERS.index(o) if o in OPTIMIZERS else len(OPTIMIZERS):02d}{o}")
    if column.name == "benchmark":
        order = list(PAPER_BENCHMARK_ORDER)
        return column.map(lambda b: f"{order.index(b) if b in order else len(order):02d}{b}")
    return column


def _ordered(values: Sequence[str], order: Sequence[str]) -> list[str]:
    return sorted(set(values), key=lambda v: (order.index(v) if v in order else len(order), v))


def _cell(scores: pd.Series) -> str:
    mean = 100 * scores.mean()
    if len(scores) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * scores.std(ddof=1):.1f}"


def table_markdown(frame: pd.DataFrame) -> str:
    """Table 1 of the paper: optimizers x benchmarks, test score x100 as mean ± std over seeds.

    ``Aggregate`` is the mean of the benchmark means (only for optimizers run on every benchmark);
    ``Gain`` is the aggregate minus the baseline's. A second table gives the mean metric calls spent.
    """
    if frame.empty:
        return "_No finished runs yet._\n"
    benches = _ordered(frame["benchmark"].tolist(), PAPER_BENCHMARK_ORDER)
    opts = _ordered(frame["optimizer"].tolist(), OPTIMIZERS)
    seeds = sorted(frame["seed"].unique().tolist())
    head = ["Optimizer", *(BENCHMARK_LABELS.get(b, b) for b in benches), "Aggregate", "Gain vs baseline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    means: dict[str, dict[str, float]] = {}
    for opt in opts:
        cells, means[opt] = [], {}
        for bench in benches:
            scores = frame[(frame.optimizer == opt) & (frame.benchmark == bench)]["test_score"]
            if scores.empty:
                cells.append("–")
                continue
            means[opt][bench] = float(scores.mean())
            cells.append(_cell(scores) + ("" if len(scores) == len(seeds) else f" (n={len(scores)})"))
        aggregate = sum(means[opt].values()) / len(benches) if len(means[opt]) == len(benches) else None
        means[opt]["_aggregate"] = aggregate if aggregate is not None else math.nan
        cells.append("–" if aggregate is None else f"{100 * aggregate:.1f}")
        lines.append(f"| {OPTIMIZER_LABELS.get(opt, opt)} | " + " | ".join(cells) + " | {gain} |")
    base = means.get("baseline", {}).get("_aggregate", math.nan)
    for i, opt in enumerate(opts):
        agg = means[opt]["_aggregate"]
        gain = "–" if opt == "baseline" or math.isnan(agg) or math.isnan(base) else f"{100 * (agg - base):+.1f}"
        lines[2 + i] = lines[2 + i].replace("{gain}", gain)
    scale = ", ".join(sorted({str(s) for s in frame["scale"].dropna()})) or "?"
    sizes = frame.iloc[0]
    notes = [
        "",
        f"Test score x100, mean ± std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); "
        f"scale {scale}, {int(sizes.n_train)} train / {int(sizes.n_val)} val / {int(sizes.n_test)} test examples "
        f"(first benchmark). Cells marked (n=k) have fewer finished seeds.",
        "",
        "Metric calls spent (mean over seeds):",
        "",
        "| Optimizer | " + " | ".join(BENCHMARK_LABELS.get(b, b) for b in benches) + " |",
        "|---|" + "---|" * len(benches),
    ]
    for opt in opts:
        cells = []
        for bench in benches:
            calls = frame[(frame.optimizer == opt) & (frame.benchmark == bench)]["metric_calls"]
            cells.append("–" if calls.empty else f"{calls.mean():.0f}")
        notes.append(f"| {OPTIMIZER_LABELS.get(opt, opt)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + notes) + "\n"


#: Head-to-head pairs for the report: (ours, theirs).
HEAD_TO_HEAD = (("gepa", "dspy_gepa"), ("gepa_merge", "dspy_gepa_merge"))


def gains_table(records: Sequence[dict[str, Any]]) -> str:
    """Each optimizer's test gain over the baseline, paired by example, with a bootstrap interval and a verdict
    (``within noise`` when the interval contains 0), then ours against dspy.GEPA the same way; empty without
    the runs to pair. See ``significance``."""
    text = _gains_markdown(paired_gains(records))
    for ours, theirs in HEAD_TO_HEAD:
        text += _gains_markdown(paired_gains(records, reference=theirs, optimizers=[ours]), reference=theirs)
    return text


def _gains_markdown(gains: Sequence[PairedGain], reference: str = REFERENCE) -> str:
    benches = _ordered([g.benchmark for g in gains], PAPER_BENCHMARK_ORDER)
    opts = _ordered([g.optimizer for g in gains], OPTIMIZERS)
    return gains_markdown(gains, BENCHMARK_LABELS, OPTIMIZER_LABELS, benches, opts, reference=reference)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(optimizers: Sequence[str]) -> dict[str, Any]:
    palette = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd"]
    return {opt: palette[OPTIMIZERS.index(opt) % len(palette)] if opt in OPTIMIZERS else "#000000" for opt in optimizers}


def plot_score_vs_calls(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Per benchmark: best validation score so far vs metric calls (lines, one per seed) and the final
    test score at the calls spent (markers); the baseline's test score is a dashed line."""
    plt = _pyplot()
    benches = _ordered([r["benchmark"] for r in records], PAPER_BENCHMARK_ORDER)
    opts = _ordered([r["optimizer"] for r in records], OPTIMIZERS)
    colors = _colors(opts)
    fig, axes = plt.subplots(1, max(1, len(benches)), figsize=(5 * max(1, len(benches)), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        labelled: set[str] = set()
        for record in (r for r in records if r["benchmark"] == bench):
            opt, color = record["optimizer"], colors[record["optimizer"]]
            label = None if opt in labelled else OPTIMIZER_LABELS.get(opt, opt)
            labelled.add(opt)
            test = record["test"]["mean"]
            if opt == "baseline":
                ax.axhline(test, color=color, linestyle="--", linewidth=1, label=label)
                continue
            curve = record.get("curve") or []
            if curve:
                xs, ys = zip(*curve, (max(curve[-1][0], record.get("metric_calls", 0)), curve[-1][1]))
                ax.step(xs, ys, where="post", color=color, alpha=0.45, linewidth=1)
            ax.scatter([record.get("metric_calls", 0)], [test], color=color, marker="o", s=36, label=label, zorder=3)
        ax.set_title(BENCHMARK_LABELS.get(bench, bench))
        ax.set_xlabel("metric calls")
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Lines: best val score so far; markers: test score of the final program", fontsize=9)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_prompt_lengths(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Mean prompt length (instruction tokens, plus few-shot demo tokens stacked and hatched) per
    optimizer, grouped by benchmark."""
    plt = _pyplot()
    frame = results_frame(records)
    benches = _ordered(frame["benchmark"].tolist(), PAPER_BENCHMARK_ORDER)
    opts = _ordered(frame["optimizer"].tolist(), OPTIMIZERS)
    colors = _colors(opts)
    width = 0.8 / max(1, len(opts))
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(benches) + 2), 4))
    for j, opt in enumerate(opts):
        instr, demos = [], []
        for bench in benches:
            rows = frame[(frame.optimizer == opt) & (frame.benchmark == bench)]
            instr.append(float(rows["instruction_tokens"].mean()) if not rows.empty else 0.0)
            demos.append(float(rows["demo_tokens"].mean()) if not rows.empty else 0.0)
        xs = [i + (j - (len(opts) - 1) / 2) * width for i in range(len(benches))]
        ax.bar(xs, instr, width, color=colors[opt], label=OPTIMIZER_LABELS.get(opt, opt))
        if any(demos):
            ax.bar(xs, demos, width, bottom=instr, color=colors[opt], alpha=0.4, hatch="//")
    tokenizer = frame["tokenizer"].dropna().iloc[0] if not frame["tokenizer"].dropna().empty else "?"
    ax.set_xticks(range(len(benches)), [BENCHMARK_LABELS.get(b, b) for b in benches])
    ax.set_ylabel(f"prompt tokens ({tokenizer})")
    ax.set_title("Optimized prompt length (solid: instructions, hatched: demos)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def report(out_dir: str | Path) -> dict[str, Path]:
    """(Re)write ``results.csv``, ``table.md`` and the two PNGs in ``out_dir`` from the records there.

    Returns the written paths by name; nothing is written when there is no finished run yet.
    """
    root = Path(out_dir)
    records = load_records(root)
    if not records:
        return {}
    frame = results_frame(records)
    paths = {"csv": root / RESULTS_CSV, "table": root / TABLE_MD,
             "score_plot": root / SCORE_PLOT, "prompt_plot": root / PROMPT_PLOT}
    frame.to_csv(paths["csv"], index=False)
    paths["table"].write_text(table_markdown(frame) + gains_table(records) + metric_settings_markdown(records)
                              + reflection_format_markdown(records) + flagged_markdown(records)
                              + failures_markdown(failed_runs(root)), encoding="utf-8")
    plot_score_vs_calls(records, paths["score_plot"])
    plot_prompt_lengths(records, paths["prompt_plot"])
    return paths


#: A minimal record, used only to name the frame's columns when there are no records.
_EXAMPLE_RECORD: dict[str, Any] = {
    "benchmark": "", "optimizer": "", "seed": 0, "sizes": {"train": 0, "val": 0, "test": 0},
    "val": {"mean": 0.0}, "test": {"mean": 0.0}, "wall_seconds": {"total": 0.0, "optimize": 0.0},
}
