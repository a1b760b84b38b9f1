"""Reading a run's ``log_dir`` (running or finished) into one plain structure for the report.

What a log_dir holds: ``gepa_state.json`` (the checkpoint: pool, history, score curve, counters; rewritten before
every round), ``evaluations.jsonl`` (every paid run: candidate key, example id, outcome with the trace's
inputs), ``proposals.jsonl`` (every proposed instruction, also rejected ones, keyed by iteration, parent key and
component), ``cost_ledger.json`` (tokens and dollars per role), ``run.json`` (budget and models, written when
compile starts) and, once finished, ``results.json``. Only the checkpoint is required; the rest fill in what
they can. Damaged journal lines are skipped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.candidate import candidate_key
from ..engine.pareto import non_dominated, per_instance_fronts


class NotARunDirectory(FileNotFoundError):
    """The directory has no ``gepa_state.json``: no GEPA run has checkpointed there (yet)."""


@dataclass
class RejectedProposal:
    """An iteration that added no candidate, with the texts it proposed (when it got that far)."""

    iteration: int
    kind: str
    status: str
    parent_ids: list[int]
    components: list[str]
    parent_scores: list[float]
    child_scores: list[float]
    note: str
    texts: dict[str, str] = field(default_factory=dict)


@dataclass
class RunData:
    log_dir: str
    finished: bool
    stop_reason: str | None
    budget: int | None
    metric_calls: int
    candidates: list[dict[str, str]]
    parents: list[list[int]]
    origins: list[str]
    val_scores: list[list[float]]
    discovery_metric_calls: list[int]
    history: list[dict[str, Any]]
    curve: list[tuple[int, float]]
    counters: dict[str, int]
    rejected: list[RejectedProposal]
    val_inputs: list[str]
    cost_ledger: dict[str, Any] | None
    run_info: dict[str, Any]
    skipped_lines: int = 0

    @property
    def aggregate(self) -> list[float]:
        return [sum(r) / len(r) if r else 0.0 for r in self.val_scores]

    @property
    def best_index(self) -> int:
        agg = self.aggregate
        return max(range(len(agg)), key=lambda i: (agg[i], -i))

    @property
    def fronts(self) -> list[set[int]]:
        return per_instance_fronts(self.val_scores)

    @property
    def pareto_candidates(self) -> set[int]:
        return non_dominated(self.fronts, self.aggregate)

    def accepted_record(self, candidate: int) -> dict[str, Any] | None:
        """The history record that created candidate ``candidate`` (None for the seed)."""
        return next((h for h in self.history if h.get("new_candidate_id") == candidate), None)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.exists():
        return rows, bad
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def load_run(log_dir: str | Path) -> RunData:
    """Everything the report shows, from ``log_dir``. Raises ``NotARunDirectory`` without a checkpoint."""
    root = Path(log_dir)
    state = _read_json(root / "gepa_state.json")
    if state is None:
        raise NotARunDirectory(f"{root} has no gepa_state.json: not a GEPA log_dir, or the run has not started yet")
    results = _read_json(root / "results.json")
    run_info = _read_json(root / "run.json") or {}
    pool = state["pool"]
    candidates = [dict(c) for c in pool["candidates"]]
    keys = {candidate_key(c): i for i, c in enumerate(candidates)}
    history = list(state.get("history") or [])
    finished = results is not None and results.get("total_metric_calls") == state.get("metric_calls")

    proposals, bad_proposals = _read_jsonl(root / "proposals.jsonl")
    texts: dict[tuple[int, int, str], str] = {}
    for row in proposals:
        iteration, _, rest = str(row.get("k", "")).partition(":")
        parent_key, _, component = rest.partition(":")
        if iteration.isdigit() and parent_key in keys and isinstance(row.get("text"), str):
            texts[(int(iteration), keys[parent_key], component)] = row["text"]
    rejected = []
    for h in history:
        if h.get("status") in ("accepted", "skipped_perfect"):
            continue  # a skipped iteration proposed nothing: counted in the iteration table, not drawn
        parent = (h.get("parent_ids") or [None])[0]
        found = {c: texts[(h["iteration"], parent, c)] for c in h.get("components") or [] if (h["iteration"], parent, c) in texts}
        rejected.append(RejectedProposal(
            iteration=int(h["iteration"]), kind=str(h.get("kind", "")), status=str(h.get("status", "")),
            parent_ids=list(h.get("parent_ids") or []), components=list(h.get("components") or []),
            parent_scores=list(h.get("parent_scores") or []), child_scores=list(h.get("child_scores") or []),
            note=str(h.get("note", "")), texts=found,
        ))

    # The seed's inputs on each validation example, from its journaled traces (val ids are v0..vN, or t0..tN
    # when the valset is the trainset).
    evaluations, bad_evaluations = _read_jsonl(root / "evaluations.jsonl")
    n_val = len(pool["val_scores"][0]) if pool["val_scores"] else 0
    seed_key = candidate_key(candidates[0]) if candidates else ""
    seen_inputs: dict[str, str] = {}
    for row in evaluations:
        if row.get("c") != seed_key:
            continue
        trace = (row.get("o") or {}).get("trace") or []
        if trace and isinstance(trace[0], dict):
            seen_inputs[str(row.get("e"))] = json.dumps(trace[0].get("inputs", {}), ensure_ascii=False)
    prefix = "v" if any(e.startswith("v") for e in seen_inputs) else "t"
    val_inputs = [seen_inputs.get(f"{prefix}{j}", "") for j in range(n_val)]

    budget = (results or {}).get("budget") or run_info.get("budget")
    return RunData(
        log_dir=str(root),
        finished=finished,
        stop_reason=(results or {}).get("stop_reason") if finished else None,
        budget=int(budget) if budget else None,
        metric_calls=int(state.get("metric_calls", 0)),
        candidates=candidates,
        parents=[list(p) for p in pool["parents"]],
        origins=list(pool["origins"]),
        val_scores=[[float(s) for s in row] for row in pool["val_scores"]],
        discovery_metric_calls=[int(x) for x in pool["discovery_metric_calls"]],
        history=history,
        curve=[(int(a), float(b)) for a, b in state.get("curve") or []],
        counters={str(k): int(v) for k, v in ((results or {}).get("counters") or state.get("counters") or {}).items()},
        rejected=rejected,
        val_inputs=val_inputs,
        cost_ledger=_read_json(root / "cost_ledger.json") or (results or {}).get("cost_ledger"),
        run_info=run_info,
        skipped_lines=bad_proposals + bad_evaluations,
    )
