"""Side-by-side comparison of baseline, MIPROv2, dspy.GEPA and our GEPA on the paper's benchmarks.

``python -m benchmarks.compare --benchmark ifbench --optimizers baseline,mipro,dspy_gepa,gepa --scale small
--seeds 0,1 --out runs/NAME`` runs every (benchmark, optimizer, seed), writes one ``record.json`` per run and a
report (``results.csv``, ``table.md``, PNGs). See docs/compare.md.

Files: ``cli`` (the command line), ``config`` (settings, LM specs, run-folder names), ``optimizers`` (one function
per compared optimizer), ``run`` (runs, scoring with ``dspy.Evaluate``, records), ``report`` (tables, paired gains,
plots, export), ``slow_lm_workarounds`` (opt-in). For notebooks: ``load_records``, ``results_frame``,
``table_markdown``, ``gains_table``, ``plot_score_vs_calls``, ``plot_prompt_lengths`` and ``report``.
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
