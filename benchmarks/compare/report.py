"""Finished run records -> ``results.csv``, a Table-1-shaped ``table.md`` with paired gains (``pooled_interval``),
PNG plots; ``export_runs`` / ``import_finished_runs`` copy a runs folder's small files out and back in. The notebook
API names are exported by ``benchmarks.compare``; docs/compare.md describes the report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from .config import ATTEMPTS, ERROR, OPTIMIZERS, PROGRAM, RECORD

RESULTS_CSV = "results.csv"
TABLE_MD = "table.md"
SCORE_PLOT = "score_vs_calls.png"
PROMPT_PLOT = "prompt_lengths.png"
#: Column order of the paper's Table 1.
PAPER_BENCHMARK_ORDER = ("hotpotqa", "ifbench", "hover", "pupa")
OPTIMIZER_LABELS = {"baseline": "Baseline", "mipro": "MIPROv2", "dspy_gepa": "dspy.GEPA",
                    "dspy_gepa_merge": "dspy.GEPA+Merge", "gepa": "GEPA (ours)", "gepa_merge": "GEPA+Merge (ours)",
                    "gepa_racing": "GEPA racing (ours)", "gepa_heldout": "GEPA held-out (ours)"}
BENCHMARK_LABELS = {"hotpotqa": "HotpotQA", "ifbench": "IFBench", "hover": "HoVer", "pupa": "PUPA"}
#: The report's row and column order by frame column.
_ORDER: dict[str, Sequence[str]] = {"optimizer": OPTIMIZERS, "benchmark": PAPER_BENCHMARK_ORDER}
#: Head-to-head pairs for the report besides "over the baseline": (ours, theirs).
HEAD_TO_HEAD = (("gepa", "dspy_gepa"), ("gepa_merge", "dspy_gepa_merge"))
REFERENCE = "baseline"
RESAMPLES = 10_000
CONFIDENCE = 0.95
#: The metric counter that marks a result as a placeholder rather than a measurement (PUPA's judge failures).
FLAGGED = "flagged_results"
#: Files copied out of each finished run folder by ``export_runs`` (those that exist).
EXPORTED_FILES = (RECORD, PROGRAM, ATTEMPTS)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every readable ``record.json`` under ``out_dir`` (``<benchmark>/<optimizer>/seed<k>/record.json``), sorted."""
    records = (read_json(p) for p in sorted(Path(out_dir).glob(f"*/*/seed*/{RECORD}")))
    return [r for r in records if isinstance(r, dict)]


def failed_runs(out_dir: str | Path) -> list[dict[str, Any]]:
    """Runs whose last attempt raised (an ``error.json`` and no ``record.json``): what the table leaves out."""
    failures = []
    for path in sorted(Path(out_dir).glob(f"*/*/seed*/{ERROR}")):
        folder = path.parent
        if (folder / RECORD).exists():
            continue
        error = read_json(path) or {"error": "(unreadable error.json)"}
        old_log = read_json(folder / ATTEMPTS)  # written by the harness before 2026-12-04
        attempts = len(old_log) if isinstance(old_log, list) else int(error.get("attempts", 1))
        failures.append({"benchmark": folder.parent.parent.name, "optimizer": folder.parent.name,
                         "seed": int(folder.name[len("seed"):]), "attempts": attempts,
                         "error": str(error.get("error", "")).splitlines()[0] if error.get("error") else "",
                         "at": error.get("at")})
    return failures


def _label(optimizer: str) -> str:
    return OPTIMIZER_LABELS.get(optimizer, optimizer)


def _bench(benchmark: str) -> str:
    return BENCHMARK_LABELS.get(benchmark, benchmark)


def _run_label(run: dict[str, Any]) -> str:
    return f"{_bench(run['benchmark'])} / {_label(run['optimizer'])} / seed {run['seed']}"


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    return sorted(set(values), key=lambda v: (order.index(v) if v in order else len(order), v))


