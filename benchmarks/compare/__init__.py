"""Side-by-side comparison of baseline, MIPROv2, dspy.GEPA and our GEPA on the paper's benchmarks.

``python -m benchmarks.compare --benchmark ifbench --optimizers baseline,mipro,dspy_gepa,gepa --scale small
--seeds 0,1 --out runs/NAME`` runs every (benchmark, optimizer, seed), writes one ``record.json`` per run and a
report (``results.csv``, ``table.md``, PNGs). See docs/compare.md. Modules: ``cli``, ``config``, ``optimizers`` (one
function per optimizer), ``run`` (runs, scoring, records), ``report`` (tables, gains, plots, export) and the opt-in
``slow_lm_workarounds``. Notebooks use the names below (keep them).
"""

from __future__ import annotations

from .cli import main
from .config import OPTIMIZERS, SCALES, CompareConfig, LMSpec, MiproSettings
from .report import (
    failed_runs,
    gains_table,
    load_records,
    plot_prompt_lengths,
    plot_score_vs_calls,
    report,
    results_frame,
    table_markdown,
)
from .run import RunKey, RunSummary, evaluate_program, run_comparison

__all__ = ["OPTIMIZERS", "SCALES", "CompareConfig", "LMSpec", "MiproSettings", "RunKey", "RunSummary",
           "evaluate_program", "failed_runs", "gains_table", "load_records", "main", "plot_prompt_lengths",
           "plot_score_vs_calls", "report", "results_frame", "run_comparison", "table_markdown"]
