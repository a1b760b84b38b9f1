"""Fast task ``ticket_router``: route a support ticket to one of the house's queues.

The seed instruction lists the queue names only. The house rules define what each queue takes and add the
exceptions a model does not guess: charges the customer did not make go to trust-safety, refunds for lost or
damaged parcels go to shipping, account closure goes to privacy, and enterprise tickets ([ENT]) about an
outage or sign-in go to priority.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import dspy


from .task import Case, FastTask, Rule, make_metric, splits_loader

QUEUES = ("billing", "access", "shipping", "outage", "privacy", "trust-safety", "priority", "general")

RULES = (
    Rule("billing", "Charges, invoices, prices and refunds go to billing."),
    Rule("access", "Sign-in problems (login, password, locked account, two-factor codes) go to access."),
    Rule("shipping", "Deliveries, parcels, couriers and tracking go to shipping."),
    Rule("outage", "A service that is down or failing for everyone goes to outage."),
    Rule("privacy", "Requests about personal data (copy, deletion, marketing consent) go to privacy."),
    Rule("general", "Anything else (questions, feedback, feature ideas) goes to general."),
    Rule("fraud", "Exception: a charge the customer says they did not make, or a stolen card, goes to "
                  "trust-safety, not billing."),
    Rule("parcel_refund", "Exception: a refund for a lost or damaged parcel goes to shipping, not billing."),
    Rule("closure", "Exception: a request to close or delete the whole account goes to privacy, not access."),
    Rule("enterprise", "Exception: a ticket tagged [ENT] about an outage or a sign-in problem goes to priority; "
                       "other [ENT] tickets follow the normal rules."),
)

#: Topic phrases per kind of ticket: (queue under the base rules, rule ids, phrases).
TOPICS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "billing": ("billing", ("billing",), (
        "I was charged twice for my subscription",
        "my invoice shows the wrong VAT number",
        "please send me a copy of last month's invoice",
        "the annual plan price went up without notice",
        "I want a refund for the months I did not use",
        "my discount code was not applied to the bill",
    )),
    "access": ("access", ("access",), (
        "I cannot log in since yesterday's update",
        "the password reset email never arrives",
        "my account is locked after too many attempts",
        "the two-factor code is always rejected",
        "I lost the phone with my authenticator app",
        "the login page says my password is wrong but it is not",
    )),
    "shipping": ("shipping", ("shipping",), (
        "my parcel has not arrived yet",
        "tracking has not updated for a week",
        "the courier left the parcel at the wrong address",
        "can I change the delivery address of my order",
        "the delivery was scheduled for a day I am away",
    )),
    "outage": ("outage", ("outage",), (
        "the dashboard shows error 503 for everyone in our team",
        "your website has been down for an hour",
        "every API request times out since this morning",
        "nobody in our office can load the app",
    )),
    "privacy": ("privacy", ("privacy",), (
        "please send me a copy of all the personal data you hold about me",
        "stop using my data for marketing",
        "I withdraw my consent to newsletters and profiling",
    )),
    "general": ("general", ("general",), (
        "do you offer a student discount",
        "I love the new design of the app",
        "could you add a dark mode",
        "what are your support hours on weekends",
        "is there a desktop version of the app",
    )),
    "fraud": ("trust-safety", ("fraud",), (
        "there is a charge of 49 EUR I never made",
        "someone used my stolen card on your site",
        "I do not recognise a payment on my statement from you",
        "my card was charged for an order I did not place",
    )),
    "parcel_refund": ("shipping", ("parcel_refund",), (
        "I want a refund because the parcel arrived broken",
        "refund please, the courier lost my package",
        "the package was damaged, I would like my money back",
    )),
    "closure": ("privacy", ("closure",), (
        "please close my account for good",
        "delete my whole account, I am leaving",
        "how do I permanently remove my account",
    )),
}

#: How often each kind of ticket is drawn: exceptions are frequent enough to matter in every split.
WEIGHTS = {"billing": 3, "access": 3, "shipping": 2, "outage": 2, "privacy": 1, "general": 2, "fraud": 2,
           "parcel_refund": 2, "closure": 2}

OPENERS = ("", "Hi, ", "Hello team, ", "Urgent: ", "Good morning, ", "Hey, ")
CLOSERS = ("", " Thanks.", " Please help.", " Order #{n}.", " Customer id {n}.", " Regards, {name}.")
NAMES = ("Ana", "Tom", "Priya", "Lukas", "Mei", "Omar", "Sara", "Jon")
ENTERPRISE_TAG = "[ENT] "
EXCEPTIONS = ("fraud", "parcel_refund", "closure", "enterprise")
#: Probability that a ticket carries the enterprise tag (most tagged tickets are not outages or sign-ins).
ENTERPRISE_P = 0.3


def route(kind: str, enterprise: bool) -> tuple[str, tuple[str, ...]]:
    """(queue, rules used) for a ticket of ``kind``, tagged [ENT] or not."""
    queue, rules = TOPICS[kind][0], TOPICS[kind][1]
    if enterprise and kind in ("outage", "access"):
        return "priority", rules + ("enterprise",)
    return queue, rules


def generate(rng: random.Random) -> Case:
    kinds = list(WEIGHTS)
    kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
    phrase = rng.choice(TOPICS[kind][2])
    enterprise = rng.random() < ENTERPRISE_P
    opener = rng.choice(OPENERS)
    closer = rng.choice(CLOSERS).format(n=rng.randint(1000, 99999), name=rng.choice(NAMES))
    body = phrase[0].upper() + phrase[1:] if not opener else phrase
    ticket = f"{ENTERPRISE_TAG if enterprise else ''}{opener}{body}.{closer}"
    queue, rules = route(kind, enterprise)
    return Case({"ticket": ticket}, queue, rules)


def solve(ticket: str) -> str:
    """The rule-following queue for ``ticket``, read from its text alone (the phrase tables and the tag)."""
    text = ticket.casefold()
    for kind, (_, _, phrases) in TOPICS.items():
        if any(p.casefold() in text for p in phrases):
            return route(kind, ticket.startswith(ENTERPRISE_TAG))[0]
    raise ValueError(f"ticket matches no known topic: {ticket!r}")


def naive_queue(ticket: str) -> str:
    """The queue a model guesses without the house rules: the surface topic, no exceptions."""
    text = ticket.casefold()
    for kind, (queue, _, phrases) in TOPICS.items():
        if any(p.casefold() in text for p in phrases):
            return {"fraud": "billing", "parcel_refund": "billing", "closure": "access"}.get(kind, queue)
    return "general"


def diagnose(gold: dspy.Example, given: str, pred: Any) -> Sequence[str]:
    """Blame the example's exception rules first, then the definition of the queue it belongs to."""
    rules = [r for r in gold.rules.split(",") if r]
    exceptions = [r for r in rules if r in EXCEPTIONS]
    return exceptions + [r for r in rules if r not in exceptions]


TASK = FastTask(name="ticket_router", rules=RULES, input_fields=("ticket",), output_field="queue",
                generate=generate, diagnose=diagnose, case_sensitive=False)


class RouteTicket(dspy.Signature):
    """Route the support ticket to the right team queue. The queues are: billing, access, shipping, outage,
    privacy, trust-safety, priority, general."""

    ticket: str = dspy.InputField()
    queue: str = dspy.OutputField(desc="one queue name")


def make_program() -> dspy.Module:
    """A fresh, unoptimized router: one ``dspy.Predict``."""
    return dspy.Predict(RouteTicket)


load_splits = splits_loader(TASK)


metric = make_metric(TASK)
