"""A user's ``instruction_proposer`` (the ``dspy.GEPA`` calling convention) as the engine's ``Proposer``.

``dspy.GEPA(instruction_proposer=fn)`` calls
``fn(candidate=..., reflective_dataset=..., components_to_update=[...])`` with the reflection LM configured
and reads ``{component: new_text}`` back. ``reflective_dataset`` maps each component to a list of records
``{"Inputs": {...}, "Generated Outputs": {...}, "Feedback": "..."}``, one per run of the minibatch. The
values are strings, except ``dspy.Type`` inputs such as ``dspy.Image``, which are passed as the objects
themselves (rebuilt from the stored run, fresh or resumed), so multimodal proposers keep working. A
``dspy.History`` input (``dspy.ReActV2``'s trajectory) is passed as the ``"Context"`` string, as ``dspy.GEPA``
does; DSPy's own ``InstructionProposer`` gets the objects (see ``dspy_style_record``).

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
from .reflection.usage import ReflectionUsage

logger = logging.getLogger("gepa_dspy")


class InstructionProposerFn(Protocol):
    """``dspy.GEPA``'s ``instruction_proposer`` protocol: new texts for the components it was asked about."""

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]: ...


def history_context(history: dspy.History) -> str:
    """A ``dspy.History`` as the ``Context`` string ``dspy.GEPA`` gives custom proposers: a json-fenced list of the
    messages, one ``  i: message`` line each."""
    lines = "".join(f"  {i}: {message}\n" for i, message in enumerate(history.messages))
    return f"```json\n{lines}```"


def dspy_style_record(record: ReflectiveRecord, *, keep_objects: bool = False) -> dict[str, Any]:
    """One record in the shape ``dspy.GEPA`` gives proposers.

    For a custom proposer (``keep_objects=False``) values are strings, except ``dspy.Type`` inputs such as
    ``dspy.Image``, kept as objects. A ``dspy.History`` input (``dspy.ReActV2``'s trajectory) becomes the first
    input, ``"Context"``, rendered by ``history_context``. DSPy's own ``InstructionProposer`` (``keep_objects=True``)
    gets every input and output as the object the program passed, the ``History`` under ``"Context"``, so its
    ``truncate_history_outputs`` can shorten tool results.
    """
    raw_inputs = record.raw_inputs if record.raw_inputs is not None else record.inputs
    raw_outputs = record.raw_outputs if record.raw_outputs is not None else record.outputs
    inputs: dict[str, Any] = {}
    history_keys = [key for key, value in raw_inputs.items() if isinstance(value, dspy.History)]
    if history_keys:
        history = raw_inputs[history_keys[0]]
        inputs["Context"] = history if keep_objects else history_context(history)
    for key, value in raw_inputs.items():
        if key in history_keys[:1]:
            continue
        inputs[key] = value if keep_objects or isinstance(value, dspy.Type) else str(value)
    outputs = {key: value if keep_objects else str(value) for key, value in raw_outputs.items()}
    return {"Inputs": inputs, "Generated Outputs": outputs, "Feedback": record.feedback}


def is_dspy_instruction_proposer(fn: Any) -> bool:
    """Whether ``fn`` is DSPy's own ``InstructionProposer`` (dspy >= 3.4), which reads records as objects."""
    try:
        from dspy.teleprompt.gepa import InstructionProposer
    except ImportError:
        return False
    return isinstance(fn, InstructionProposer)


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
        self.dataset = records.dataset
        self.max_attempts = max(1, int(max_attempts))
        self.ignored_components = 0
        self.keep_objects = is_dspy_instruction_proposer(fn)
        self.usage = ReflectionUsage()

    def reflection_counters(self) -> dict[str, int]:
        """Reflection LM calls and tokens the user's function spent (as far as DSPy's usage tracking sees them)."""
        counters = self.usage.as_counters()
        return {
            "reflection_lm_calls": counters["reflection_lm_calls"],
            "reflection_prompt_tokens": counters["reflection_prompt_tokens"],
            "reflection_completion_tokens": counters["reflection_completion_tokens"],
            "reflection_untyped_values": self.dataset.counters["untyped_values"],
        }

    # The built-in proposer's dataset builder makes the records, so its counters are this proposer's too.
    feedback_fallbacks = ReflectionProposer.feedback_fallbacks
    score_mismatches = ReflectionProposer.score_mismatches

    def propose(self, candidate: Candidate, component: str, runs: Sequence[tuple[str, Outcome]]) -> ProposalResult:
        # One record per run, as dspy.GEPA gives custom proposers.
        records = self.dataset.build(candidate, component, runs, max_calls_per_example=1)
        if not records:
            return ProposalResult(text=None, rejections=["no_records"])
        dataset = {component: [dspy_style_record(r, keep_objects=self.keep_objects) for r in records]}
        rejections: list[str] = []
        for _ in range(self.max_attempts):
            try:
                with dspy.context(lm=self.lm), self.usage.measure():
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
