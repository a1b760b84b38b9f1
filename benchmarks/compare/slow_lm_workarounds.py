"""Opt-in workarounds for running the comparison on a slow local LM; nothing here is active unless asked for.

``straggler_timeout`` (``--dspy-straggler-timeout SECONDS``, see docs/compare.md): DSPy's ``ParallelExecutor``
re-submits an example running for ``timeout`` seconds (default 120); on a slow shared server the copies only add
load and MIPROv2 metric calls. DSPy has no setting for it, so the constructor's default is swapped within a block
(0: never re-submit; a ``timeout`` a caller passes is kept).
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
