"""The PAPILLON pipeline: a trusted model redacts, an untrusted model answers, the trusted model responds."""

from __future__ import annotations

from typing import Any

import dspy

#: Attribute names of the two optimizable steps; ``named_predictors()`` reports the redaction step
#: as ``craft_redacted_request.predict`` (it is a ChainOfThought) and the response step as
#: ``respond_to_query``. The metric routes predictor-level feedback by these prefixes.
REDACTION_STEP = "craft_redacted_request"
RESPONSE_STEP = "respond_to_query"


class CraftRedactedRequest(dspy.Signature):
    """Turn the user's query into a request for an external language model that is capable but must not
    learn anything private about the user or other people. Keep every detail the external model needs to
    do the task well, and remove or generalize private information: names of people and organizations
    tied to the user, contact details, addresses, identifiers, and anything else that could identify
    someone. The request should still make sense on its own."""

    user_query: str = dspy.InputField(desc="the user's original query; it may contain private information")
    redacted_request: str = dspy.OutputField(
        desc="the request to send to the external model, with the private information left out"
    )


class RespondToQuery(dspy.Signature):
    """You are the user's trusted assistant and can see their original query. An external model answered a
    privacy-preserving version of the query. Write the response the user should receive: use what the
    external answer got right, put back the details that were withheld from it, and fix anything it got
    wrong or missed."""

    user_query: str = dspy.InputField(desc="the user's original query")
    redacted_request: str = dspy.InputField(desc="the privacy-preserving request the external model received")
    untrusted_response: str = dspy.InputField(desc="the external model's answer to that request")
    response: str = dspy.OutputField(desc="the final response to the user's query")


class UntrustedModel:
    """A fixed call to the untrusted (external) LM: the redacted request is sent as the only user message.

    This is deliberately not a ``dspy.Predict``: the external API's prompt is not ours to optimize, so it must
    not appear in ``named_predictors()`` (which GEPA, MIPROv2 and BootstrapFewShot all rewrite). It is also
    not a ``dspy.Module`` or ``Parameter``, so ``dump_state``/``save`` skip it. Copies of the program share it
    (``__deepcopy__`` returns ``self``): it is a handle on an external service, not program state, and sharing
    keeps its call history in the one LM object the caller owns.
    """

    def __init__(self, lm: dspy.BaseLM | None = None) -> None:
        self.lm = lm

    def __deepcopy__(self, memo: dict[int, Any]) -> UntrustedModel:
        return self

    def resolve_lm(self) -> dspy.BaseLM:
        """The configured untrusted LM, else the LM currently configured in DSPy."""
        lm = self.lm if self.lm is not None else dspy.settings.lm
        if lm is None:
            raise RuntimeError(
                "pupa: no untrusted LM: pass make_program(untrusted_lm=dspy.LM(...)) or call dspy.configure(lm=...)"
            )
        return lm

    def __call__(self, request: str) -> str:
        """The untrusted LM's answer text to ``request``."""
        outputs = self.resolve_lm()(request)
        if not outputs:
            raise RuntimeError("pupa: the untrusted LM returned no output")
        first = outputs[0]
        # DSPy returns a dict instead of a string when the response carries extra parts (e.g. reasoning).
        text = first.get("text") if isinstance(first, dict) else first
        if not isinstance(text, str):
            raise RuntimeError(f"pupa: the untrusted LM returned no text: {first!r}")
        return text

    def __repr__(self) -> str:
        model = getattr(self.lm, "model", None) if self.lm is not None else "<dspy.settings.lm>"
        return f"UntrustedModel(lm={model})"


class PapillonProgram(dspy.Module):
    """Privacy-conscious delegation (PAPILLON, Li et al. 2025) as in the GEPA paper.

    Two optimizable steps run on the trusted model (whatever LM DSPy is configured with):
    ``craft_redacted_request`` (ChainOfThought) and ``respond_to_query`` (Predict). Between them, the
    untrusted model answers the redacted request with a fixed prompt. The returned prediction exposes
    ``redacted_request`` (what the untrusted model saw), ``untrusted_response`` and ``response``.
    """

    def __init__(self, untrusted_lm: dspy.BaseLM | None = None) -> None:
        super().__init__()
        self.craft_redacted_request = dspy.ChainOfThought(CraftRedactedRequest)
        self.respond_to_query = dspy.Predict(RespondToQuery)
        self.untrusted = UntrustedModel(untrusted_lm)

    def forward(self, user_query: str) -> dspy.Prediction:
        redacted_request = self.craft_redacted_request(user_query=user_query).redacted_request
        untrusted_response = self.untrusted(redacted_request)
        response = self.respond_to_query(
            user_query=user_query,
            redacted_request=redacted_request,
            untrusted_response=untrusted_response,
        ).response
        return dspy.Prediction(
            redacted_request=redacted_request,
            untrusted_response=untrusted_response,
            response=response,
        )


def make_program(untrusted_lm: dspy.BaseLM | None = None, **options: Any) -> PapillonProgram:
    """A fresh, unoptimized PAPILLON program.

    ``untrusted_lm`` is the external model that answers redacted requests; by default the LM configured in
    DSPy at call time (the local server plays the external API). PUPA takes no other options.
    """
    if options:
        raise TypeError(f"pupa.make_program got unknown option(s) {sorted(options)}; it only takes untrusted_lm")
    return PapillonProgram(untrusted_lm=untrusted_lm)
