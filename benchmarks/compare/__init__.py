"""Side-by-side comparison of baseline, MIPROv2, dspy.GEPA and our GEPA on the paper's benchmarks.

``python -m benchmarks.compare --benchmark ifbench --optimizers baseline,mipro,dspy_gepa,gepa --scale small
--seeds 0,1 --out runs/NAME`` runs every (benchmark, optimizer, seed), writes one ``record.json`` per run
and a report (``results.csv``, ``table.md``, PNGs). See docs/compare.md.

For notebooks: ``load_records``, ``results_frame``, ``table_markdown``, ``gains_table``, ``plot_score_vs_calls``,
``plot_prompt_lengths`` and ``report``.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never let litellm reach the network

from .config import OPTIMIZERS, SCALES, CompareConfig, MiproSettings  # noqa: E402
from .evaluation import SplitScores, evaluate_program  # noqa: E402
from .lms import LMSpec, RunLMs  # noqa: E402
from .report import (  # noqa: E402
    failed_runs,
    gains_table,
    load_records,
    plot_prompt_lengths,
    plot_score_vs_calls,
    report,
    results_frame,
    table_markdown,
)
from .runner import RunKey, RunSummary, run_comparison  # noqa: E402
from .cli import main  # noqa: E402

__all__ = [
    "OPTIMIZERS",
    "SCALES",
    "CompareConfig",
    "LMSpec",
    "MiproSettings",
    "RunKey",
    "RunLMs",
    "RunSummary",
    "SplitScores",
    "evaluate_program",
    "failed_runs",
    "gains_table",
    "load_records",
    "main",
    "plot_prompt_lengths",
    "plot_score_vs_calls",
    "report",
    "results_frame",
    "run_comparison",
    "table_markdown",
]
