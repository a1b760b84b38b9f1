"""Everything DSPy-specific: building programs from candidates, running them with traces, reflection."""

from .custom_proposer import CustomInstructionProposer, InstructionProposerFn
from .evaluation import DSPyEvaluator
from .feedback import ScoreWithFeedback, normalize_metric_result
from .program import build_program, named_predictors, seed_candidate
from .reflection import ReflectionProposer, extract_instruction, render_reflection_prompt

__all__ = [
    "DSPyEvaluator", "ScoreWithFeedback", "normalize_metric_result", "build_program", "named_predictors",
    "seed_candidate", "ReflectionProposer", "extract_instruction", "render_reflection_prompt",
    "CustomInstructionProposer", "InstructionProposerFn",
]
