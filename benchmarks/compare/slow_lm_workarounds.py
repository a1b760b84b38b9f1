"""Opt-in workarounds for running the comparison on a slow local LM. Nothing here is active unless asked for.

Only one is still needed:

``straggler_timeout`` (``--dspy-straggler-timeout SECONDS``): DSPy's ``ParallelExecutor`` (behind
``dspy.Evaluate``, hence MIPROv2, dspy.GEPA and the harness's own scoring) submits a second copy of any example
that has run for ``timeout`` seconds (120 by default) once at most three remain. On a shared CPU server where one
program call can take minutes, the copies only queue behind the originals, double the load, and their program
runs count towards MIPROv2's metric calls. DSPy exposes no setting for it, so the constructor's default is
swapped for the duration of a block; 0 turns re-submission off (DSPy skips the check when it is not > 0). A
``timeout`` a caller passes explicitly is kept.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from typing import Any, Iterator

_patch_lock = threading.Lock()


@contextlib.contextmanager
def straggler_timeout(seconds: float | None) -> Iterator[None]:
    """Within the block, new ``ParallelExecutor`` objects default to ``timeout=seconds`` (None: leave DSPy's)."""
    if seconds is None:
        yield
        return
    if seconds < 0:
        raise ValueError(f"the straggler timeout must be >= 0 seconds, got {seconds}")
    from dspy.utils.parallelizer import ParallelExecutor

    original = ParallelExecutor.__init__
    signature = inspect.signature(original)
    if "timeout" not in signature.parameters:
        raise RuntimeError("this DSPy's ParallelExecutor has no 'timeout' parameter; drop --dspy-straggler-timeout")

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if "timeout" not in signature.bind_partial(self, *args, **kwargs).arguments:
            kwargs["timeout"] = seconds
        original(self, *args, **kwargs)

    with _patch_lock:
        ParallelExecutor.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _patch_lock:
            ParallelExecutor.__init__ = original  # type: ignore[method-assign]
