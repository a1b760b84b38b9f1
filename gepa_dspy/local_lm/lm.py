"""Build a ``dspy.LM`` that talks to a llama-server through litellm's OpenAI-compatible client."""

from __future__ import annotations

import os
from typing import Any

from .endpoint import Endpoint

#: llama-server ignores the API key, but litellm's OpenAI client insists on one.
PLACEHOLDER_API_KEY = "local"

#: Cap on generated tokens unless the caller sets one: a 1.5B model that falls into a repetition loop
#: would otherwise generate until its context slot is full (minutes on 2 cores).
DEFAULT_MAX_TOKENS = 1024


def make_dspy_lm(endpoint: Endpoint, model_name: str = "local", **lm_kwargs: Any) -> Any:
    """A ``dspy.LM("openai/<model_name>")`` pointed at ``endpoint``; ``lm_kwargs`` go to ``dspy.LM``."""
    # litellm would otherwise fetch its price map from the internet on import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy

    lm_kwargs.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    lm_kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
    return dspy.LM(f"openai/{model_name}", api_base=endpoint.api_base, **lm_kwargs)
