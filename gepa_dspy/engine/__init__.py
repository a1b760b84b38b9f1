"""The DSPy-free search engine: candidates, Pareto bookkeeping, strategies, budget, checkpoints and the loop."""

from .candidate import Candidate, candidate_key
from .config import SearchConfig
from .budgeted_evaluator import LMUnavailableError
from .pool import CandidatePool
from .protocols import Evaluator, ProposalResult, Proposer, StopCondition
from .records import IterationRecord, Outcome
from .search_result import SearchResult
from .search import BudgetTooSmallError, GEPASearch
from .strategies import (
    AcceptanceCriterion,
    AllComponentSelector,
    ComponentChoice,
    ComponentSelector,
    CurrentBestParentSelector,
    ParentSelector,
    NoWorseThanParent,
    ParetoParentSelector,
    RoundRobinComponentSelector,
    StrictImprovement,
)

__all__ = [
    "Candidate", "candidate_key", "CandidatePool", "Evaluator", "ProposalResult", "Proposer", "StopCondition",
    "IterationRecord", "Outcome", "GEPASearch", "BudgetTooSmallError", "LMUnavailableError", "SearchConfig",
    "SearchResult", "AcceptanceCriterion", "ComponentChoice", "NoWorseThanParent",
    "AllComponentSelector", "ComponentSelector", "CurrentBestParentSelector", "ParentSelector",
    "ParetoParentSelector", "RoundRobinComponentSelector", "StrictImprovement",
]
