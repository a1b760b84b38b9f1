"""Show the optimizer's progress while ``compile`` runs, as ``dspy.GEPA`` does, unless logging is configured.

DSPy gives its own ``dspy`` logger a stderr handler at INFO, so ``dspy.GEPA`` prints every iteration out of
the box. Our ``gepa_dspy`` logger has no handler, so its INFO lines (seed score, one line per iteration, the
final summary) would go nowhere in a plain script. While ``compile`` runs, and only when neither that logger
nor any ancestor has a handler and its level is unset, a handler on DSPy's logging stream shows them:
``dspy.disable_logging()`` silences it as it silences DSPy. An application that configured logging keeps
full control.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from .compat import dspy_logging_stream_and_format

_STREAM, LOGGING_LINE_FORMAT, LOGGING_DATETIME_FORMAT = dspy_logging_stream_and_format()


def progress_display_enabled(display_progress: bool | None) -> bool:
    """Whether ``compile`` shows its progress bar: ``display_progress`` if given, else while DSPy's logging
    stream is on (``dspy.disable_logging()`` turns it off, as it silences DSPy's own output)."""
    if display_progress is not None:
        return bool(display_progress)
    return bool(getattr(_STREAM, "enabled", True))


@contextmanager
def progress_logging(logger: logging.Logger) -> Iterator[None]:
    """Within the block, ``logger``'s INFO records reach stderr if nothing else would show them."""
    if logger.hasHandlers() or logger.level != logging.NOTSET:
        yield
        return
    handler = logging.StreamHandler(_STREAM)
    handler.setFormatter(logging.Formatter(LOGGING_LINE_FORMAT, LOGGING_DATETIME_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
