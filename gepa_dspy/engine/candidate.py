"""Candidates: a mapping from predictor (component) name to its instruction text."""

from __future__ import annotations

import hashlib
import json
from typing import Mapping

Candidate = dict[str, str]


def candidate_key(candidate: Mapping[str, str]) -> str:
    """A stable content hash of a candidate: equal instructions give equal keys.

    ``surrogatepass`` lets a lone surrogate (which JSON can carry from a server) hash without error; valid text
    encodes exactly as plain UTF-8, so keys of existing journals are unchanged.
    """
    blob = json.dumps(dict(candidate), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def repaired_text(text: str) -> str:
    """``text`` with every lone surrogate (not valid Unicode: no LM or signature accepts it) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