def _grid(frame: pd.DataFrame, values: str, aggfunc: Any, index: str = "optimizer",
          columns: str = "benchmark") -> pd.DataFrame:
    """``frame[values]`` pivoted to ``index`` x ``columns``, both in the report's order."""
    table = frame.pivot_table(index=index, columns=columns, values=values, aggfunc=aggfunc)
    return table.reindex(index=_ordered(frame[index], _ORDER[index]), columns=_ordered(frame[columns], _ORDER[columns]))


def _markdown(table: pd.DataFrame) -> str:
    """``table`` as Markdown, with optimizer and benchmark labels for its index and columns."""
    out = table.rename(index=_label, columns=_bench)
    out.index.name, out.columns.name = "Optimizer", None
    return out.to_markdown(disable_numparse=True)


def _by_run(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["benchmark"], r["optimizer"], r["seed"]))


def _note(title: str, lines: Sequence[str]) -> str:
    """A Markdown paragraph with a bullet list, or "" without lines."""
    return "\n".join(["", title, "", *lines]) + "\n" if lines else ""


def failures_markdown(failures: Sequence[dict[str, Any]]) -> str:
    return _note("Runs that failed and are not in the table (last error, attempts so far):",
                 [f"- {_run_label(f)}: {f['error']} ({f['attempts']} attempt{'s' if f['attempts'] != 1 else ''})"
                  for f in failures])


def metric_settings_markdown(records: Sequence[dict[str, Any]]) -> str:
    """Each benchmark's metric settings (PUPA: how its judge answered), naming the runs when they differ."""
    by_benchmark: dict[str, dict[str, list[str]]] = {}
    for r in _by_run(records):
        settings = (r.get("metric") or {}).get("settings")
        text = ", ".join(f"{k} {v}" for k, v in sorted(settings.items())) if settings else "not recorded"
        runs = by_benchmark.setdefault(r["benchmark"], {}).setdefault(text, [])
        runs.append(f"{_label(r['optimizer'])} seed {r['seed']}")
    lines = []
    for bench in _ordered(list(by_benchmark), PAPER_BENCHMARK_ORDER):
        variants = by_benchmark[bench]
        if list(variants) == ["not recorded"]:
            continue
        if len(variants) == 1:
            lines.append(f"- {_bench(bench)}: {next(iter(variants))} (every run)")
        else:
            lines += [f"- {_bench(bench)}: {text} ({'; '.join(runs)})" for text, runs in variants.items()]
    return _note("Metric settings:", lines)


def reflection_format_markdown(records: Sequence[dict[str, Any]]) -> str:
    """Our GEPA's runs whose reflection LM replied in a non-default format (``--reflection-format json_schema``)."""
    ours = [r for r in _by_run(records) if r["optimizer"] in ("gepa", "gepa_merge")
            and r.get("config", {}).get("reflection_reply_format", "fenced") != "fenced"]
    return _note("Our GEPA's reflection reply format, where it is not the default (fenced):",
                 [f"- {_run_label(r)}: {r['config']['reflection_reply_format']}" for r in ours])


def flagged_count(record: dict[str, Any], phase: str = "test") -> int | None:
    """How many of ``phase``'s results the metric flagged as placeholders, or None when the metric keeps no such
    counter (or the record predates the ``metric`` block)."""
    counters = ((record.get("metric") or {}).get("counters") or {}).get(phase) or {}
    return int(counters[FLAGGED]) if FLAGGED in counters else None


def flagged_markdown(records: Sequence[dict[str, Any]]) -> str:
    """The runs whose test score includes placeholder 0s (PUPA: a judge with no readable verdict)."""
    return _note("Test scores that include placeholder 0s the metric flagged (a judge with no readable verdict), "
                 "counted in `test_flagged` in results.csv:",
                 [f"- {_run_label(r)}: {flagged_count(r)} of {r['sizes']['test']} test examples"
                  for r in _by_run(records) if flagged_count(r)])


