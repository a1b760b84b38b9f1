"""Deterministic stand-in LMs for ``quickstart.ipynb`` (no model, no server, runs in milliseconds).

``tests/test_notebooks.py`` runs the quickstart with ``GEPA_DSPY_NOTEBOOK_LM=scripted``, which makes the
notebook take its LMs from ``scripted_receipt_lms()`` instead of the embedded llama.cpp server. You can use
the same switch to click through the notebook on a machine without the local model.

The scripted task LM answers the receipt-total task (``gepa_dspy.demo``) and follows three conventions only
when the instruction it is given contains their key phrase, so what the reflection step adds changes the scores:

* ``ISO 4217``: write the currency as its three-letter code (otherwise as a symbol, e.g. ``$24.95``);
* ``two decimals``: print the amount with exactly two decimals (otherwise ``1450`` instead of ``1450.00``);
* ``final total``: answer the final amount even when the message also mentions a subtotal, tip, refund
  or earlier quote (otherwise the first amount in the message, often the wrong one).

The scripted reflection LM reads the current instruction and the feedback out of GEPA's reflection
prompt and returns the instruction with one more sentence: the "final total" rule when the feedback reports a
wrong amount, else the format rule (ISO 4217 code, two decimals) when the feedback asks for it.
"""

from __future__ import annotations

from typing import Any

from gepa_dspy.demo import RECEIPTS, parse_amount
from gepa_dspy.testing import ScriptedLM, format_chat_adapter_reply, parse_input_fields, parse_instructions

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}

# (phrase in the metric feedback that calls for the rule, sentence the reflection LM adds to the instruction).
# The first rule fixes wrong amounts, the second the format; either one alone raises some example's score.
RULES = (
    (
        "not a subtotal",
        "Report the final total actually paid, after tips, discounts and fees, never a subtotal or earlier quote.",
    ),
    (
        "ISO 4217",
        "Answer with the three-letter ISO 4217 currency code (USD, EUR, GBP, JPY, CHF, INR), one space and the "
        "amount with no thousands separators and exactly two decimals, e.g. EUR 1299.00.",
    ),
)

_GOLD = dict(RECEIPTS)


def scripted_task_answer(message: str, instruction: str) -> str:
    """What the scripted task LM answers for ``message`` under ``instruction``."""
    code, gold_amount = _GOLD[message].split(" ")
    amount = float(gold_amount)
    if "final total" not in instruction:
        first = parse_amount(message)
        amount = first if first is not None else amount
    number = f"{amount:.2f}" if "two decimals" in instruction else f"{amount:g}"
    return f"{code} {number}" if "ISO 4217" in instruction else f"{SYMBOLS[code]}{number}"


def _task_responder(messages: list[dict[str, Any]], model: str) -> str:
    message = parse_input_fields(messages)["message"]
    return format_chat_adapter_reply({"total": scripted_task_answer(message, parse_instructions(messages))})


def _between(text: str, start: str, end: str) -> str:
    _, found, rest = text.partition(start)
    return rest.partition(end)[0].strip() if found else ""


def _reflection_responder(messages: list[dict[str, Any]], model: str) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in messages)
    current = _between(prompt, "<<<CURRENT INSTRUCTION>>>", "<<<END>>>")
    feedback = " ".join(line for line in prompt.splitlines() if line.startswith("Feedback:"))
    new = current
    for trigger, sentence in RULES:
        if sentence not in current and trigger in feedback:
            new = f"{current} {sentence}"
            break
    return f"```text\n{new}\n```"


def scripted_receipt_lms() -> tuple[ScriptedLM, ScriptedLM]:
    """``(task_lm, reflection_lm)``: scripted stand-ins for the local model, see the module docstring."""
    return ScriptedLM(_task_responder, model="scripted-task"), ScriptedLM(_reflection_responder, model="scripted-reflection")
