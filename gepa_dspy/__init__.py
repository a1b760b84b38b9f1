"""gepa-dspy: GEPA (Genetic-Pareto reflective prompt evolution) as a drop-in DSPy optimizer.

>>> from gepa_dspy import GEPA
>>> optimized = GEPA(metric=metric, auto="light", reflection_lm=lm).compile(program, trainset=train, valset=val)
"""

from __future__ import annotations

import os

# Never let litellm fetch its model price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from .adapter.feedback import MetricReturnError, ScoreWithFeedback  # noqa: E402
from .adapter.program import ProgramStructureError  # noqa: E402
from .engine.checkpoint import CheckpointMismatchError  # noqa: E402
from .engine.paid_runs import LMUnavailableError  # noqa: E402
from .engine.search import BudgetTooSmallError  # noqa: E402
from .gepa import GEPA  # noqa: E402
from .results import DetailedResults  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GEPA",
    "ScoreWithFeedback",
    "DetailedResults",
    "BudgetTooSmallError",
    "CheckpointMismatchError",
    "LMUnavailableError",
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
