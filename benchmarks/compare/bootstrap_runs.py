"""Counting MIPROv2's bootstrapping program runs, failed ones included.

MIPROv2 collects few-shot demos with ``dspy.BootstrapFewShot``, which runs the teacher program on one
training example per ``_bootstrap_one_example`` call and calls the metric only when the run succeeded. A run
that raised (for a small LM, usually an unparsable reply) is still one program run on one example, which the
GEPA variants pay for from their budget, so the matched budget must count it too. The metric wrapper cannot
see such runs and DSPy keeps no total, so ``counting_bootstrap_runs`` wraps that method for the duration of a
block (``patching.replaced_attribute``, as ``stragglers.py`` does for the parallel executor).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from typing import Any, Iterator

from .patching import replaced_attribute

logger = logging.getLogger(__name__)


class RunCounter:
    """A thread-safe count of program runs."""

    def __init__(self) -> None:
        self.runs = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.runs += 1


@contextlib.contextmanager
def counting_bootstrap_runs() -> Iterator[RunCounter | None]:
    """Within the block, every ``BootstrapFewShot`` teacher run is counted; yields the counter.

    Yields None (and logs a warning) when this DSPy has no ``BootstrapFewShot._bootstrap_one_example``:
    the caller then falls back to the bootstrapping runs the metric saw, which leaves out failed ones.
    """
    from dspy.teleprompt.bootstrap import BootstrapFewShot

    if not hasattr(BootstrapFewShot, "_bootstrap_one_example"):
        logger.warning("this DSPy has no BootstrapFewShot._bootstrap_one_example: MIPROv2's failed bootstrapping "
                       "runs are not counted in its metric calls")
        yield None
        return
    counter = RunCounter()

    def wrap(original: Any) -> Any:
        @functools.wraps(original)
        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            counter.add()
            return original(self, *args, **kwargs)

        return counted

    with replaced_attribute(BootstrapFewShot, "_bootstrap_one_example", wrap):
        yield counter
