"""JSON that remembers pydantic types, so a stored run gives back the objects the live run had.

A run's predictor calls are journaled as JSON and read back on resume. For reflection to see the same values
whether the run is fresh or restored, values such as ``dspy.Image``, ``dspy.History`` (with its ``ToolCalls``)
or a pydantic output model are stored as ``{"$model": "module:QualName", "fields": {...}}`` and rebuilt with
``model_validate``. Everything else is stored as plain JSON (``to_jsonable``).

``encode`` / ``decode`` round-trip; ``plain`` gives the untagged form (for prompts and reports). A tagged value
that cannot be rebuilt (its class is gone, or validation fails: e.g. a ``dspy.Tool`` whose function was stored
as text) decodes to its plain form, and ``decode`` reports it through ``on_fallback``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from pydantic import BaseModel

from .snapshot import to_jsonable

MODEL_KEY = "$model"
FIELDS_KEY = "fields"
_MAX_DEPTH = 30


def encode(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe form of ``value`` in which every pydantic model keeps its class name."""
    if _depth > _MAX_DEPTH:
        return to_jsonable(value)
    if isinstance(value, BaseModel):
        cls = type(value)
        fields = {name: encode(getattr(value, name, None), _depth + 1) for name in cls.model_fields}
        return {MODEL_KEY: f"{cls.__module__}:{cls.__qualname__}", FIELDS_KEY: fields}
    if isinstance(value, dict) and not _is_tagged(value):
        return {str(k): encode(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, _depth + 1) for v in value]
    return to_jsonable(value)


def _is_tagged(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {MODEL_KEY, FIELDS_KEY} and isinstance(value[MODEL_KEY], str)


def _model_class(name: str) -> type[BaseModel] | None:
    module_name, _, qualname = name.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError):
        return None
    return target if isinstance(target, type) and issubclass(target, BaseModel) else None


def decode(value: Any, on_fallback: Callable[[str], None] | None = None) -> Any:
    """The objects ``encode`` stored: tagged models rebuilt, the rest as stored."""
    if _is_tagged(value):
        cls = _model_class(value[MODEL_KEY])
        fields = {k: decode(v, on_fallback) for k, v in value[FIELDS_KEY].items()}
        if cls is not None:
            try:
                return cls.model_validate(fields)
            except Exception:  # noqa: BLE001 - any validation failure: fall back to the plain form, reported
                pass
        if on_fallback is not None:
            on_fallback(value[MODEL_KEY])
        return plain(value)
    if isinstance(value, dict):
        return {k: decode(v, on_fallback) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, on_fallback) for v in value]
    return value


def plain(value: Any) -> Any:
    """``value`` with every model tag removed (a model becomes the dict of its fields)."""
    if _is_tagged(value):
        return {k: plain(v) for k, v in value[FIELDS_KEY].items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
