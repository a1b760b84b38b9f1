"""PUPA (PAPILLON, Li et al. 2025): privacy-conscious delegation to an untrusted LM.

Benchmark interface: :func:`load_splits`, :func:`make_program`, :data:`metric` (judge on the configured LM)
and :func:`make_metric` (judge on a chosen LM). See docs/benchmarks-pupa.md.
"""

from benchmarks.pupa.data import load_public_splits, load_splits, parse_pii_units
from benchmarks.pupa.judge import Judge, JudgeFailure, JudgeStats
from benchmarks.pupa.program import PapillonProgram, UntrustedModel, make_program
from benchmarks.pupa.scoring import MetricStats, PupaMetric, make_metric

#: The default metric: its judge uses whatever LM DSPy is configured with when it is called.
metric = make_metric()

__all__ = [
    "Judge",
    "JudgeFailure",
    "JudgeStats",
    "MetricStats",
    "PapillonProgram",
    "PupaMetric",
    "UntrustedModel",
    "load_public_splits",
    "load_splits",
    "make_metric",
    "make_program",
    "metric",
    "parse_pii_units",
]
