"""`gepa-dspy demo`: optimize a small receipt-total extractor with GEPA on the embedded local LM.

The task is ours: read a short payment message and answer with the total actually charged, written as
``<ISO 4217 code> <amount with two decimals>`` (e.g. ``EUR 1299.00``). The starting instruction does not
state that format, so a small model answers ``€1,299`` or ``1299 euros`` and gets partial credit; the
metric's feedback spells out what was wrong, which is what GEPA's reflection turns into a better instruction.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

# (message, expected answer). Written for this demo; amounts and wording are invented.
RECEIPTS: tuple[tuple[str, str], ...] = (
    ("Thanks for shopping at Green Grocer! Subtotal $23.10, tax $1.85. Total charged: $24.95.", "USD 24.95"),
    ("Your ride to the airport cost €31.40 including a €3.00 tip.", "EUR 31.40"),
    ("Invoice #4471: consulting, 12 hours. Amount due: $1,450.", "USD 1450.00"),
    ("Hotel Bellevue, 2 nights. Total: 1.299,00 €", "EUR 1299.00"),
    ("Paid £7.5 for two coffees at the station.", "GBP 7.50"),
    ("Tokyo Metro pass purchased: ¥12,000 charged to your card.", "JPY 12000.00"),
    ("Gym membership renewal: CHF 89.- debited on 3 May.", "CHF 89.00"),
    ("Order shipped! Items: 3. Grand total ₹2,499 (incl. GST).", "INR 2499.00"),
    ("Refund of $15.00 processed; your new total charged is $60.25.", "USD 60.25"),
    ("Dinner for four came to 212.80 dollars before the tip; with the tip we paid 250 dollars.", "USD 250.00"),
    ("Parking fine: €40. Pay within 14 days.", "EUR 40.00"),
    ("Annual software licence renewed for USD 2,399.99.", "USD 2399.99"),
    ("Bakery receipt: 2 croissants £3.20, 1 loaf £2.80. TOTAL £6.00", "GBP 6.00"),
    ("Train ticket Zurich-Geneva, CHF 52.00, paid by card.", "CHF 52.00"),
    ("Your electricity bill for March is $134.07.", "USD 134.07"),
    ("Flight change fee €75 plus fare difference €120: total €195 charged.", "EUR 195.00"),
    ("Museum entry ¥1,800 per adult; we were two adults and were charged ¥3,600.", "JPY 3600.00"),
    ("The phone repair quote was ₹4,000 but the final bill came to ₹3,650.", "INR 3650.00"),
    ("Weekly groceries: 58,30 € paid in cash.", "EUR 58.30"),
    ("Streaming subscription charged: $15.49/month.", "USD 15.49"),
    ("Taxi from the station: fare £18 plus £2 tip, £20 in total.", "GBP 20.00"),
    ("Conference registration: $1,200.00 charged (early-bird discount of $300 applied).", "USD 1200.00"),
    ("Ramen shop: ¥980.", "JPY 980.00"),
    ("Pharmacy: subtotal CHF 23.40, discount CHF 3.40, total CHF 20.00.", "CHF 20.00"),
    ("Your card was charged €9.99 for cloud storage.", "EUR 9.99"),
    ("Paid Rs. 350 for the auto-rickshaw ride.", "INR 350.00"),
    ("Bookstore: 3 books, total $47.5.", "USD 47.50"),
    ("Rent for June: £1,150 transferred.", "GBP 1150.00"),
    ("Car rental final invoice: €45 x 3 days, insurance €30, total due €165.", "EUR 165.00"),
    ("Haircut, 35 dollars.", "USD 35.00"),
    ("Sushi delivery ¥4,280 including the delivery fee.", "JPY 4280.00"),
    ("Concert tickets: 2 x $89.50 = $179.00 charged.", "USD 179.00"),
    ("Ski pass for the weekend: CHF 148.", "CHF 148.00"),
    ("Laptop bag ordered; you paid ₹1,299.00.", "INR 1299.00"),
    ("Vet visit: consultation £45, vaccine £30; amount paid £75.", "GBP 75.00"),
    ("Coworking day pass 25 € (VAT included).", "EUR 25.00"),
)

# Words and symbols a model may use for each currency, to grade partially right answers.
CURRENCY_MARKERS: dict[str, tuple[str, ...]] = {
    "USD": ("usd", "$", "dollar"),
    "EUR": ("eur", "€", "euro"),
    "GBP": ("gbp", "£", "pound"),
    "JPY": ("jpy", "¥", "yen"),
    "CHF": ("chf", "franc"),
    "INR": ("inr", "₹", "rs", "rupee"),
}

_NUMBER = re.compile(r"\d[\d.,']*")


class ExtractTotal(dspy.Signature):
    """Extract the total amount charged from the message."""

    message: str = dspy.InputField()
    total: str = dspy.OutputField()


def make_program() -> dspy.Module:
    """The program GEPA optimizes: one Predict whose instruction starts deliberately vague."""
    return dspy.Predict(ExtractTotal)


def make_example(message: str, answer: str) -> dspy.Example:
    return dspy.Example(message=message, total=answer).with_inputs("message")


def demo_splits() -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """Train, val and test (12 each): every third example, so each split mixes all currencies."""
    examples = [make_example(m, a) for m, a in RECEIPTS]
    return examples[0::3], examples[1::3], examples[2::3]


def parse_amount(text: str) -> float | None:
    """The first number in ``text``, reading ``1,299.00``, ``1.299,00``, ``58,30`` and ``12,000`` correctly."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    raw = match.group(0).rstrip(".,'").replace("'", "")
    if "," in raw and "." in raw:
        decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        raw = raw.replace(thousands, "").replace(decimal, ".")
    elif "," in raw:
        whole, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 else f"{whole.replace(',', '')}.{tail}"
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")
    try:
        return float(raw)
    except ValueError:
        return None


