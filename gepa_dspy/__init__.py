"""gepa-dspy: GEPA (Genetic-Pareto reflective prompt evolution) as a drop-in DSPy optimizer.

>>> from gepa_dspy import GEPA
>>> optimized = GEPA(metric=metric, auto="light", reflection_lm=lm).compile(program, trainset=train, valset=val)
"""

from __future__ import annotations

# Importing the library changes no process-wide setting. Offline, set LITELLM_LOCAL_MODEL_COST_MAP=True yourself
# before importing dspy (litellm otherwise tries to fetch its price map); our CLI and benchmarks do it for you.
from .adapter.feedback import MetricReturnError, ScoreWithFeedback
from .adapter.program import ProgramStructureError
from .engine.checkpoint import CheckpointError, CheckpointMismatchError
from .engine.log_dir_lock import LogDirBusyError
from .engine.budgeted_evaluator import LMUnavailableError, ProgramFailedError
from .engine.search import BudgetTooSmallError
from .gepa import GEPA
from .results import DetailedResults

__version__ = "0.1.0"

__all__ = [
    "GEPA",
    "ScoreWithFeedback",
    "DetailedResults",
    "BudgetTooSmallError",
    "CheckpointError",
    "CheckpointMismatchError",
    "LMUnavailableError",
    "LogDirBusyError",
    "ProgramFailedError",
    "MetricReturnError",
    "ProgramStructureError",
    "local_lm",
]


def __getattr__(name: str):
    # The local LM helpers are optional (extra "local"); import them only when asked for.
    if name == "local_lm":
        import importlib

        return importlib.import_module(".local_lm", __name__)
    raise AttributeError(f"module 'gepa_dspy' has no attribute {name!r}")
