"""Fast task ``due_date`` (two predictors): find an invoice's due date, then write it in the house format.

``extract`` reads the message and returns the date as written; ``normalise`` rewrites that text as
``DD-MMM-YYYY`` (``07-APR-2024``). Messages may carry two dates (issued and due); slash dates are day first;
two-digit years are 20YY; a date without a year is in 2025. The seed instructions say none of that. The
metric scores the final date and names the broken rule; its feedback quotes what ``extract`` returned, so a
reflection step can tell which predictor went wrong.
"""

from __future__ import annotations

import datetime
import random
import re
from typing import Any, Sequence

import dspy


from .task import Case, FastTask, Rule, make_metric, splits_loader

NO_YEAR_MEANS = 2025
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MONTH_INDEX = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}

RULES = (
    Rule("due", "Use the payment due date (due, pay by, payable before), never the date the invoice was issued "
                "or sent."),
    Rule("format", "Write the date as DD-MMM-YYYY: two-digit day, the month's first three letters in capitals, "
                   "four-digit year (07-APR-2024)."),
    Rule("slash", "Numeric dates with slashes are day/month/year: 03/04/2024 is 3 April 2024."),
    Rule("short_year", "A two-digit year means 20YY: 17/04/24 is in 2024."),
    Rule("no_year", f"A date written without a year is in {NO_YEAR_MEANS}."),
)

STYLES = ("long", "us_long", "slash", "slash_short", "no_year", "iso")
DUE_STYLE_WEIGHTS = (2, 2, 3, 2, 2, 1)
DUE_PHRASES = ("payment due {d}", "due {d}", "pay by {d}", "payable before {d}")
ISSUE_PHRASES = ("issued {d}", "sent {d}", "dated {d}")
TEMPLATES_TWO = ("Invoice {ref} {issue}; {due}.", "Reminder for {ref}: {due} ({issue}).",
                 "{Due} for invoice {ref}, {issue}.", "Invoice {ref}, {issue}, {due}.")
TEMPLATES_ONE = ("Invoice {ref}: {due}.", "Reminder: {due}, ref {ref}.", "{Due}. Ref {ref}.")


def render(date: datetime.date, style: str) -> str:
    """``date`` written in ``style`` (one of ``STYLES``)."""
    month = MONTHS[date.month - 1]
    if style == "long":
        return f"{date.day} {month} {date.year}"
    if style == "us_long":
        return f"{month} {date.day}, {date.year}"
    if style == "slash":
        return f"{date.day:02d}/{date.month:02d}/{date.year}"
    if style == "slash_short":
        return f"{date.day:02d}/{date.month:02d}/{date.year % 100:02d}"
    if style == "no_year":
        return f"{date.day} {month[:3]}"
    if style == "iso":
        return date.isoformat()
    raise ValueError(f"unknown date style {style!r}")


def house(date: datetime.date) -> str:
    return f"{date.day:02d}-{MONTHS[date.month - 1][:3].upper()}-{date.year}"


def _random_date(rng: random.Random, year: int) -> datetime.date:
    return datetime.date(year, rng.randint(1, 12), rng.randint(1, 28))


def generate(rng: random.Random) -> Case:
    style = rng.choices(STYLES, weights=DUE_STYLE_WEIGHTS)[0]
    due = _random_date(rng, NO_YEAR_MEANS if style == "no_year" else rng.randint(2023, 2027))
    ref = f"INV-{rng.randint(100, 9999)}"
    due_text = rng.choice(DUE_PHRASES).format(d=render(due, style))
    rules = ["format"] + {"slash": ["slash"], "slash_short": ["slash", "short_year"], "no_year": ["no_year"]}.get(style, [])
    if rng.random() < 0.65:
        issue = due - datetime.timedelta(days=rng.randint(5, 60))
        issue_style = rng.choice(("long", "us_long", "slash", "iso") if style != "no_year" else ("no_year", "long"))
        issue_text = rng.choice(ISSUE_PHRASES).format(d=render(issue, issue_style))
        message = rng.choice(TEMPLATES_TWO).format(ref=ref, issue=issue_text, due=due_text,
                                                   Due=due_text[0].upper() + due_text[1:])
        rules.insert(0, "due")
    else:
        message = rng.choice(TEMPLATES_ONE).format(ref=ref, due=due_text, Due=due_text[0].upper() + due_text[1:])
    return Case({"message": message}, house(due), tuple(rules))


DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(\d{1,2})-([A-Za-z]{3,9})-(\d{2,4})\b"), "dmy_name"),
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "iso"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b"), "dmy"),
    (re.compile(r"\b([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b"), "mdy_name"),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?(?: of)? ([A-Za-z]{3,9})\.?,?(?: (\d{4}))?\b"), "dmy_name_opt"),
)


def _year(text: str | None) -> int:
    if not text:
        return NO_YEAR_MEANS
    value = int(text)
    return 2000 + value if value < 100 else value


def parse_date(text: str) -> datetime.date | None:
    """The first date in ``text`` in any style this task writes or a model commonly answers with; None if none.

    Slash dates are read day first and two-digit years as 20YY (the house rules).
    """
    for pattern, kind in DATE_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        try:
            if kind == "iso":
                return datetime.date(int(match[1]), int(match[2]), int(match[3]))
            if kind == "dmy":
                return datetime.date(_year(match[3]), int(match[2]), int(match[1]))
            if kind == "mdy_name":
                month = MONTH_INDEX.get(match[1].lower())
                if month is None:
                    continue
                return datetime.date(int(match[3]), month, int(match[2]))
            month = MONTH_INDEX.get(match[2].lower())
            if month is None:
                continue
            return datetime.date(_year(match[3]), month, int(match[1]))
        except ValueError:
            continue
    return None


DUE_MARKER = re.compile(r"\b(?:payment due|due|pay by|payable before) ", re.IGNORECASE)
ISSUE_MARKER = re.compile(r"\b(?:issued|sent|dated) ", re.IGNORECASE)


def _date_after(message: str, marker: re.Pattern[str], other: re.Pattern[str]) -> datetime.date | None:
    """The first date after ``marker`` in ``message``, read up to where ``other`` starts."""
    for match in marker.finditer(message):
        rest = message[match.end():]
        stop = other.search(rest)
        date = parse_date(rest[:stop.start()] if stop else rest)
        if date is not None:
            return date
    return None


def solve(message: str) -> str:
    """The house form of the due date in ``message``, read from its text alone."""
    date = _date_after(message, DUE_MARKER, ISSUE_MARKER)
    if date is None:
        raise ValueError(f"no due date found in {message!r}")
    return house(date)


def naive_date(message: str) -> str:
    """What a model writes without the house rules: the first date in the message, ISO style."""
    date = parse_date(message)
    return date.isoformat() if date else ""


def _issue_date(message: str) -> datetime.date | None:
    return _date_after(message, ISSUE_MARKER, DUE_MARKER)


def diagnose(gold: dspy.Example, given: str, pred: Any) -> Sequence[str]:
    """Name the rule the answer breaks: a right date in another format, the issue date, day and month
    swapped, or the wrong century or year."""
    rules = [r for r in gold.rules.split(",") if r]
    expected = parse_date(gold.due_date)
    answer = parse_date(given)
    if answer is None or expected is None:
        return ["format"]
    if answer == expected:
        return ["format"]
    issue = _issue_date(gold.message)
    if issue is not None and answer == issue:
        return ["due"] + (["format"] if given != house(issue) else [])
    broken = []
    if (answer.day, answer.month) == (expected.month, expected.day) or (
            "slash" in rules and answer.day == expected.month):
        broken.append("slash")
    if answer.year != expected.year:
        broken += [r for r in ("short_year", "no_year") if r in rules] or ["format"]
    if given != house(answer):
        broken.append("format")
    return broken or rules


TASK = FastTask(name="due_date", rules=RULES, input_fields=("message",), output_field="due_date",
                generate=generate, diagnose=diagnose, case_sensitive=True)


class ExtractDate(dspy.Signature):
    """Find the date in the message."""

    message: str = dspy.InputField()
    date_text: str = dspy.OutputField(desc="the date as written in the message")


class NormaliseDate(dspy.Signature):
    """Write the date in the standard format."""

    date_text: str = dspy.InputField()
    due_date: str = dspy.OutputField(desc="the date in the standard format")


class DueDateProgram(dspy.Module):
    """Two ``dspy.Predict`` steps: ``extract`` picks the date out of the message, ``normalise`` formats it."""

    def __init__(self) -> None:
        super().__init__()
        self.extract = dspy.Predict(ExtractDate)
        self.normalise = dspy.Predict(NormaliseDate)

    def forward(self, message: str) -> dspy.Prediction:
        date_text = self.extract(message=message).date_text
        due_date = self.normalise(date_text=date_text).due_date
        return dspy.Prediction(date_text=date_text, due_date=due_date)


#: Predictor names as ``program.named_predictors()`` reports them.
PREDICTORS = ("extract", "normalise")


def make_program() -> dspy.Module:
    """A fresh, unoptimized two-step program."""
    return DueDateProgram()


load_splits = splits_loader(TASK)


metric = make_metric(TASK, step_fields=("date_text",))
