"""Progress lines during compile in a plain script (no logging configured), as dspy.GEPA prints them.

Each case runs in a subprocess: pytest itself configures logging, which is exactly the case where the
optimizer must stay out of the way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
GEPA(metric, max_metric_calls=40, reflection_lm=reflection).compile(
    CleanThenShout(), trainset=examples[:8], valset=examples[8:])
logger = logging.getLogger("gepa_dspy")
print("after:", len(logger.handlers), logger.level, file=sys.stderr)
"""


def _stderr(setup: str) -> str:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(setup=setup)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_plain_script_sees_the_progress_and_the_logger_is_left_as_it_was() -> None:
    err = _stderr("")
    assert "INFO gepa_dspy: GEPA: seed program scores" in err
    assert "GEPA iter 1 " in err and "GEPA finished (" in err
    assert "after: 0 0" in err  # no handler left behind, level unset again


@pytest.mark.parametrize("setup", [
    "dspy.disable_logging()",                     # silenced as DSPy's own logs are
    "logging.basicConfig(level=logging.WARNING)",  # the application configured logging: its choice holds
    "logging.getLogger('gepa_dspy').setLevel(logging.WARNING)",
])
def test_progress_stays_quiet_when_silenced_or_logging_is_configured(setup: str) -> None:
    err = _stderr(setup)
    assert "GEPA iter" not in err and "seed program scores" not in err


def test_the_handler_is_removed_even_when_compile_raises() -> None:
    import logging

    from gepa_dspy.adapter.progress_log import progress_logging

    logger = logging.getLogger("gepa_dspy_progress_test")
    logger.propagate = False  # nothing above it, as for gepa_dspy in a script without logging configured
    with pytest.raises(RuntimeError):
        with progress_logging(logger):
            assert len(logger.handlers) == 1 and logger.level == logging.INFO
            raise RuntimeError("compile failed")
    assert logger.handlers == [] and logger.level == logging.NOTSET
