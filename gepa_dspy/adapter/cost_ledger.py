"""Tokens and dollars spent per LM role (task LM, reflection LM), from DSPy's usage tracking.

While ``compile`` runs, program runs (the evaluator) and reflection (the proposer) each run inside
``dspy.track_usage()``, booked to their role when the block ends: DSPy reports every LM response that was
not served from its cache to the active tracker, with the model name and the provider's usage. The role is
where the call happened, not which LM object made it, so an LM used in both roles is split correctly, and an
LM-judged metric counts under the role that called it. A usage tracker the caller opened around ``compile``
(``dspy.track_usage()``) still sees every call.

Dollars come from litellm's price map (``litellm.model_cost``, per input and output token) where it knows the
model (with or without the provider prefix); calls to a model it does not price are counted as unpriced and
left out of the dollars (``litellm.register_model`` adds prices). ``max_cost`` stops the search before a round
once the priced dollars reach it: work already paid for is always kept.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import dspy

from ..engine import events as ev
from ..engine.candidate import Candidate
from ..engine.checkpoint import save_json_atomic
from ..engine.protocols import OutcomeSink, ProposalResult
from ..engine.records import Outcome

logger = logging.getLogger("gepa_dspy")

ROLES = ("task", "reflection")
LEDGER_FILE = "cost_ledger.json"


def price_per_token(model: str) -> tuple[float, float] | None:
    """(dollars per input token, per output token) from litellm's price map, or None when it has no price."""
    try:
        import litellm
    except ImportError:  # pragma: no cover - litellm is a dependency
        return None
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    for name in names:
        info = litellm.model_cost.get(name)
        if isinstance(info, dict) and "input_cost_per_token" in info and "output_cost_per_token" in info:
            return float(info["input_cost_per_token"] or 0.0), float(info["output_cost_per_token"] or 0.0)
    return None


