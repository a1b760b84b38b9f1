"""The fast suite's registry: task name -> module, and the names under which ``benchmarks.get`` finds them."""

from __future__ import annotations

import importlib
from types import ModuleType

#: Task name -> module path. Each module has ``load_splits``, ``make_program``, ``metric``, ``TASK``, ``solve``.
TASKS: dict[str, str] = {
    "ticket_router": "benchmarks.fast.ticket_router",
    "expense_policy": "benchmarks.fast.expense_policy",
    "name_format": "benchmarks.fast.name_format",
    "due_date": "benchmarks.fast.due_date",
}

#: Prefix of the fast tasks' names in ``benchmarks.BENCHMARKS`` (and so in ``benchmarks.compare``).
PREFIX = "fast_"


def benchmark_name(task: str) -> str:
    """The name ``benchmarks.compare --benchmark`` knows ``task`` by (``fast_ticket_router``...)."""
    return PREFIX + task


def benchmark_entries() -> dict[str, str]:
    """``benchmarks.BENCHMARKS`` entries for every fast task."""
    return {benchmark_name(task): path for task, path in TASKS.items()}


def get(task: str) -> ModuleType:
    """The module of a fast task, by its name with or without the ``fast_`` prefix."""
    name = task[len(PREFIX):] if task.startswith(PREFIX) else task
    try:
        return importlib.import_module(TASKS[name])
    except KeyError:
        raise ValueError(f"unknown fast task {task!r}; choose one of {sorted(TASKS)}") from None
