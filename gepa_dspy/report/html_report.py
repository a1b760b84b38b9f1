"""One self-contained HTML file for a run: inline CSS and SVG, no script, no server, no CDN."""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from typing import Any

from .diffs import diff_html
from .run_data import RunData, load_run
from .svg import lineage_tree, score_chart

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1100px;color:#212121;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666} .tiles{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.tile b{display:block;font-size:18px} table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top} th{background:#f5f5f5}
td.num{text-align:right;font-variant-numeric:tabular-nums} .win{background:#c8e6c9} .loss{background:#ffcdd2}
.same{color:#999} .bar{height:12px;background:#eee;border-radius:6px;overflow:hidden;width:320px;display:inline-block;vertical-align:middle}
.bar span{display:block;height:100%;background:#1976d2} del{background:#ffcdd2;text-decoration:line-through}
ins{background:#c8e6c9;text-decoration:none} .instr{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;
background:#fafafa;border:1px solid #eee;padding:6px 8px;margin:4px 0} details{margin:4px 0}
svg text{font-size:12px;fill:#333} svg .grid{stroke:#eee} svg .curve{fill:none;stroke:#1976d2;stroke-width:2}
svg .dot{fill:#1976d2} svg .budget{stroke:#999;stroke-dasharray:4 3} svg .edge{fill:none;stroke:#90a4ae;stroke-width:1.5}
svg .edge.rejected{stroke:#ef9a9a} svg .edge.merge{stroke:#6a1b9a;stroke-dasharray:4 3} svg .strong{font-weight:bold}
svg .rej{fill:#8e2420} .status-accepted{color:#2e7d32;font-weight:bold} .status-rejected{color:#c62828}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt_scores(scores: list[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in scores) + "]" if scores else "–"


def _header(run: RunData) -> str:
    state = f"finished: {_e(run.stop_reason)}" if run.finished else "running (or stopped before finishing)"
    best = run.best_index
    agg = run.aggregate
    cost = run.cost_ledger or {}
    spent = f"${cost.get('total_cost_usd', 0.0):.4f}" if cost else "–"
    budget = run.budget or 0
    pct = 100 * run.metric_calls / budget if budget else 0
    tiles = [
        ("status", "finished" if run.finished else "running"),
        ("metric calls", f"{run.metric_calls}" + (f" / {budget}" if budget else "")),
        ("candidates", str(len(run.candidates))),
        ("seed → best", f"{agg[0]:.3f} → {agg[best]:.3f}" if agg else "–"),
        ("best candidate", f"#{best}"),
        ("iterations", str(len(run.history))),
        ("LM cost", spent),
    ]
    return (
        f"<h1>GEPA run report</h1><div class='muted'>{_e(run.log_dir)} · {state} · written "
        f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}</div>"
        "<div class='tiles'>" + "".join(f"<div class='tile'><span class='muted'>{_e(k)}</span><b>{_e(v)}</b></div>" for k, v in tiles)
        + "</div>"
        + (f"<div>budget used <span class='bar'><span style='width:{min(pct, 100):.1f}%'></span></span> {pct:.0f}%</div>" if budget else "")
    )


def _score_section(run: RunData) -> str:
    agg = run.aggregate
    points = [(run.discovery_metric_calls[i], agg[i], f"#{i} ({run.origins[i]}) val {agg[i]:.3f}") for i in range(len(agg))]
    return "<h2>Score against metric calls</h2>" + score_chart(run.curve, points, run.budget) + (
        "<div class='muted'>line: best mean validation score so far; dots: each candidate when it was found</div>")


def _lineage_section(run: RunData) -> str:
    rows = []
    skipped = sum(1 for h in run.history if h.get("status") == "skipped_perfect")
    for h in run.history:
        if h.get("status") == "skipped_perfect":
            continue
        status = _e(h.get("status", ""))
        child = h.get("new_candidate_id")
        rows.append(
            f"<tr><td class='num'>{h.get('iteration')}</td><td>{_e(h.get('kind'))}</td><td>{_e(h.get('parent_ids'))}</td>"
            f"<td>{_e(', '.join(h.get('components') or []))}</td><td>{_fmt_scores(h.get('parent_scores') or [])}</td>"
            f"<td>{_fmt_scores(h.get('child_scores') or [])}</td><td class='status-{status}'>{status}"
            f"{f' → #{child}' if child is not None else ''}</td><td>{_e(h.get('note', ''))}</td>"
            f"<td class='num'>{h.get('metric_calls_after', '')}</td></tr>")
    table = ("<table><tr><th>iter</th><th>kind</th><th>parent(s)</th><th>component(s)</th><th>parent minibatch</th>"
             "<th>child minibatch</th><th>verdict</th><th>reason</th><th>metric calls after</th></tr>" + "".join(rows) + "</table>"
             + (f"<div class='muted'>{skipped} more iteration(s) skipped: the parent was already perfect on the "
                "minibatch</div>" if skipped else ""))
    rejected_texts = []
    for r in run.rejected:
        for component, text in r.texts.items():
            parent = run.candidates[r.parent_ids[0]].get(component, "") if r.parent_ids else ""
            rejected_texts.append(
                f"<details><summary>iteration {r.iteration}: rejected proposal for <b>{_e(component)}</b> "
                f"(parent #{r.parent_ids[0] if r.parent_ids else '?'}, minibatch {_fmt_scores(r.parent_scores)} → "
                f"{_fmt_scores(r.child_scores)}, {_e(r.status)}: {_e(r.note)})</summary>"
                f"<div class='instr'>{diff_html(parent, text)}</div></details>")
    return ("<h2>Lineage</h2><div class='muted'>● candidate (green: reflection, purple: merge, grey: seed; gold ring: best) "
            "■ iteration that added no candidate, under its parent</div>" + lineage_tree(run)
            + "<h3>Iterations</h3>" + table
            + ("<h3>Rejected proposals (diff against the parent)</h3>" + "".join(rejected_texts) if rejected_texts else ""))


def _diff_section(run: RunData) -> str:
    out = ["<h2>Prompt changes, parent → child</h2>"]
    for i in range(1, len(run.candidates)):
        if not run.parents[i]:
            continue
        parent = run.parents[i][0]
        changed = [c for c in run.candidates[i] if run.candidates[i][c] != run.candidates[parent].get(c)]
        out.append(f"<details{' open' if i == run.best_index or len(run.candidates) <= 6 else ''}><summary>#{parent} → "
                   f"<b>#{i}</b> ({_e(run.origins[i])}; val {run.aggregate[parent]:.3f} → {run.aggregate[i]:.3f}; "
                   f"changed: {_e(', '.join(changed) or 'none')})</summary>")
        for c in changed:
            out.append(f"<div><b>{_e(c)}</b></div><div class='instr'>{diff_html(run.candidates[parent].get(c, ''), run.candidates[i][c])}</div>")
        out.append("</details>")
    if len(run.candidates) == 1:
        out.append("<div class='muted'>no candidate besides the seed yet</div>")
    best = run.best_index
    out.append(f"<h3>Best candidate #{best}</h3>" + "".join(
        f"<div><b>{_e(c)}</b></div><div class='instr'>{_e(t)}</div>" for c, t in run.candidates[best].items()))
    return "".join(out)


def _examples_section(run: RunData) -> str:
    if not run.val_scores or not run.val_scores[0]:
        return ""
    seed = run.val_scores[0]
    best = run.best_index
    n = len(seed)
    wins = sum(1 for j in range(n) if run.val_scores[best][j] > seed[j])
    losses = sum(1 for j in range(n) if run.val_scores[best][j] < seed[j])
    head = "".join(f"<th>#{i}</th>" for i in range(len(run.candidates)))
    rows = []
    for j in range(n):
        cells = []
        for i in range(len(run.candidates)):
            s = run.val_scores[i][j]
            cls = "" if i == 0 else "win" if s > seed[j] else "loss" if s < seed[j] else "same"
            cells.append(f"<td class='num {cls}'>{s:.2f}</td>")
        front = ", ".join(f"#{i}" for i in sorted(run.fronts[j]))
        rows.append(f"<tr><td>{j}</td><td>{_e(run.val_inputs[j][:70]) if j < len(run.val_inputs) else ''}</td>"
                    + "".join(cells) + f"<td>{front}</td></tr>")
    return (f"<h2>Validation examples against the seed</h2><div>best candidate #{best}: <b>{wins} win(s)</b>, "
            f"<b>{losses} regression(s)</b>, {n - wins - losses} unchanged of {n} examples "
            "(green: better than the seed, red: worse)</div>"
            f"<table><tr><th>example</th><th>inputs</th>{head}<th>best here</th></tr>" + "".join(rows) + "</table>")


def _pareto_section(run: RunData) -> str:
    fronts = run.fronts
    survivors = run.pareto_candidates
    led = {i: sum(1 for f in fronts if i in f) for i in range(len(run.candidates))}
    top = max(led.values()) if led else 1
    rows = "".join(
        f"<tr><td>#{i}{' ★' if i == run.best_index else ''}</td><td class='num'>{run.aggregate[i]:.3f}</td>"
        f"<td class='num'>{led[i]}</td><td><span class='bar' style='width:200px'><span style='width:{100 * led[i] / (top or 1):.0f}%'></span></span></td>"
        f"<td>{'yes' if i in survivors else 'dominated'}</td></tr>"
        for i in range(len(run.candidates)))
    return ("<h2>Pareto front</h2><div class='muted'>a candidate is on the front when it has the best score on some "
            "validation example and no other candidate beats it everywhere it leads; parents are drawn from it</div>"
            "<table><tr><th>candidate</th><th>val mean</th><th>examples where best</th><th></th><th>on the front</th></tr>"
            + rows + "</table>")


def _budget_section(run: RunData) -> str:
    out = ["<h2>Budget and cost ledger</h2>"]
    out.append(f"<div>{run.metric_calls} metric calls paid" + (f" of a budget of {run.budget}" if run.budget else "")
               + f"; {run.counters.get('cache_hits', 0)} served from the cache</div>")
    ledger = run.cost_ledger
    if ledger:
        rows = []
        for role, totals in ledger.get("roles", {}).items():
            for model, u in (totals.get("models") or {}).items():
                cost = "unpriced" if u.get("cost_usd") is None else f"${u['cost_usd']:.4f}"
                rows.append(f"<tr><td>{_e(role)} LM</td><td>{_e(model)}</td><td class='num'>{u['calls']}</td>"
                            f"<td class='num'>{u['prompt_tokens']:,}</td><td class='num'>{u['completion_tokens']:,}</td>"
                            f"<td class='num'>{cost}</td></tr>")
        rows.append(f"<tr><th colspan='2'>total</th><td></td><td colspan='2' class='num'>{ledger.get('total_tokens', 0):,} tokens</td>"
                    f"<th class='num'>${ledger.get('total_cost_usd', 0.0):.4f}</th></tr>")
        out.append("<table><tr><th>role</th><th>model</th><th>LM calls</th><th>prompt tokens</th><th>completion tokens</th>"
                   "<th>dollars (litellm prices)</th></tr>" + "".join(rows) + "</table>")
    else:
        out.append("<div class='muted'>no cost_ledger.json in this log_dir (a run from an older version)</div>")
    if run.counters:
        out.append("<details><summary>counters</summary><table>" + "".join(
            f"<tr><td>{_e(k)}</td><td class='num'>{v}</td></tr>" for k, v in sorted(run.counters.items())) + "</table></details>")
    if run.skipped_lines:
        out.append(f"<div class='muted'>{run.skipped_lines} damaged journal line(s) skipped</div>")
    return "".join(out)


def render_html(run: RunData) -> str:
    body = "".join([_header(run), _score_section(run), _lineage_section(run), _diff_section(run),
                    _examples_section(run), _pareto_section(run), _budget_section(run)])
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>GEPA report: {_e(Path(run.log_dir).name)}"
            f"</title><style>{CSS}</style></head><body>{body}</body></html>")


def write_html_report(log_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``log_dir`` (default: ``log_dir/report.html``) and return its path."""
    run = load_run(log_dir)
    path = Path(out) if out else Path(log_dir) / "report.html"
    # A plain write: the page is rendered first and can always be written again from log_dir.
    path.write_text(render_html(run), encoding="utf-8")
    return path
