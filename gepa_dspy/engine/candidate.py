"""Candidates: a mapping from predictor (component) name to its instruction text."""

from __future__ import annotations

import hashlib
import json
from typing import Mapping

Candidate = dict[str, str]


def candidate_key(candidate: Mapping[str, str]) -> str:
    """A stable content hash of a candidate: equal instructions give equal keys."""
    blob = json.dumps(dict(candidate), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]
