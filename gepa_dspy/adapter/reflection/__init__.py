"""Reflection: from a predictor's stored runs and the metric's feedback to a new instruction.

One module per job:

- ``reflective_dataset``: the records (inputs, outputs, feedback) of one predictor, built from stored run
  outcomes only, so a live run and a resumed one give the same records;
- ``prompt``: our meta-prompt and how it shows the records and asks for the reply;
- ``reply_checks``: reading the reply, and the reasons a reply is rejected;
- ``reply_budget``: how long a reply may be, from the reflection LM's ``max_tokens``;
- ``usage``: counting reflection calls and tokens through DSPy's usage tracking;
- ``proposer``: ``ReflectionProposer``, which calls the reflection LM, checks, retries and counts.
"""

from .prompt import (INSTRUCTION_RESPONSE_FORMAT, MAX_FIELD_CHARS, META_PROMPT, REPLY_FORMATS, check_reply_format,
                     render_record, render_reflection_prompt)
from .proposer import ReflectionProposer, dataset_builder_for
from .reflective_dataset import MAX_CALLS_PER_EXAMPLE, ReflectiveDatasetBuilder, ReflectiveRecord
from .reply_checks import (MAX_COPIED_SHARE, PASTED_RUN_WORDS, check_text, copied_share, extract_instruction,
                           extract_json_instruction, pasted_records)

__all__ = [
    "INSTRUCTION_RESPONSE_FORMAT", "MAX_CALLS_PER_EXAMPLE", "MAX_COPIED_SHARE", "MAX_FIELD_CHARS", "META_PROMPT",
    "PASTED_RUN_WORDS", "pasted_records",
    "REPLY_FORMATS", "ReflectionProposer", "ReflectiveDatasetBuilder", "ReflectiveRecord", "check_reply_format",
    "check_text", "copied_share", "dataset_builder_for", "extract_instruction", "extract_json_instruction",
    "render_record", "render_reflection_prompt",
]
