"""The GEPA paper's four benchmarks as DSPy programs with feedback metrics.

Every benchmark module exposes the same interface:

- ``load_splits(scale="small" | "paper", seed=0, data_dir=None) -> Splits``
- ``make_program(**options) -> dspy.Module`` (fresh and unoptimized)
- ``metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction(score, feedback)``

``get(name)`` imports a benchmark module lazily (heavy dependencies such as bm25s load only when used).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

# The benchmarks are our own entry point: keep litellm from fetching its price map from the network (the library
# itself leaves this process-wide setting to the user).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

#: Benchmark name -> module path.
BENCHMARKS: dict[str, str] = {
    "hotpotqa": "benchmarks.hotpotqa",
    "hover": "benchmarks.hover",
    "ifbench": "benchmarks.ifbench",
    "pupa": "benchmarks.pupa",
    # The fast feedback suite (benchmarks/fast, docs/fast-benchmark.md): short tasks with house rules.
    "fast_ticket_router": "benchmarks.fast.ticket_router",
    "fast_expense_policy": "benchmarks.fast.expense_policy",
    "fast_name_format": "benchmarks.fast.name_format",
    "fast_due_date": "benchmarks.fast.due_date",
}

#: Names that stand for several benchmarks on the command line: ``all`` is the paper's four (as before the
#: fast suite existed), ``fast`` the fast feedback suite.
SUITES: dict[str, tuple[str, ...]] = {
    "all": ("hotpotqa", "hover", "ifbench", "pupa"),
    "fast": tuple(name for name in BENCHMARKS if name.startswith("fast_")),
}


def get(name: str) -> ModuleType:
    """Import and return the benchmark module registered as ``name``."""
    try:
        module_path = BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}") from None
    return importlib.import_module(module_path)
