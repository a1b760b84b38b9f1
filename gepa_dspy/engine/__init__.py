"""The DSPy-free search engine: candidates, Pareto bookkeeping, strategies, budget, checkpoints and the loop."""

from .candidate import Candidate, candidate_key
from .pool import CandidatePool
from .protocols import Evaluator, ProposalResult, Proposer, StopCondition
from .records import IterationRecord, Outcome
from .search import GEPASearch, SearchConfig, SearchResult
from .strategies import (
    AcceptanceCriterion,
    AllComponentSelector,
    ComponentSelector,
    CurrentBestParentSelector,
    ParentSelector,
    ParetoParentSelector,
    RoundRobinComponentSelector,
    StrictImprovement,
)

__all__ = [
    "Candidate", "candidate_key", "CandidatePool", "Evaluator", "ProposalResult", "Proposer", "StopCondition",
    "IterationRecord", "Outcome", "GEPASearch", "SearchConfig", "SearchResult", "AcceptanceCriterion",
    "AllComponentSelector", "ComponentSelector", "CurrentBestParentSelector", "ParentSelector",
    "ParetoParentSelector", "RoundRobinComponentSelector", "StrictImprovement",
]
