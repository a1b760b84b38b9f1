"""Fast task ``expense_policy``: decide an expense claim (approve, review or reject) by the house policy.

The seed instruction names the three decisions only. The policy: alcohol is always rejected, claims over
150 EUR are reviewed, client meals have a 400 EUR limit instead, and a claim without a receipt is reviewed
unless it is 25 EUR or less. Edge cases sit on the limits (exactly 150, 400 or 25 EUR are within them).
"""

from __future__ import annotations

import random
import re
from typing import Any, Sequence

import dspy


from .task import Case, FastTask, Rule, make_metric, splits_loader

DECISIONS = ("approve", "review", "reject")
LIMIT = 150
CLIENT_LIMIT = 400
NO_RECEIPT_LIMIT = 25

RULES = (
    Rule("alcohol", "Any claim that includes alcohol (wine, beer, bar, drinks) is rejected, whatever else holds."),
    Rule("limit", f"A claim over {LIMIT} EUR goes to review; exactly {LIMIT} EUR is within the limit."),
    Rule("client", f"Client meals (the claim mentions a client) have a limit of {CLIENT_LIMIT} EUR instead of "
                   f"{LIMIT} EUR."),
    Rule("receipt", f"A claim without a receipt goes to review, unless it is {NO_RECEIPT_LIMIT} EUR or less, "
                    f"which is approved."),
    Rule("approve", "Every other claim is approved."),
)

ITEMS = ("taxi to the airport", "train ticket to Lyon", "hotel night in Porto", "team lunch", "office chairs",
         "conference fee", "software licence", "parking at the station", "printer toner", "flight to Berlin",
         "coworking day pass", "books for the team")
CLIENT_ITEMS = ("client dinner", "lunch with a client", "coffee with a client", "client breakfast meeting")
ALCOHOL_ITEMS = ("wine at the team dinner", "hotel bar bill", "beer for the office party",
                 "champagne for the launch", "drinks with a client", "wine with a client dinner")
RECEIPT_YES = ("receipt attached", "with receipt", "receipt: yes")
RECEIPT_NO = ("no receipt", "receipt lost", "receipt: none")
#: Amount bands (low, high) and edge values, drawn so every rule and edge shows up in each split.
BANDS = ((4, 25), (26, 149), (151, 399), (401, 900))
EDGES = (25, 26, 150, 151, 400, 401)


def decide(item: str, amount: int, receipt: bool) -> tuple[str, tuple[str, ...]]:
    """(decision, rules used) for a claim."""
    alcohol = item in ALCOHOL_ITEMS
    client = "client" in item
    if alcohol:
        return "reject", ("alcohol",) + (("client",) if client and amount > LIMIT else ())
    limit = CLIENT_LIMIT if client else LIMIT
    client_rules: tuple[str, ...] = ("client",) if client and amount > LIMIT else ()
    if amount > limit:
        return "review", ("limit",) + client_rules
    if not receipt and amount > NO_RECEIPT_LIMIT:
        return "review", ("receipt",) + client_rules
    if not receipt:
        return "approve", ("receipt",) + client_rules
    return "approve", ("approve",) + client_rules + (("limit",) if amount == LIMIT else ())


def generate(rng: random.Random) -> Case:
    pool = rng.choices((ITEMS, CLIENT_ITEMS, ALCOHOL_ITEMS), weights=(5, 3, 2))[0]
    item = rng.choice(pool)
    if rng.random() < 0.2:
        amount = rng.choice(EDGES)
    else:
        low, high = rng.choice(BANDS)
        amount = rng.randint(low, high)
    receipt = rng.random() < 0.6
    note = rng.choice(RECEIPT_YES if receipt else RECEIPT_NO)
    claim = f"{item[0].upper()}{item[1:]}, {amount} EUR, {note}"
    decision, rules = decide(item, amount, receipt)
    return Case({"claim": claim}, decision, rules)


CLAIM = re.compile(r"^(?P<item>.+), (?P<amount>\d+) EUR, (?P<note>.+)$")


def solve(claim: str) -> str:
    """The policy's decision for ``claim``, read from its text alone."""
    match = CLAIM.match(claim)
    if match is None:
        raise ValueError(f"not a claim line: {claim!r}")
    item = match["item"][0].lower() + match["item"][1:]
    return decide(item, int(match["amount"]), match["note"] in RECEIPT_YES)[0]


def naive_decision(claim: str) -> str:
    """What a model guesses without the policy: approve, except large amounts go to review."""
    match = CLAIM.match(claim)
    return "review" if match and int(match["amount"]) > 500 else "approve"


def diagnose(gold: dspy.Example, given: str, pred: Any) -> Sequence[str]:
    """The rules that decided this claim, the decisive one first."""
    return [r for r in gold.rules.split(",") if r]


TASK = FastTask(name="expense_policy", rules=RULES, input_fields=("claim",), output_field="decision",
                generate=generate, diagnose=diagnose, case_sensitive=False)


class DecideClaim(dspy.Signature):
    """Decide what to do with the expense claim: approve, review or reject."""

    claim: str = dspy.InputField()
    decision: str = dspy.OutputField(desc="approve, review or reject")


def make_program() -> dspy.Module:
    """A fresh, unoptimized expense checker: one ``dspy.Predict``."""
    return dspy.Predict(DecideClaim)


load_splits = splits_loader(TASK)


metric = make_metric(TASK)
