"""Replacing one attribute of a DSPy class for the duration of a block (settings DSPy does not expose)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def replaced_attribute(owner: type, name: str, wrap: Callable[[Any], Any]) -> Iterator[None]:
    """Within the block, ``owner.name`` is ``wrap(original)``; the original is put back on exit."""
    with _lock:
        original = getattr(owner, name)
        setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        with _lock:
            setattr(owner, name, original)
