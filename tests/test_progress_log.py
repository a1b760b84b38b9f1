"""Progress lines during compile in a plain script (no logging configured), as dspy.GEPA prints them.

Each case runs in a subprocess: pytest itself configures logging, which is exactly the case where the
optimizer must stay out of the way.
"""

from __future__ import annotations

import pytest

from tests.plain_script import compile_in_a_plain_script

#: Printed after the compile: how the script leaves the ``gepa_dspy`` logger (handlers, level).
LOGGER_AFTER = 'print("after:", len(logging.getLogger("gepa_dspy").handlers), logging.getLogger("gepa_dspy").level, ' \
               'file=sys.stderr)'


def test_a_plain_script_sees_the_progress_and_the_logger_is_left_as_it_was() -> None:
    err = compile_in_a_plain_script(after=LOGGER_AFTER)
    assert "INFO gepa_dspy: GEPA: seed program scores" in err
    assert "GEPA iter 1 " in err and "GEPA finished (" in err
    assert "after: 0 0" in err  # no handler left behind, level unset again


@pytest.mark.parametrize("setup", [
    "dspy.disable_logging()",                     # silenced as DSPy's own logs are
    "logging.basicConfig(level=logging.WARNING)",  # the application configured logging: its choice holds
    "logging.getLogger('gepa_dspy').setLevel(logging.WARNING)",
])
def test_progress_stays_quiet_when_silenced_or_logging_is_configured(setup: str) -> None:
    err = compile_in_a_plain_script(setup)
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
