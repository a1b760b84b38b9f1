"""Run the toy compile in a fresh Python process, as a user's plain script would (no pytest, no logging set up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import logging, sys
import dspy
{setup}
from tests.toy_task import CleanThenShout, make_examples, make_lms, metric
from gepa_dspy import GEPA
task, reflection = make_lms()
dspy.configure(lm=task)
examples = make_examples()
GEPA(metric, max_metric_calls=40, reflection_lm=reflection{gepa_options}).compile(
    CleanThenShout(), trainset=examples[:8], valset=examples[8:])
{after}
"""


def compile_in_a_plain_script(setup: str = "", gepa_options: str = "", after: str = "") -> str:
    """The stderr of a script that runs ``setup``, compiles the toy task with ``GEPA(..., max_metric_calls=40
    {gepa_options})`` and then runs ``after``; the script must succeed."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(REPO))
    script = SCRIPT.format(setup=setup, gepa_options=gepa_options, after=after)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr
