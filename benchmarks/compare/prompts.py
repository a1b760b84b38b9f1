"""What an optimized program says to the LM: instructions and demos per predictor, and their lengths."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import dspy


@dataclass
class PredictorPrompt:
    """One predictor's optimized instruction and few-shot demos, with lengths."""

    name: str
    instruction: str
    instruction_chars: int
    instruction_tokens: int
    demos: int
    demo_chars: int
    demo_tokens: int


@functools.lru_cache(maxsize=1)
def token_counter() -> tuple[str, Callable[[str], int]]:
    """``(name, count)``: tiktoken's ``cl100k_base`` if it loads offline, else a whitespace word count.

    tiktoken needs its BPE file; LiteLLM ships a copy, used here when ``TIKTOKEN_CACHE_DIR`` is unset.
    cl100k_base is OpenAI's tokenizer, a proxy for any model's (Qwen's tokenizer counts differ a little).
    """
    try:
        import tiktoken

        if "TIKTOKEN_CACHE_DIR" not in os.environ:
            spec = importlib.util.find_spec("litellm")
            if spec is not None and spec.origin is not None:
                bundled = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
                if bundled.is_dir():
                    os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
        encoding = tiktoken.get_encoding("cl100k_base")
        return "tiktoken:cl100k_base", lambda text: len(encoding.encode(text, disallowed_special=()))
    except Exception:  # no tiktoken, or no offline BPE file: fall back to words
        return "whitespace", lambda text: len(text.split())


def _demo_text(demo: Any) -> str:
    data = dict(demo.items()) if hasattr(demo, "items") else demo
    return json.dumps(data, ensure_ascii=False, default=str)


def predictor_prompts(program: dspy.Module) -> list[PredictorPrompt]:
    """Instruction and demos of every predictor of ``program``, in ``named_predictors()`` order."""
    _, count = token_counter()
    out = []
    for name, predictor in program.named_predictors():
        instruction = str(predictor.signature.instructions)
        demos = list(getattr(predictor, "demos", []) or [])
        demo_text = "\n".join(_demo_text(d) for d in demos)
        out.append(PredictorPrompt(
            name=name, instruction=instruction, instruction_chars=len(instruction),
            instruction_tokens=count(instruction), demos=len(demos), demo_chars=len(demo_text),
            demo_tokens=count(demo_text) if demo_text else 0,
        ))
    return out


def prompt_summary(program: dspy.Module) -> dict[str, Any]:
    """The record's ``prompts`` section: per-predictor details, totals and the tokenizer used."""
    tokenizer, _ = token_counter()
    parts = predictor_prompts(program)
    return {
        "tokenizer": tokenizer,
        "instructions": {p.name: p.instruction for p in parts},
        "predictors": [asdict(p) for p in parts],
        "instruction_chars": sum(p.instruction_chars for p in parts),
        "instruction_tokens": sum(p.instruction_tokens for p in parts),
        "demos": sum(p.demos for p in parts),
        "demo_chars": sum(p.demo_chars for p in parts),
        "demo_tokens": sum(p.demo_tokens for p in parts),
    }