def mentions_currency(text: str, code: str) -> bool:
    """True when ``text`` names currency ``code`` by its code, symbol or word."""
    lowered = text.lower()
    for marker in CURRENCY_MARKERS[code]:
        if marker.isalpha():
            if re.search(rf"\b{re.escape(marker)}", lowered):
                return True
        elif marker in lowered:
            return True
    return False


@dataclass(frozen=True)
class Grade:
    """A score in [0, 1] and the feedback that explains it."""

    score: float
    feedback: str


def grade_total(expected: str, answer: str) -> Grade:
    """Grade one answer against the expected ``CODE 123.45`` string.

    1.0 exact; 0.5 right amount and currency, wrong format; 0.25 right amount only; 0.0 wrong amount.
    """
    answer = (answer or "").strip()
    if answer == expected:
        return Grade(1.0, f"Correct: '{expected}' is the total charged, in the required format.")
    code, amount_text = expected.split(" ")
    amount_ok = parse_amount(answer) == float(amount_text)
    currency_ok = mentions_currency(answer, code)
    format_rule = (
        "The answer must be exactly the three-letter ISO 4217 currency code (USD, EUR, GBP, JPY, CHF, INR; never "
        "a symbol like $ or a word like dollars), one space, then the amount with no thousands separators, a dot "
        "as decimal separator and exactly two decimals, and nothing else."
    )
    if amount_ok and currency_ok:
        return Grade(0.5, f"Right total but wrong format: expected '{expected}', got '{answer}'. {format_rule}")
    if amount_ok:
        return Grade(
            0.25,
            f"Right amount but the currency is missing or wrong: expected '{expected}', got '{answer}'. "
            f"The message's currency is {code}. {format_rule}",
        )
    return Grade(
        0.0,
        f"Wrong amount: expected '{expected}', got '{answer}'. Report the final total actually charged or paid "
        "(after tips, discounts and fees), not a subtotal, unit price, refund or earlier quote. " + format_rule,
    )


