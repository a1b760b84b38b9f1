"""What identifies a run for resuming from ``log_dir``: the program's signatures and demos, the metric,
and the examples. A checkpoint or journal whose fingerprint differs is refused, never reused."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Sequence

import dspy

from .program import named_predictors
from .snapshot import to_jsonable


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value (any text, even a lone surrogate, hashes without error)."""
    blob = json.dumps(to_jsonable(value), sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()[:16]


def examples_digest(examples: Sequence[dspy.Example]) -> str:
    return digest([dict(ex.items()) for ex in examples])


def signatures_digest(program: dspy.Module) -> str:
    """Every predictor's fields (name, role, type, description, prefix) and demos; instructions are fingerprinted
    separately as the seed candidate."""
    described = []
    for name, predictor in named_predictors(program):
        signature = predictor.signature
        fields = []
        for role, group in (("input", signature.input_fields), ("output", signature.output_fields)):
            for field_name, field in group.items():
                extra = dict(field.json_schema_extra or {})
                fields.append([role, field_name, repr(field.annotation), extra.get("desc"), extra.get("prefix")])
        demos = [dict(d.items()) if hasattr(d, "items") else d for d in (getattr(predictor, "demos", None) or [])]
        described.append([name, fields, demos])
    return digest(described)


def metric_identity(metric: Callable[..., Any]) -> str:
    """The metric's qualified name where it has one (a function or a callable object's class)."""
    target = metric if hasattr(metric, "__qualname__") else type(metric)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(metric).__name__)}"


def run_identity(student: dspy.Module, metric: Callable[..., Any]) -> dict[str, str]:
    """The fingerprint entries gepa_dspy adds to the search settings."""
    return {"signatures": signatures_digest(student), "metric": metric_identity(metric)}
