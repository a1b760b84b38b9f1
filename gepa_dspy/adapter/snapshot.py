"""Turning DSPy values into JSON-safe snapshots (for the evaluation journal and reflection prompts)."""

from __future__ import annotations

from typing import Any

_PRIMITIVES = (str, int, float, bool, type(None))


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-serialisable copy of ``value``: containers recurse, pydantic models dump, the rest is ``str``."""
    if isinstance(value, _PRIMITIVES):
        return value
    if _depth > 20:
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if hasattr(value, "model_dump"):
        try:
            return to_jsonable(value.model_dump(mode="json"), _depth + 1)
        except Exception:  # noqa: BLE001 - fall back to the text form
            return str(value)
    if hasattr(value, "items") and callable(value.items):
        try:
            return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
        except Exception:  # noqa: BLE001
            return str(value)
    return str(value)