def _row(record: dict[str, Any]) -> dict[str, Any]:
    prompts, lms = record.get("prompts", {}), record.get("lms", {})
    usage = record.get("lm_usage", {})
    row = {
        "benchmark": record["benchmark"], "optimizer": record["optimizer"], "seed": record["seed"],
        "scale": record.get("scale"), "n_train": record["sizes"]["train"], "n_val": record["sizes"]["val"],
        "n_test": record["sizes"]["test"], "val_score": record["val"]["mean"], "test_score": record["test"]["mean"],
        "test_errors": record["test"].get("errors", 0), "test_flagged": flagged_count(record),
        "budget": record.get("budget"), "budget_source": record.get("budget_source"),
        "metric_calls": record.get("metric_calls", 0), "wall_seconds": record["wall_seconds"]["total"],
        "optimize_seconds": record["wall_seconds"]["optimize"],
        # Records before 2026-12-04 summed every attempt of a run; later ones know only their own.
        "attempts": (record.get("all_attempts") or {}).get("attempts", record.get("attempt")),
    }
    for phase, prefix in (("optimization", ""), ("evaluation", "eval_")):
        for role in ("task", "reflection", "judge", "untrusted"):
            counts = (usage.get(phase) or {}).get(role) or {}
            row[f"{prefix}{role}_lm_calls"] = int(counts.get("calls", 0))
            if phase == "optimization" and role in ("task", "reflection"):
                row[f"{role}_prompt_tokens"] = int(counts.get("prompt_tokens", 0))
                row[f"{role}_completion_tokens"] = int(counts.get("completion_tokens", 0))
    row.update({
        **{k: prompts.get(k, 0) for k in ("instruction_chars", "instruction_tokens", "demos", "demo_tokens")},
        "prompt_tokens": prompts.get("instruction_tokens", 0) + prompts.get("demo_tokens", 0),
        "tokenizer": prompts.get("tokenizer"), "task_model": lms.get("task", {}).get("model"),
        "reflection_model": lms.get("reflection", {}).get("model"), "finished_at": record.get("finished_at"),
    })
    return row


#: A minimal record, used only to name the frame's columns when there are no records.
_EXAMPLE_RECORD: dict[str, Any] = {"benchmark": "", "optimizer": "", "seed": 0, "val": {"mean": 0.0},
                                   "test": {"mean": 0.0}, "sizes": {"train": 0, "val": 0, "test": 0},
                                   "wall_seconds": {"total": 0.0, "optimize": 0.0}}


def results_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: scores, metric calls, LM calls and tokens, prompt lengths (see docs/compare.md)."""
    frame = pd.DataFrame([_row(r) for r in records], columns=list(_row(_EXAMPLE_RECORD)))
    return frame.sort_values(["benchmark", "optimizer", "seed"], key=lambda c: c.map(
        lambda v: (f"{list(_ORDER[c.name]).index(v) if v in _ORDER[c.name] else len(_ORDER[c.name]):02d}{v}")
        if c.name in _ORDER else v)).reset_index(drop=True)


def table_markdown(frame: pd.DataFrame) -> str:
    """Table 1 of the paper: optimizers x benchmarks, test score x100 as mean ± std over seeds, ``Aggregate`` (for
    optimizers run on every benchmark) and ``Gain vs baseline``; then the mean metric calls spent."""
    if frame.empty:
        return "_No finished runs yet._\n"
    seeds = sorted(frame["seed"].unique().tolist())

    def cell(scores: pd.Series) -> str:
        text = f"{100 * scores.mean():.1f}" + (f" ± {100 * scores.std(ddof=1):.1f}" if len(scores) > 1 else "")
        return text + ("" if len(scores) == len(seeds) else f" (n={len(scores)})")

    means = _grid(frame, "test_score", "mean")
    aggregate = means.mean(axis=1).where(means.notna().all(axis=1))
    table = _grid(frame, "test_score", cell).fillna("–")
    table["Aggregate"] = aggregate.map(lambda a: "–" if pd.isna(a) else f"{100 * a:.1f}")
    base = aggregate.get("baseline", np.nan)
    table["Gain vs baseline"] = ["–" if opt == "baseline" or pd.isna(a) or pd.isna(base)
                                 else f"{100 * (a - base):+.1f}" for opt, a in aggregate.items()]
    calls = _grid(frame, "metric_calls", "mean").map(lambda c: "–" if pd.isna(c) else f"{c:.0f}")
    scale = ", ".join(sorted({str(s) for s in frame["scale"].dropna()})) or "?"
    first = frame.iloc[0]
    return "\n".join([
        _markdown(table), "",
        f"Test score x100, mean ± std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); scale {scale}, "
        f"{int(first.n_train)} train / {int(first.n_val)} val / {int(first.n_test)} test examples (first benchmark). "
        "Cells marked (n=k) have fewer finished seeds.", "",
        "Metric calls spent (mean over seeds):", "", _markdown(calls)]) + "\n"


@dataclass(frozen=True)
class PairedGain:
    """One optimizer's test gain over the reference on one benchmark (scores in [0, 1]) with its interval."""

    benchmark: str
    optimizer: str
    gain: float
    low: float
    high: float
    pairs: int
    seeds: tuple[int, ...]
    #: Seeds with both runs whose test examples or metric settings could not be shown to be the same.
    unpaired_seeds: tuple[int, ...] = field(default=())

    @property
    def verdict(self) -> str:
        """``better``/``worse`` when the interval excludes 0, else ``within noise`` (or ``no difference``)."""
        if self.low == self.high == 0:
            return "no difference"
        return "better" if self.low > 0 else "worse" if self.high < 0 else "within noise"


