"""A user's ``instruction_proposer`` (the ``dspy.GEPA`` calling convention) as the engine's ``Proposer``.

``dspy.GEPA(instruction_proposer=fn)`` calls
``fn(candidate=..., reflective_dataset=..., components_to_update=[...])`` with the reflection LM configured
and reads ``{component: new_text}`` back. ``reflective_dataset`` maps each component to a list of records
``{"Inputs": {...}, "Generated Outputs": {...}, "Feedback": "..."}``. The values are strings, except
``dspy.Type`` inputs such as ``dspy.Image``, which are passed as the objects themselves (when the run is
still in memory), so multimodal proposers keep working.

The engine proposes one component at a time, so ``components_to_update`` always holds one name, also with
``component_selector="all"`` (then the function is called once per component). With
``num_parallel_proposals`` > 1 it may be called from several threads at once.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Protocol, Sequence

import dspy

from ..engine.candidate import Candidate
from ..engine.protocols import ProposalResult
from ..engine.records import Outcome
from .reflection import ReflectionProposer, ReflectiveRecord

logger = logging.getLogger("gepa_dspy")


class InstructionProposerFn(Protocol):
    """``dspy.GEPA``'s ``instruction_proposer`` protocol: new texts for the components it was asked about."""

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]: ...


def dspy_style_record(record: ReflectiveRecord) -> dict[str, Any]:
    """One record in the shape ``dspy.GEPA`` gives custom proposers (strings, ``dspy.Type`` objects kept)."""
    inputs: dict[str, Any] = {}
    for key, value in record.inputs.items():
        raw = record.raw_inputs.get(key, value) if record.raw_inputs is not None else value
        inputs[key] = raw if isinstance(raw, dspy.Type) else str(raw)
    return {
        "Inputs": inputs,
        "Generated Outputs": {key: str(value) for key, value in record.outputs.items()},
        "Feedback": record.feedback,
    }


class CustomInstructionProposer:
    """Implements the engine's ``Proposer`` by calling a user's ``instruction_proposer`` function.

    Records and feedback come from the built-in ``ReflectionProposer`` (the same metric calls with
    ``pred_name``/``pred_trace``); only the writing of the instruction is the user's. A function that raises
    is retried up to ``max_attempts`` times and counted (``proposer_error``). A reply that leaves the component
    out or returns it unchanged or blank is counted (``omitted``, ``unchanged``, ``blank``) and not retried: the
    function saw the same inputs. A reply of the wrong type is a programming mistake and raises ``TypeError``.
    Texts for components it was not asked about are ignored and counted in ``ignored_components`` (logged once).
    """

    def __init__(self, fn: InstructionProposerFn, reflection_lm: dspy.BaseLM, records: ReflectionProposer,
                 *, max_attempts: int = 3) -> None:
        if not callable(fn):
            raise TypeError(f"instruction_proposer must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.lm = reflection_lm
        self.records = records
        self.max_attempts = max(1, int(max_attempts))
        self.ignored_components = 0

    @property
    def feedback_fallbacks(self) -> int:
        return self.records.feedback_fallbacks

    @property
    def score_mismatches(self) -> int:
        return self.records.score_mismatches

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult:
        # One record per run, as dspy.GEPA gives custom proposers.
        records = self.records.dataset.build(candidate, component, runs, max_calls_per_example=1)
        if not records:
            return ProposalResult(text=None, rejections=["no_records"])
        dataset = {component: [dspy_style_record(r) for r in records]}
        rejections: list[str] = []
        for _ in range(self.max_attempts):
            try:
                with dspy.context(lm=self.lm):
                    reply = self.fn(candidate=dict(candidate), reflective_dataset=dataset, components_to_update=[component])
            except Exception as exc:  # noqa: BLE001 - e.g. the proposer's own LM call failed: retried, then counted
                logger.warning("GEPA: instruction_proposer raised %s: %s", type(exc).__name__, exc)
                rejections.append("proposer_error")
                continue
            text, reason = self._read(reply, component)
            if text is None:
                logger.info("GEPA: instruction_proposer gave no usable text for %r (%s)", component, reason)
                return ProposalResult(text=None, rejections=rejections + [reason])
            if text.strip() == candidate[component].strip():
                return ProposalResult(text=None, rejections=rejections + ["unchanged"])
            return ProposalResult(text=text, rejections=rejections)
        return ProposalResult(text=None, rejections=rejections)

    def _read(self, reply: Any, component: str) -> tuple[str | None, str]:
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        if not isinstance(reply, Mapping):
            raise TypeError(f"instruction_proposer {name} must return a dict {{component name: new text}}, "
                            f"got {type(reply).__name__}")
        extra = sorted(str(k) for k in reply if k != component)
        if extra:
            self.ignored_components += len(extra)
            if self.ignored_components == len(extra):  # the first time only; every one is counted
                logger.warning("GEPA: instruction_proposer returned text for %s, but was asked only about %r; "
                               "such texts are ignored (counted in instruction_proposer_ignored_components)",
                               extra, component)
        if component not in reply:
            return None, "omitted"
        text = reply[component]
        if not isinstance(text, str):
            raise TypeError(f"instruction_proposer {name} returned a {type(text).__name__} for {component!r}; "
                            "the new instruction must be a str")
        if not text.strip():
            return None, "blank"
        return text.strip(), "ok"