def total_metric(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
    """GEPA-style metric: ``dspy.Prediction(score, feedback)``; usable as a plain metric via ``.score``."""
    grade = grade_total(gold.total, getattr(pred, "total", "") or "")
    return dspy.Prediction(score=grade.score, feedback=grade.feedback)


def score_only(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None) -> float:
    """The metric's score alone, for ``dspy.Evaluate``."""
    return total_metric(gold, pred).score


def evaluate(program: dspy.Module, examples: Sequence[dspy.Example], num_threads: int = 4) -> float:
    """Mean score of ``program`` on ``examples`` (0..1). Failed calls score 0 (DSPy logs each failure)."""
    evaluator = dspy.Evaluate(
        devset=list(examples), metric=score_only, num_threads=num_threads, display_progress=False,
        provide_traceback=False, failure_score=0.0,
    )
    result = evaluator(program)
    scores = [float(score) for _, _, score in result.results]
    return sum(scores) / len(scores) if scores else 0.0


def instruction_of(program: dspy.Module) -> str:
    """The instruction of the program's single predictor."""
    (predictor,) = program.predictors()
    return predictor.signature.instructions


@dataclass
class DemoReport:
    """What one demo run did, for printing and for the smoke test."""

    score_before: float
    score_after: float
    instruction_before: str
    instruction_after: str
    seconds: float
    optimized: dspy.Module
    detailed_results: Any = None
    reflection_calls: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def run_demo(
    task_lm: dspy.LM,
    reflection_lm: dspy.LM | None = None,
    *,
    max_metric_calls: int = 60,
    reflection_minibatch_size: int = 3,
    trainset: Sequence[dspy.Example] | None = None,
    valset: Sequence[dspy.Example] | None = None,
    testset: Sequence[dspy.Example] | None = None,
    num_threads: int = 4,
    skip_perfect_score: bool = True,
    seed: int = 0,
    log_dir: str | None = None,
    max_reflection_attempts: int = 3,
    log: Callable[[str], None] = print,
) -> DemoReport:
    """Score the starting program on the test split, optimize it with GEPA, score it again.

    ``reflection_lm`` defaults to ``task_lm``. Splits default to ``demo_splits()``. With ``log_dir`` GEPA
    checkpoints there (a rerun resumes) and writes ``results.json``.
    """
    from gepa_dspy import GEPA

    reflection_lm = reflection_lm or task_lm
    default_train, default_val, default_test = demo_splits()
    trainset = list(trainset if trainset is not None else default_train)
    valset = list(valset if valset is not None else default_val)
    testset = list(testset if testset is not None else default_test)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    program = make_program()
    reflection_calls_before = len(reflection_lm.history)
    with dspy.context(lm=task_lm):
        t0 = time.perf_counter()
        before = evaluate(program, testset, num_threads)
        timings["evaluate_before_s"] = time.perf_counter() - t0
        log(f"Score before optimization: {before:.3f} on {len(testset)} test examples")
        log(f"Starting instruction: {instruction_of(program)!r}")
        optimizer = GEPA(total_metric, max_metric_calls=max_metric_calls, reflection_lm=reflection_lm,
                         reflection_minibatch_size=reflection_minibatch_size, skip_perfect_score=skip_perfect_score,
                         num_threads=num_threads, seed=seed, log_dir=log_dir,
                         max_reflection_attempts=max_reflection_attempts, track_stats=True)
        t0 = time.perf_counter()
        optimized = optimizer.compile(program, trainset=trainset, valset=valset)
        timings["gepa_compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        after = evaluate(optimized, testset, num_threads)
        timings["evaluate_after_s"] = time.perf_counter() - t0
    reflection_calls = len(reflection_lm.history) - reflection_calls_before
    if reflection_lm is task_lm:
        reflection_calls = -1  # shared LM: history mixes task and reflection calls, so it is not a count
    report = DemoReport(
        score_before=before,
        score_after=after,
        instruction_before=instruction_of(program),
        instruction_after=instruction_of(optimized),
        seconds=time.perf_counter() - start,
        optimized=optimized,
        detailed_results=getattr(optimized, "detailed_results", None),
        reflection_calls=reflection_calls,
        timings=timings,
    )
    results = report.detailed_results
    if results is not None:
        log(
            f"GEPA: {len(results.candidates)} candidate(s), {results.total_metric_calls} metric calls, "
            f"best val score {results.val_aggregate_scores[results.best_idx]:.3f} (seed {results.val_aggregate_scores[0]:.3f})"
        )
    log(f"Score after optimization:  {after:.3f} on {len(testset)} test examples")
    log(f"New instruction:\n{report.instruction_after}")
    log(f"Wall time: {report.seconds:.0f} s")
    return report
