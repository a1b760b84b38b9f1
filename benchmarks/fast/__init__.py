"""A fast feedback benchmark: short tasks with house rules, built for statistical power per CPU-minute.

Each task (``ticket_router``, ``expense_policy``, ``name_format``, ``due_date``) has the interface of the
paper's benchmarks: ``load_splits(scale, seed, data_dir, sizes)``, ``make_program()`` and
``metric(gold, pred, ...) -> dspy.Prediction(score, feedback)``; the feedback names the house rule that a
wrong answer broke. Splits are generated from a seed (25 train / 25 val / 300 test by default). The tasks
are registered in ``benchmarks.BENCHMARKS`` as ``fast_<task>``. See docs/fast-benchmark.md.
"""

from .registry import TASKS, benchmark_entries, benchmark_name, get

__all__ = ["TASKS", "benchmark_entries", "benchmark_name", "get"]
