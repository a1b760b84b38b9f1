"""Static PNGs of the report's charts (matplotlib, Agg backend) for notebooks and papers."""

from __future__ import annotations

from pathlib import Path

from .run_data import RunData, load_run

PNG_NAMES = ("score_vs_metric_calls.png", "lineage.png", "val_examples_vs_seed.png", "pareto_front.png", "cost_ledger.png")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the PNG charts need matplotlib: pip install matplotlib (or the 'bench' extra)") from exc
    return plt


def write_pngs(log_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write the five PNGs of ``log_dir``'s run into ``out_dir`` (default: ``log_dir``) and return their paths."""
    run = load_run(log_dir)
    out = Path(out_dir) if out_dir else Path(log_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    paths = []
    for name, draw in zip(PNG_NAMES, (_score, _lineage, _examples, _pareto, _cost)):
        fig = draw(plt, run)
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def _score(plt, run: RunData):
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if run.curve:
        xs = [c for c, _ in run.curve] + [run.metric_calls]
        ys = [s for _, s in run.curve] + [run.curve[-1][1]]
        ax.step(xs, ys, where="post", label="best so far")
    agg = run.aggregate
    ax.scatter(run.discovery_metric_calls, agg, zorder=3, label="candidates")
    for i, (x, y) in enumerate(zip(run.discovery_metric_calls, agg)):
        ax.annotate(f"#{i}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if run.budget:
        ax.axvline(run.budget, color="grey", linestyle="--", linewidth=1, label=f"budget {run.budget}")
    ax.set_xlabel("metric calls")
    ax.set_ylabel("mean validation score")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Score against metric calls")
    return fig


def _lineage(plt, run: RunData):
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(3, len(run.candidates) + len(run.rejected))))
    agg, best = run.aggregate, run.best_index
    y = {i: -i for i in range(len(run.candidates))}
    x = {0: 0}
    for i in range(1, len(run.candidates)):
        x[i] = x.get(run.parents[i][0], 0) + 1 if run.parents[i] else 0
    for i in range(1, len(run.candidates)):
        for k, p in enumerate(run.parents[i]):
            ax.plot([x[p], x[i]], [y[p], y[i]], color="#6a1b9a" if k else "#90a4ae", linestyle="--" if k else "-", zorder=1)
    colors = ["#455a64" if i == 0 else "#6a1b9a" if run.origins[i] == "merge" else "#2e7d32" for i in range(len(agg))]
    ax.scatter([x[i] for i in y], list(y.values()), c=colors, s=90, zorder=2,
               edgecolors=["#f9a825" if i == best else "none" for i in y], linewidths=2.5)
    for i in y:
        ax.annotate(f"#{i} {run.origins[i]} val {agg[i]:.3f}", (x[i], y[i]), xytext=(8, -3), textcoords="offset points", fontsize=8)
    base = -len(run.candidates)
    for k, r in enumerate(run.rejected):
        p = r.parent_ids[0] if r.parent_ids else 0
        ry = base - k
        ax.plot([x.get(p, 0), x.get(p, 0) + 1], [y.get(p, 0), ry], color="#ef9a9a", zorder=1)
        ax.scatter([x.get(p, 0) + 1], [ry], marker="s", color="#c62828", s=40, zorder=2)
        ax.annotate(f"iter {r.iteration} {r.status}: {r.parent_scores} -> {r.child_scores}", (x.get(p, 0) + 1, ry),
                    xytext=(8, -3), textcoords="offset points", fontsize=7, color="#8e2420")
    ax.set_axis_off()
    ax.set_xlim(-0.5, max(x.values()) + 4)
    ax.set_title("Lineage (rejected proposals in red)")
    return fig


def _examples(plt, run: RunData):
    n_c, n_e = len(run.candidates), len(run.val_scores[0]) if run.val_scores else 0
    fig, ax = plt.subplots(figsize=(min(12, 1 + 0.45 * max(n_e, 4)), 0.8 + 0.4 * n_c))
    seed = run.val_scores[0] if run.val_scores else []
    delta = [[run.val_scores[i][j] - seed[j] for j in range(n_e)] for i in range(n_c)]
    image = ax.imshow(delta, cmap="RdYlGn", vmin=-1, vmax=1, aspect="auto")
    ax.set_yticks(range(n_c), [f"#{i}" for i in range(n_c)])
    ax.set_xticks(range(n_e), [str(j) for j in range(n_e)])
    ax.set_xlabel("validation example")
    fig.colorbar(image, ax=ax, label="score minus the seed's")
    ax.set_title("Per-example wins and regressions against the seed")
    return fig


def _pareto(plt, run: RunData):
    fronts, survivors = run.fronts, run.pareto_candidates
    led = [sum(1 for f in fronts if i in f) for i in range(len(run.candidates))]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar([f"#{i}" for i in range(len(led))], led,
           color=["#1976d2" if i in survivors else "#bdbdbd" for i in range(len(led))])
    ax.set_ylabel("validation examples where best")
    ax.set_title("Pareto front (blue: on the front)")
    return fig


def _cost(plt, run: RunData):
    fig, ax = plt.subplots(figsize=(7, 3))
    roles = (run.cost_ledger or {}).get("roles", {})
    names = list(roles)
    prompt = [roles[r]["prompt_tokens"] for r in names]
    completion = [roles[r]["completion_tokens"] for r in names]
    ax.bar(names, prompt, label="prompt tokens")
    ax.bar(names, completion, bottom=prompt, label="completion tokens")
    for k, r in enumerate(names):
        ax.annotate(f"${roles[r]['cost_usd']:.4f}", (k, prompt[k] + completion[k]), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("tokens")
    ax.legend(fontsize=8)
    ax.set_title(f"LM cost ledger (total ${(run.cost_ledger or {}).get('total_cost_usd', 0.0):.4f})")
    return fig
