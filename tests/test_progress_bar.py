"""The tqdm bar over the budget during compile (issue 31): shown in a plain script, hidden when silenced."""

from __future__ import annotations

import io
import re

import pytest

from gepa_dspy.adapter.progress_bar import BudgetProgressBar
from gepa_dspy.engine import events as ev
from tests.plain_script import compile_in_a_plain_script


def test_a_plain_script_shows_a_bar_over_the_budget_with_the_best_score() -> None:
    err = compile_in_a_plain_script()
    assert "GEPA:" in err and re.search(r"\d+/40 \[", err) and "metric calls/s" in err and "best=" in err


@pytest.mark.parametrize(("setup", "option"), [
    ("dspy.disable_logging()", ""),          # silenced as DSPy's own output is
    ("", ", display_progress=False"),        # as dspy.Evaluate(display_progress=False)
])
def test_no_bar_when_disabled(setup: str, option: str) -> None:
    err = compile_in_a_plain_script(setup, option)
    assert not re.search(r"\d+/40 \[", err) and "best=" not in err


def test_bar_follows_the_events_and_closes_at_the_end() -> None:
    out = io.StringIO()
    bar = BudgetProgressBar(file=out, mininterval=0)
    bar(ev.BudgetUpdate(5, 50))  # before the run started: ignored
    bar(ev.RunStarted(50, 10, True, 4, 4, None))
    assert bar.bar is not None and bar.bar.n == 10  # a resumed run starts where it was
    bar(ev.BudgetUpdate(24, 50))
    bar(ev.CandidateAdded(1, (0,), "reflection", 0.75, 30, 1, 0.75))
    assert bar.bar.n == 30
    bar(ev.RunEnded("budget exhausted", 48, 50, 2, 1, 0.75))
    assert bar.bar is None
    text = out.getvalue()
    assert "48/50" in text and "best=0.750" in text
    bar.close()  # twice is fine
