"""Small inline SVG charts (no JavaScript, no external files): a step chart and the lineage tree."""

from __future__ import annotations

import html
from typing import Sequence

from .run_data import RunData

ACCEPT, REJECT, SEED, MERGE, BEST = "#2e7d32", "#c62828", "#455a64", "#6a1b9a", "#f9a825"


def score_chart(curve: Sequence[tuple[int, float]], points: Sequence[tuple[int, float, str]], budget: int | None,
                width: int = 720, height: int = 260) -> str:
    """Best validation score against metric calls (steps), with every candidate as a dot (label on hover)."""
    pad_l, pad_r, pad_t, pad_b = 48, 16, 12, 36
    xs = [c for c, _ in curve] + [p[0] for p in points]
    x_max = max([budget or 0, *xs, 1])
    ys = [s for _, s in curve] + [p[1] for p in points]
    y_min, y_max = min([0.0, *ys]), max([1.0, *ys])

    def sx(x: float) -> float:
        return pad_l + (width - pad_l - pad_r) * x / x_max

    def sy(y: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - (y - y_min) / ((y_max - y_min) or 1))

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="best validation score against metric calls">']
    for k in range(6):
        y = y_min + (y_max - y_min) * k / 5
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>'
                     f'<text x="{pad_l - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
    for k in range(6):
        x = x_max * k / 5
        parts.append(f'<text x="{sx(x):.1f}" y="{height - pad_b + 16}" text-anchor="middle">{x:.0f}</text>')
    parts.append(f'<text x="{(pad_l + width) / 2:.0f}" y="{height - 4}" text-anchor="middle">metric calls</text>')
    if budget:
        parts.append(f'<line x1="{sx(budget):.1f}" x2="{sx(budget):.1f}" y1="{pad_t}" y2="{height - pad_b}" class="budget"/>'
                     f'<text x="{sx(budget) - 4:.1f}" y="{pad_t + 12}" text-anchor="end">budget {budget}</text>')
    if curve:
        path = []
        prev_y = None
        for x, y in curve:
            if prev_y is not None:
                path.append(f"L{sx(x):.1f},{sy(prev_y):.1f}")
            path.append(f"{'M' if prev_y is None else 'L'}{sx(x):.1f},{sy(y):.1f}")
            prev_y = y
        path.append(f"L{sx(max(xs)):.1f},{sy(prev_y):.1f}")
        parts.append(f'<path d="{" ".join(path)}" class="curve"/>')
    for x, y, label in points:
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" class="dot"><title>{html.escape(label)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def lineage_tree(run: RunData, row_h: int = 26, indent: int = 28, width: int = 900) -> str:
    """Candidates and rejected proposals as an indented tree (children under their first parent, in order).

    A rejected proposal hangs under its parent with its minibatch scores and reason; a merge also gets a
    dashed link to its second parent.
    """
    children: dict[int, list[tuple[int, str, object]]] = {i: [] for i in range(len(run.candidates))}
    for i in range(1, len(run.candidates)):
        if run.parents[i]:
            record = run.accepted_record(i)
            children[run.parents[i][0]].append((record["iteration"] if record else i, "cand", i))
    for r in run.rejected:
        if r.parent_ids and r.parent_ids[0] in children:
            children[r.parent_ids[0]].append((r.iteration, "rej", r))
    rows: list[tuple[int, str, object]] = []

    def walk(node: int, depth: int) -> None:
        rows.append((depth, "cand", node))
        for _, kind, item in sorted(children[node], key=lambda t: t[0]):
            if kind == "cand":
                walk(int(item), depth + 1)  # type: ignore[arg-type]
            else:
                rows.append((depth + 1, "rej", item))

    if run.candidates:
        walk(0, 0)
    agg, best, pareto = run.aggregate, run.best_index, run.pareto_candidates
    y_of: dict[int, float] = {}
    x_of: dict[int, float] = {}
    height = row_h * len(rows) + 10
    parts = [f'<svg class="tree" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="lineage tree">']
    stack: dict[int, float] = {}
    for n, (depth, kind, item) in enumerate(rows):
        y = 16 + n * row_h
        x = 14 + depth * indent
        if depth > 0 and depth - 1 in stack:
            py = stack[depth - 1]
            px = 14 + (depth - 1) * indent
            parts.append(f'<path d="M{px},{py + 7} V{y} H{x - 8}" class="edge{" rejected" if kind == "rej" else ""}"/>')
        if kind == "cand":
            i = int(item)  # type: ignore[arg-type]
            y_of[i], x_of[i] = y, x
            stack[depth] = y
            for d in [k for k in stack if k > depth]:
                del stack[d]
            color = SEED if i == 0 else MERGE if run.origins[i] == "merge" else ACCEPT
            record = run.accepted_record(i)
            mb = f" · minibatch {_scores(record['parent_scores'])} → {_scores(record['child_scores'])}" if record else ""
            tags = (" ★ best" if i == best else "") + (" · Pareto" if i in pareto else "")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="7" fill="{color}" stroke="{BEST if i == best else "none"}" stroke-width="3">'
                f'<title>candidate #{i}</title></circle>'
                f'<text x="{x + 14}" y="{y + 4}" class="node"><tspan class="strong">#{i}</tspan> '
                f'{html.escape(run.origins[i])} · val {agg[i]:.3f}{html.escape(mb)}{tags}</text>')
        else:
            r = item
            parts.append(
                f'<rect x="{x - 6}" y="{y - 6}" width="12" height="12" fill="{REJECT}" opacity="0.8"/>'
                f'<text x="{x + 14}" y="{y + 4}" class="node rej">iter {r.iteration} {html.escape(r.status)}: '  # type: ignore[attr-defined]
                f'minibatch {_scores(r.parent_scores)} → {_scores(r.child_scores)} · {html.escape(r.note[:90])}</text>')  # type: ignore[attr-defined]
    for i in range(1, len(run.candidates)):
        if len(run.parents[i]) > 1 and i in y_of and run.parents[i][1] in y_of:
            p2 = run.parents[i][1]
            parts.append(f'<path d="M{x_of[p2] - 7},{y_of[p2]} C{x_of[p2] - 13},{y_of[p2]} {x_of[i] - 13},{y_of[i]} '
                         f'{x_of[i] - 7},{y_of[i]}" class="edge merge"><title>second parent #{p2}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def _scores(scores: Sequence[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in scores) + "]" if scores else "–"
