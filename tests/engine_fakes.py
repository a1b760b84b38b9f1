"""Pure-Python stand-ins for the engine's Evaluator and Proposer (no DSPy, no LM)."""

from __future__ import annotations

import hashlib
from typing import Sequence

from gepa_dspy.engine import Candidate, Outcome, ProposalResult
from gepa_dspy.engine.protocols import OutcomeSink


def pseudo_score(candidate: Candidate, example_id: str) -> float:
    """A deterministic score in {0, 0.5, 1} that longer instructions tend to raise."""
    blob = (repr(sorted(candidate.items())) + example_id).encode()
    noise = int(hashlib.sha256(blob).hexdigest(), 16) % 3
    length_bonus = min(2, sum(len(t) for t in candidate.values()) // 40)
    return min(1.0, (noise + length_bonus) / 4)


class FakeEvaluator:
    def __init__(self) -> None:
        self.runs: list[tuple[str, str]] = []

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        for e in example_ids:
            self.runs.append((repr(sorted(candidate.items())), e))
            sink(e, Outcome(score=pseudo_score(candidate, e), feedback=f"feedback on {e}"))


class FakeProposer:
    def __init__(self) -> None:
        self.calls = 0

    def propose(self, candidate: Candidate, component: str, runs) -> ProposalResult:
        """Deterministic in its inputs, like an LM at temperature 0 with a cache."""
        self.calls += 1
        blob = (repr(sorted(candidate.items())) + component + repr([e for e, _ in runs])).encode()
        return ProposalResult(text=f"{candidate[component]} +r{int(hashlib.sha256(blob).hexdigest(), 16) % 997}")


def rule_score(candidate: Candidate, example_id: str) -> float:
    """Example k is solved once the instruction of component 'a' (k even) or 'b' (k odd) holds rule k % 4."""
    k = int(example_id[1:])
    component = "a" if k % 2 == 0 else "b"
    return 1.0 if f"rule{k % 4}" in candidate[component] else 0.0


class RuleEvaluator(FakeEvaluator):
    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], sink: OutcomeSink) -> None:
        for e in example_ids:
            self.runs.append((repr(sorted(candidate.items())), e))
            sink(e, Outcome(score=rule_score(candidate, e), feedback=f"needs rule{int(e[1:]) % 4}"))


class RuleProposer(FakeProposer):
    """Adds the rule named by the first failing example's feedback."""

    def propose(self, candidate: Candidate, component: str, runs) -> ProposalResult:
        self.calls += 1
        for _, outcome in runs:
            rule = outcome.feedback.split()[-1]
            if outcome.score < 1 and rule not in candidate[component]:
                return ProposalResult(text=f"{candidate[component]} {rule}")
        return ProposalResult(text=f"{candidate[component]} noise{len(candidate[component])}")