def pairable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same test examples (by digest; for records without digests, drawn the same way), scored by a metric with
    the same settings (e.g. PUPA's judge format)."""
    scores_a, scores_b = a["test"].get("scores"), b["test"].get("scores")
    if not scores_a or not scores_b or len(scores_a) != len(scores_b):
        return False
    if (a.get("metric") or {}).get("settings") != (b.get("metric") or {}).get("settings"):
        return False
    digest_a, digest_b = a.get("split_digests", {}).get("test"), b.get("split_digests", {}).get("test")
    if digest_a is not None and digest_b is not None:
        return bool(digest_a == digest_b)
    same_data = a.get("config", {}).get("data_dir") == b.get("config", {}).get("data_dir")
    return same_data and all(a.get(k) == b.get(k) for k in ("benchmark", "scale", "split_seed", "sizes"))


def pooled_interval(diffs: Sequence[np.ndarray], resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                    rng_seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the pooled mean of per-seed paired differences; examples are resampled within each
    seed (``scipy.stats.bootstrap``, percentile interval, seeded). A seed with one example stays fixed (scipy
    resamples only samples of two or more)."""
    total = sum(len(d) for d in diffs)
    mean = float(sum(d.sum() for d in diffs) / total)
    varying = [d for d in diffs if len(d) > 1]
    fixed = float(sum(d.sum() for d in diffs if len(d) == 1))
    if not varying:
        return mean, mean, mean
    result = scipy.stats.bootstrap(
        tuple(varying), lambda *samples, axis=-1: (fixed + sum(s.sum(axis=axis) for s in samples)) / total,
        n_resamples=resamples, confidence_level=confidence, method="percentile", vectorized=True,
        rng=np.random.default_rng(rng_seed))
    low, high = result.confidence_interval
    return mean, float(low), float(high)


def paired_gain(benchmark: str, optimizer: str, runs: dict[int, tuple[dict[str, Any], dict[str, Any]]],
                **kwargs: Any) -> PairedGain | None:
    """The gain of ``optimizer`` over the reference from ``runs`` (seed -> (its record, the reference's)); None
    when no seed pairs up."""
    diffs, seeds, unpaired = [], [], []
    for seed in sorted(runs):
        mine, ref = runs[seed]
        if not pairable(mine, ref):
            unpaired.append(seed)
            continue
        diffs.append(np.asarray(mine["test"]["scores"], float) - np.asarray(ref["test"]["scores"], float))
        seeds.append(seed)
    if not diffs:
        return None
    mean, low, high = pooled_interval(diffs, **kwargs)
    return PairedGain(benchmark, optimizer, mean, low, high, sum(len(d) for d in diffs), tuple(seeds), tuple(unpaired))


def paired_gains(records: Sequence[dict[str, Any]], reference: str = REFERENCE,
                 optimizers: Sequence[str] | None = None, **kwargs: Any) -> list[PairedGain]:
    """A ``PairedGain`` per (benchmark, optimizer other than the reference, limited to ``optimizers``) with at
    least one paired seed."""
    by_key = {(r["benchmark"], r["optimizer"], r["seed"]): r for r in records}
    gains = []
    pairs = {(b, o) for b, o, _ in by_key if o != reference and (optimizers is None or o in optimizers)}
    for bench, opt in sorted(pairs):
        runs = {s: (r, by_key[(bench, reference, s)]) for (b, o, s), r in by_key.items()
                if (b, o) == (bench, opt) and (bench, reference, s) in by_key}
        gain = paired_gain(bench, opt, runs, **kwargs)
        if gain is not None:
            gains.append(gain)
    return gains


def gains_markdown(gains: Sequence[PairedGain], reference: str = REFERENCE) -> str:
    """Optimizers (rows) x benchmarks (columns): each gain x100 over ``reference``, its interval and a verdict."""
    if not gains:
        return ""
    ref = "the baseline" if reference == REFERENCE else _label(reference)
    frame = pd.DataFrame([{"optimizer": g.optimizer, "benchmark": g.benchmark,
                           "cell": f"{100 * g.gain:+.1f} [{100 * g.low:+.1f}, {100 * g.high:+.1f}] {g.verdict}"}
                          for g in gains])
    table = _grid(frame, "cell", "first").fillna("–")
    lines = ["", f"Test gain over {ref} x100, paired by example, with a {CONFIDENCE:.0%} resampling interval "
                 "(test examples resampled within each seed):", "", _markdown(table)]
    if reference == REFERENCE:
        lines += ["", "The interval covers only the choice of test examples, not run-to-run variance of the optimizer "
                      "or of the LM, so it understates the uncertainty; \"within noise\" means it contains 0."]
    unpaired = [f"{_label(g.optimizer)} on {_bench(g.benchmark)}: seed(s) {', '.join(map(str, g.unpaired_seeds))}"
                for g in gains if g.unpaired_seeds]
    if unpaired:
        lines += ["", f"Left out because their test examples or metric settings differ from {ref}'s: "
                      + "; ".join(unpaired) + "."]
    return "\n".join(lines) + "\n"


def gains_table(records: Sequence[dict[str, Any]]) -> str:
    """Each optimizer's paired test gain over the baseline, then ours against dspy.GEPA the same way."""
    text = gains_markdown(paired_gains(records))
    for ours, theirs in HEAD_TO_HEAD:
        text += gains_markdown(paired_gains(records, reference=theirs, optimizers=[ours]), reference=theirs)
    return text


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(optimizers: Sequence[str]) -> dict[str, Any]:
    palette = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd"]
    return {o: palette[OPTIMIZERS.index(o) % len(palette)] if o in OPTIMIZERS else "#000000" for o in optimizers}


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_score_vs_calls(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Per benchmark: best validation score so far vs metric calls (a line per run) and the final test score at
    the calls spent (markers); the baseline's test score is a dashed line."""
    plt = _pyplot()
    benches = _ordered([r["benchmark"] for r in records], PAPER_BENCHMARK_ORDER)
    colors = _colors(_ordered([r["optimizer"] for r in records], OPTIMIZERS))
    fig, axes = plt.subplots(1, max(1, len(benches)), figsize=(5 * max(1, len(benches)), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        labelled: set[str] = set()
        for record in (r for r in records if r["benchmark"] == bench):
            opt, color, test = record["optimizer"], colors[record["optimizer"]], record["test"]["mean"]
            label = None if opt in labelled else _label(opt)
            labelled.add(opt)
            if opt == "baseline":
                ax.axhline(test, color=color, linestyle="--", linewidth=1, label=label)
                continue
            curve = record.get("curve") or []
            if curve:
                xs, ys = zip(*curve, (max(curve[-1][0], record.get("metric_calls", 0)), curve[-1][1]))
                ax.step(xs, ys, where="post", color=color, alpha=0.45, linewidth=1)
            ax.scatter([record.get("metric_calls", 0)], [test], color=color, marker="o", s=36, label=label, zorder=3)
        ax.set(title=_bench(bench), xlabel="metric calls", ylabel="score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Lines: best val score so far; markers: test score of the final program", fontsize=9)
    return _save(plt, fig, path)


def plot_prompt_lengths(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Mean prompt length (instruction plus few-shot demo tokens) per optimizer, grouped by benchmark."""
    plt = _pyplot()
    frame = results_frame(records)
    means = _grid(frame, "prompt_tokens", "mean", index="benchmark", columns="optimizer")
    opts = list(means.columns)
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(means) + 2), 4))
    means.rename(index=_bench, columns=_label).plot.bar(ax=ax, rot=0, color=[_colors(opts)[o] for o in opts])
    tokenizers = frame["tokenizer"].dropna()
    ax.set(xlabel="", ylabel=f"prompt tokens ({tokenizers.iloc[0] if not tokenizers.empty else '?'})")
    ax.set_title("Optimized prompt length (instructions + demos)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def report(out_dir: str | Path) -> dict[str, Path]:
    """(Re)write ``results.csv``, ``table.md`` and the two PNGs in ``out_dir`` from the records there; returns the
    written paths by name (none when there is no finished run yet)."""
    root = Path(out_dir)
    records = load_records(root)
    if not records:
        return {}
    frame = results_frame(records)
    paths = {"csv": root / RESULTS_CSV, "table": root / TABLE_MD, "score_plot": root / SCORE_PLOT,
             "prompt_plot": root / PROMPT_PLOT}
    frame.to_csv(paths["csv"], index=False)
    paths["table"].write_text(table_markdown(frame) + gains_table(records) + metric_settings_markdown(records)
                              + reflection_format_markdown(records) + flagged_markdown(records)
                              + failures_markdown(failed_runs(root)), encoding="utf-8")
    plot_score_vs_calls(records, paths["score_plot"])
    plot_prompt_lengths(records, paths["prompt_plot"])
    return paths


def _finished_runs(source: Path, target: Path, role: str) -> list[Path]:
    """The run folders of ``source`` with a ``record.json``; refuses copying a folder onto itself or nothing."""
    if source.resolve() == target.resolve():
        raise ValueError(f"{role} is the runs folder itself ({source})")
    folders = sorted(p.parent for p in source.glob(f"*/*/seed*/{RECORD}"))
    if not folders:
        raise FileNotFoundError(f"no finished run (no */*/seed*/{RECORD}) in {source}")
    return folders


def _copy(run: Path, folder: Path, names: Sequence[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (run / name).exists():
            shutil.copy2(run / name, folder / name)
    return folder


def export_runs(out_dir: str | Path, dest: str | Path) -> list[Path]:
    """Copy every finished run's ``EXPORTED_FILES`` and every failed run's ``error.json`` from ``out_dir`` to ``dest``,
    then write the report there; returns the run folders written (FileNotFoundError without a finished run)."""
    source, target = Path(out_dir), Path(dest)
    written = [_copy(run, target / run.relative_to(source), EXPORTED_FILES)
               for run in _finished_runs(source, target, "export destination")]
    for failure in failed_runs(source):
        relative = Path(failure["benchmark"], failure["optimizer"], f"seed{failure['seed']}")
        _copy(source / relative, target / relative, (ERROR, ATTEMPTS))
    report(target)
    return written


def import_finished_runs(source: str | Path, out_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """Copy the finished runs of an export into a runs folder that has no folder for them yet, so a comparison
    continued on a new machine skips them. Nothing in ``out_dir`` is overwritten. Returns (written, left alone)."""
    source, target = Path(source), Path(out_dir)
    written, kept = [], []
    for run in _finished_runs(source, target, "import source"):
        folder = target / run.relative_to(source)
        if folder.exists():
            kept.append(folder)
        else:
            written.append(_copy(run, folder, EXPORTED_FILES))
    return written, kept
