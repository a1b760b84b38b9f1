import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_dspy_settings():
    """Each test configures its own LMs; never leak them into the next test."""
    yield
    dspy.configure(lm=None)
