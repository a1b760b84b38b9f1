"""Memoize DSPy's model-metadata lookup while ``compile`` runs.

DSPy 3.4 prices every LM reply and resolves the LM's capabilities through
``dspy.clients.model_metadata.model_info``. For a model missing from its metadata snapshot (any local or
self-hosted model, e.g. ``openai/local``), each lookup scans the whole snapshot, and the pricing step does it
twice per reply. That cost falls after the reply has arrived, on the optimizer's critical path: in
``benchmarks/orchestration.py`` it was more than half of all CPU time and most of the time with no request in
flight (docs/orchestration.md, "Overhead").

Within the block, the two modules that call it (``costs`` and ``capabilities``) see a memoized wrapper. The
lookup depends only on its arguments and the snapshot, which DSPy loads once per process, so every answer
equals DSPy's own; each caller gets its own deep copy, as from the original. Outside the block, and
whenever the DSPy layout is not the expected one, nothing changes. Nested or concurrent ``compile`` calls
share one wrapper, installed by the first and removed by the last.
"""

from __future__ import annotations

import copy
import importlib
import logging
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

logger = logging.getLogger("gepa_dspy")

#: The modules that bound ``model_info`` by name at import time.
CALLER_MODULES = ("dspy.clients.costs", "dspy.clients.capabilities")
ATTRIBUTE = "model_info"

_lock = threading.Lock()
_depth = 0
_saved: dict[str, Callable[..., Any]] = {}


class _Memoized:
    """``model_info`` with a per-block cache keyed by its arguments."""

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Any signature is passed through unchanged; only ``namespaces`` (a list or a tuple) is normalised for
        # the key, as DSPy itself reads it with ``tuple(namespaces)``.
        named = {k: tuple(v) if k == "namespaces" and isinstance(v, list) else v for k, v in kwargs.items()}
        key = (args, tuple(sorted(named.items())))
        try:
            hash(key)
        except TypeError:  # unhashable arguments: no memo, DSPy's own answer
            return self.original(*args, **kwargs)
        with self.lock:
            hit = key in self.cache
            value = self.cache.get(key)
        if not hit:
            value = self.original(*args, **kwargs)
            with self.lock:
                self.cache[key] = value
        return copy.deepcopy(value)


def _caller_modules() -> list[Any]:
    modules = []
    for name in CALLER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if callable(getattr(module, ATTRIBUTE, None)):
            modules.append(module)
    return modules


@contextmanager
def memoized_model_metadata() -> Iterator[None]:
    """Within the block, DSPy's ``model_info`` lookups are memoized (see the module docstring)."""
    global _depth
    with _lock:
        if _depth == 0:
            modules = _caller_modules()
            originals = {getattr(m, ATTRIBUTE) for m in modules}
            if len(originals) == 1:  # the layout we know: one function, bound by name in each caller
                memo = _Memoized(originals.pop())
                for module in modules:
                    _saved[module.__name__] = getattr(module, ATTRIBUTE)
                    setattr(module, ATTRIBUTE, memo)
            elif modules:
                logger.debug("GEPA: DSPy's model_info is not one shared function here; lookups are not memoized")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, original in _saved.items():
                    setattr(importlib.import_module(name), ATTRIBUTE, original)
                _saved.clear()