@dataclass
class ModelUsage:
    """One role's usage of one model."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Dollars at litellm's prices, or None when the model is not priced.
    cost_usd: float | None = None


@dataclass
class CostLedger:
    """Per role, per model: LM calls, tokens and dollars. Thread-safe; JSON-safe via ``to_dict``."""

    roles: dict[str, dict[str, ModelUsage]] = field(default_factory=lambda: {r: {} for r in ROLES})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, role: str, model: str, usage: dict[str, Any]) -> None:
        """Record one LM response's usage (as DSPy reports it) under ``role``."""
        prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        price = price_per_token(model)
        with self._lock:
            entry = self.roles.setdefault(role, {}).setdefault(model, ModelUsage())
            entry.calls += 1
            entry.prompt_tokens += prompt
            entry.completion_tokens += completion
            if price is not None:
                entry.cost_usd = (entry.cost_usd or 0.0) + prompt * price[0] + completion * price[1]

    def role_totals(self, role: str) -> dict[str, Any]:
        """Calls, tokens, priced dollars and unpriced calls of one role."""
        with self._lock:
            models = list(self.roles.get(role, {}).values())
        return {
            "calls": sum(m.calls for m in models),
            "prompt_tokens": sum(m.prompt_tokens for m in models),
            "completion_tokens": sum(m.completion_tokens for m in models),
            "total_tokens": sum(m.prompt_tokens + m.completion_tokens for m in models),
            "cost_usd": sum(m.cost_usd or 0.0 for m in models),
            "unpriced_calls": sum(m.calls for m in models if m.cost_usd is None),
        }

    @property
    def total_cost_usd(self) -> float:
        return sum(self.role_totals(role)["cost_usd"] for role in self.roles)

    @property
    def unpriced_calls(self) -> int:
        return sum(self.role_totals(role)["unpriced_calls"] for role in self.roles)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            by_model = {role: {m: asdict(u) for m, u in models.items()} for role, models in self.roles.items()}
        roles = {role: {**self.role_totals(role), "models": by_model[role]} for role in by_model}
        return {
            "roles": roles,
            "total_tokens": sum(r["total_tokens"] for r in roles.values()),
            "total_cost_usd": sum(r["cost_usd"] for r in roles.values()),
            "unpriced_calls": sum(r["unpriced_calls"] for r in roles.values()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CostLedger":
        ledger = cls()
        for role, totals in (data.get("roles") or {}).items():
            ledger.roles[role] = {
                model: ModelUsage(calls=int(u["calls"]), prompt_tokens=int(u["prompt_tokens"]),
                                  completion_tokens=int(u["completion_tokens"]),
                                  cost_usd=None if u.get("cost_usd") is None else float(u["cost_usd"]))
                for model, u in (totals.get("models") or {}).items()
            }
        return ledger

    def summary(self) -> str:
        """One log line: tokens and dollars per role."""
        parts = []
        for role in self.roles:
            t = self.role_totals(role)
            unpriced = f", {t['unpriced_calls']} unpriced" if t["unpriced_calls"] else ""
            parts.append(f"{role} LM {t['calls']} calls, {t['total_tokens']:,} tokens, ${t['cost_usd']:.4f}{unpriced}")
        return "; ".join(parts) + f"; total ${self.total_cost_usd:.4f}"

    # -- persistence next to the search state, so a resumed run keeps counting --------------------------------
    def save(self, log_dir: str | Path) -> None:
        save_json_atomic(Path(log_dir) / LEDGER_FILE, self.to_dict())

    @classmethod
    def load(cls, log_dir: str | Path) -> "CostLedger":
        """The ledger saved in ``log_dir``, or an empty one (a damaged file is logged and counted as empty)."""
        path = Path(log_dir) / LEDGER_FILE
        if not path.exists():
            return cls()
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("GEPA: could not read %s (%s); the cost ledger starts from zero", path, exc)
            return cls()


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


@contextmanager
def booked_to(ledger: CostLedger, role: str) -> Iterator[None]:
    """Within the block, DSPy LM usage (this thread and the threads it starts with its context) goes to ``role``.

    A plain ``dspy.track_usage()`` block: nested trackers (the reflection proposer's own) roll up into it, and it
    rolls up into a tracker the caller opened around ``compile``. Its entries are booked when the block ends.
    """
    with dspy.track_usage() as tracker:
        try:
            yield
        finally:
            for model, entries in list(tracker.usage_data.items()):
                for entry in list(entries):
                    ledger.add(role, model, entry)


class MeteredEvaluator:
    """An ``Evaluator`` whose LM usage is booked to the task role."""

    def __init__(self, inner: Any, ledger: CostLedger) -> None:
        self.inner, self.ledger = inner, ledger

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        with booked_to(self.ledger, "task"):
            self.inner.evaluate(candidate, example_ids, sink)


class MeteredProposer:
    """A ``Proposer`` whose LM usage is booked to the reflection role."""

    def __init__(self, inner: Any, ledger: CostLedger) -> None:
        self.inner, self.ledger = inner, ledger

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult:
        with booked_to(self.ledger, "reflection"):
            return self.inner.propose(candidate, component, runs)


class CostLimit:
    """Stop condition: the priced dollars reached ``max_cost`` (checked before each round, so paid work is kept)."""

    def __init__(self, ledger: CostLedger, max_cost: float) -> None:
        self.ledger, self.max_cost = ledger, float(max_cost)
        self._warned = False

    def __call__(self) -> str | None:
        if self.ledger.unpriced_calls and not self._warned:
            self._warned = True
            logger.warning(
                "GEPA: max_cost counts only priced LM calls; %d call(s) went to models litellm has no price for "
                "(register prices with litellm.register_model)", self.ledger.unpriced_calls,
            )
        spent = self.ledger.total_cost_usd
        if spent >= self.max_cost:
            return f"cost limit reached: ${spent:.4f} spent, max_cost ${self.max_cost:.4f}"
        return None


class LedgerSaver:
    """Search callback that keeps ``log_dir/cost_ledger.json`` current, so a killed run's spending survives."""

    _SAVE_ON = (ev.CheckpointSaved, ev.BudgetUpdate, ev.ProposalMade, ev.ProposalRejected, ev.RunEnded)

    def __init__(self, ledger: CostLedger, log_dir: str | Path) -> None:
        self.ledger, self.log_dir = ledger, Path(log_dir)
        self._lock = threading.Lock()

    def __call__(self, event: ev.SearchEvent) -> None:
        if isinstance(event, self._SAVE_ON):
            with self._lock:
                self.ledger.save(self.log_dir)
