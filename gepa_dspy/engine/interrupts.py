"""Remembering Ctrl-C for the whole search, so an interrupt that some library swallows still stops it."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def remembered_sigint() -> Iterator[threading.Event]:
    """An event set on every SIGINT while the block runs; the previous handler still runs (and raises).

    A ``KeyboardInterrupt`` raised where Python cannot propagate it (a finalizer or a weakref callback that
    happens to run at that moment, or code catching ``BaseException``) is lost; the event is not. The handler
    is installed only in the main thread and only over a Python-level handler: an ignored SIGINT stays ignored.
    """
    event = threading.Event()
    previous: Any = None
    installed = False
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
        if callable(previous):

            def handler(signum: int, frame: Any) -> None:
                event.set()
                previous(signum, frame)

            signal.signal(signal.SIGINT, handler)
            installed = True
    try:
        yield event
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
