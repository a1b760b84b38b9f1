"""How long a reflection reply may be, from the reflection LM's own settings.

A reply cut off at the LM's ``max_tokens`` is rejected, and paying for it again the same way buys nothing
(issue 32: a 1.5B reflection LM at ``max_tokens=256`` had 14 and 18 replies truncated per run). So the prompt asks
for an instruction that uses about half the cap, a retry after a truncation asks for half of that, and the tokens
one proposal may spend on reflection replies are bounded.
"""

from __future__ import annotations

from typing import Any

#: Generated tokens per English word, a round figure for the BPE vocabularies of common LMs.
TOKENS_PER_WORD = 1.4
#: Share of the LM's token cap the instruction should fill; the rest is room for the fence and for misjudged
#: lengths (LMs count words poorly).
CAP_SHARE = 0.5
#: The word limit asked for when the LM has no cap (or a large one): long enough for every rule a feedback
#: exposes, short enough to keep replies and child prompts cheap.
MAX_WORDS = 400
#: Never ask for fewer words than this, however small the cap.
MIN_WORDS = 25
#: Reflection reply tokens one proposal may spend, in multiples of the reply cap (the LM's, or the one implied
#: by ``MAX_WORDS``): a truncated reply and its shorter retry, or two or three short rejected replies.
PROPOSAL_TOKEN_BUDGET_CAPS = 2.0


def reply_token_cap(lm: Any) -> int | None:
    """The reflection LM's ``max_tokens`` (or ``max_completion_tokens``), or None when it sets none."""
    kwargs = getattr(lm, "kwargs", None) or {}
    for key in ("max_completion_tokens", "max_tokens"):
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


def instruction_word_limit(cap: int | None) -> int:
    """How many words to ask for: about ``CAP_SHARE`` of the cap, between ``MIN_WORDS`` and ``MAX_WORDS``."""
    if cap is None:
        return MAX_WORDS
    return max(MIN_WORDS, min(MAX_WORDS, int(cap * CAP_SHARE / TOKENS_PER_WORD)))


def proposal_token_budget(cap: int | None) -> int:
    """Reflection reply tokens one proposal may spend before it stops retrying."""
    reply_cap = cap if cap is not None else int(MAX_WORDS * TOKENS_PER_WORD / CAP_SHARE)
    return int(PROPOSAL_TOKEN_BUDGET_CAPS * reply_cap)
