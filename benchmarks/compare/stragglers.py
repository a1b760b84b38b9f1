"""DSPy's straggler re-submission, made configurable for a comparison run.

``dspy.utils.parallelizer.ParallelExecutor`` (behind ``dspy.Evaluate``, hence MIPROv2 and dspy.GEPA) submits
a second copy of any example that has run for ``timeout`` seconds (120 by default) once at most three
remain. On a slow shared local LM that only adds load: the copies queue behind the originals, and the
metric counts their runs. DSPy exposes no setting for it, so ``straggler_timeout`` swaps the constructor's
default for the duration of a block; 0 turns re-submission off (DSPy skips the check when it is not > 0).
An explicit ``timeout=`` passed by a caller is kept.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

from .patching import replaced_attribute


@contextlib.contextmanager
def straggler_timeout(seconds: float | None) -> Iterator[None]:
    """Within the block, new ``ParallelExecutor`` objects default to ``timeout=seconds`` (None: leave DSPy's)."""
    if seconds is None:
        yield
        return
    if seconds < 0:
        raise ValueError(f"the straggler timeout must be >= 0 seconds, got {seconds}")
    from dspy.utils import parallelizer

    def wrap(original: Any) -> Any:
        @functools.wraps(original)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            # ``timeout`` is the sixth positional parameter; only fill it in when the caller did not give it.
            if len(args) < 6:
                kwargs.setdefault("timeout", seconds)
            original(self, *args, **kwargs)

        return init

    with replaced_attribute(parallelizer.ParallelExecutor, "__init__", wrap):
        yield
