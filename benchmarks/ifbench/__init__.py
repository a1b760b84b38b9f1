"""IFBench (Pyatkin et al. 2025): following verifiable output constraints.

Benchmark interface: :func:`load_splits`, :func:`make_program`, :data:`metric` (loose rule) and
:func:`make_metric` (``loose=False`` for the strict rule). :func:`follows` checks a response against
a list of instruction ids. Checkers for every instruction id of the IFBench test set and of IFEval
live in the ``checkers_*`` modules, one function per id, registered in :data:`REGISTRY`.
See docs/benchmarks-ifbench.md.
"""

# Importing the checker modules registers their checkers.
from benchmarks.ifbench import (  # noqa: F401
    checkers_count,
    checkers_custom,
    checkers_format,
    checkers_ifeval_case,
    checkers_ifeval_content,
    checkers_ifeval_format,
    checkers_ifeval_length,
    checkers_ratio,
    checkers_repeat,
    checkers_sentence,
    checkers_words,
)
from benchmarks.ifbench.data import load_public_splits, load_splits
from benchmarks.ifbench.following import (
    ConstraintResult,
    evaluate,
    follows,
    loose_variants,
)
from benchmarks.ifbench.metric import IFBenchMetric, make_metric, metric
from benchmarks.ifbench.program import IFBenchProgram, make_program
from benchmarks.ifbench.registry import (
    REGISTRY,
    Args,
    Checker,
    CheckerArgumentError,
    UnknownInstructionError,
    Verdict,
)

__all__ = [
    "REGISTRY",
    "Args",
    "Checker",
    "CheckerArgumentError",
    "ConstraintResult",
    "IFBenchMetric",
    "IFBenchProgram",
    "UnknownInstructionError",
    "Verdict",
    "evaluate",
    "follows",
    "load_public_splits",
    "load_splits",
    "loose_variants",
    "make_metric",
    "make_program",
    "metric",
]
