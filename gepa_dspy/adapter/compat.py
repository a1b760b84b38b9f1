"""Every use of DSPy internals, in one place, each with why it is needed and the DSPy versions it holds for.

gepa_dspy supports ``dspy>=3.0.0,<3.5`` (pyproject.toml). Public DSPy API (``dspy.Module``, ``dspy.Predict``,
``dspy.Example``, ``dspy.Prediction``, ``dspy.context``, ``dspy.BaseLM``, ...) is used directly elsewhere; anything
below that is private, undocumented, moved between versions or patched goes through this module, so a new DSPy
release is checked here. Each entry names its version gate; outside the gate it falls back to a documented
behaviour (never a silent wrong result).
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any, ContextManager

import dspy

logger = logging.getLogger("gepa_dspy")


def _version_tuple(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


#: The installed DSPy version as (major, minor, patch).
DSPY_VERSION: tuple[int, int, int] = _version_tuple(getattr(dspy, "__version__", "0"))
#: The lowest DSPy the package supports (kept equal to pyproject's floor; tests/test_dropin.py checks it).
DSPY_FLOOR = (3, 0, 0)


def dspy_at_least(*version: int) -> bool:
    return DSPY_VERSION >= tuple(version) + (0,) * (3 - len(version))


# --- DspyGEPAResult (all supported versions: dspy.GEPA and its result class arrived in 3.0.0).
# Why: ``detailed_results`` must be an instance of dspy's result class so migrated code (isinstance checks, field
# access) runs unchanged; it lives in a private module path, not re-exported by ``dspy``.
from dspy.teleprompt.gepa.gepa import DspyGEPAResult  # noqa: E402

# --- Teleprompter base class (all supported versions). Why: ``GEPA`` must be a DSPy optimizer; only the class
# is re-exported publicly in some versions, the module path is stable.
from dspy.teleprompt.teleprompt import Teleprompter  # noqa: E402

# --- Callback hook (all supported versions). Why: DSPy's trace keeps only successful predictor calls; the
# callback sees predictor calls that raised (unparsable LM output) so reflection can show them.
from dspy.utils.callback import BaseCallback  # noqa: E402

# --- Parse errors (all supported versions). Why: an unparsable LM reply is a scored ``parse_error``, not a crash;
# we read its ``lm_response`` and ``signature`` attributes to show the reply to the reflection LM.
from dspy.utils.exceptions import AdapterParseError  # noqa: E402

# --- LM error classes. Why: a misconfigured LM or bad credentials must stop the run at once instead of being
# scored as failures, and transient LM errors are retried. Gate: the ``LMError`` family exists from dspy 3.4;
# before it, LM errors are litellm's exceptions (recognised by module name in evaluation.classify_exception) and
# nothing is classed fatal.
try:
    from dspy.utils import exceptions as _dspy_errors

    LM_ERROR: tuple[type[BaseException], ...] = (_dspy_errors.LMError,)
    FATAL_LM_ERRORS: tuple[type[BaseException], ...] = tuple(
        getattr(_dspy_errors, name) for name in
        ("LMConfigurationError", "LMAuthError", "LMBillingError", "LMUnsupportedModelError")
        if hasattr(_dspy_errors, name)
    )
    #: LM errors caused by the request itself (too long, malformed, unsupported): the same request fails the same
    #: way again, so they stay recorded on resume, unlike outages (connection, timeout, 5xx, rate limit).
    REQUEST_LM_ERRORS: tuple[type[BaseException], ...] = tuple(
        getattr(_dspy_errors, name) for name in ("LMInvalidRequestError", "LMUnsupportedFeatureError")
        if hasattr(_dspy_errors, name)
    )
except AttributeError:  # dspy < 3.4
    LM_ERROR = ()
    FATAL_LM_ERRORS = ()
    REQUEST_LM_ERRORS = ()


def current_trace() -> list[Any]:
    """The predictor calls DSPy recorded in the active ``dspy.context(trace=[])`` (all supported versions).

    Why: reflection needs each predictor's inputs and outputs; ``dspy.settings.trace`` is how DSPy's own
    optimizers read them, but it is not documented API."""
    return list(dspy.settings.trace or [])


def model_metadata_memo() -> ContextManager[None]:
    """Memoize DSPy's model-metadata lookup during ``compile`` (see ``adapter/model_metadata_memo``).

    Why: in dspy 3.4 every LM reply scans the model metadata snapshot for unknown (local) models, more than
    half of the optimizer's CPU time. It patches ``model_info`` in ``dspy.clients.costs`` and
    ``dspy.clients.capabilities``. Gate: dspy >= 3.4 (before, those modules do not exist: no patch)."""
    if not dspy_at_least(3, 4):
        return contextlib.nullcontext()
    from .model_metadata_memo import memoized_model_metadata

    return memoized_model_metadata()


def dspy_logging_stream_and_format() -> tuple[Any, str, str]:
    """The stream DSPy's own log handler writes to (switched by ``dspy.disable_logging``) and its line and date
    formats, so our progress lines look like DSPy's and are silenced with them.

    Why: ``dspy.utils.logging_utils`` constants are not API. All supported versions; falls back to stderr and a
    plain format if they move."""
    try:
        from dspy.utils.logging_utils import DSPY_LOGGING_STREAM, LOGGING_DATETIME_FORMAT, LOGGING_LINE_FORMAT
    except ImportError:
        import sys

        return sys.stderr, "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y/%m/%d %H:%M:%S"
    return DSPY_LOGGING_STREAM, LOGGING_LINE_FORMAT, LOGGING_DATETIME_FORMAT


def lm15_engine_api() -> bool:
    """Whether DSPy has the canonical LM engine API (``dspy.lm15``, ``dspy.clients.execution``) that
    ``gepa_dspy.testing.ScriptedLM`` plugs into. Gate: dspy >= 3.4."""
    try:
        import dspy.lm15  # noqa: F401
    except ImportError:
        return False
    return True


def map_http_error(status: int, message: str, *, provider: str, retry_after: float | None) -> Exception:
    """DSPy's own mapping of an HTTP status to its LM error class, for the scripted test LM.

    Why: scripted HTTP failures must surface exactly as a real provider's would, retried by DSPy the same way;
    the mapping lives in the vendored ``dspy._vendor.lm15.errors``. Gate: dspy >= 3.4."""
    from dspy._vendor.lm15.errors import map_http_error as _map

    return _map(status, message, provider=provider, retry_after=retry_after)


def execute_lm_call(lm: Any, prompt: str | None, messages: list[dict[str, Any]] | None, kwargs: dict[str, Any]) -> Any:
    """Run one call of a custom ``BaseLM`` through DSPy's own execution path (history, usage tracking, retries) and
    return the provider-shaped response, as ``dspy.utils.DummyLM`` does.

    Why: the scripted test LM must behave like a real provider LM; ``dspy.clients.execution`` is internal.
    Gate: dspy >= 3.4."""
    from dspy.clients.execution import execute, prepare

    return execute(lm, prepare(lm, prompt, messages, kwargs, direct=True)).provider_response()


def install_lm_engine(lm: Any, engine: Any, async_engine: Any) -> None:
    """Make ``lm`` answer through ``engine`` (``complete(Request) -> Response``) with DSPy's response cache off.

    Why: DSPy 3.4's custom-LM contract reads these private attributes (as ``DummyLM`` sets them). Gate: dspy >= 3.4."""
    lm._cache_responses = False
    lm._engine_spec = engine
    lm._async_engine_spec = async_engine


def flex_available() -> bool:
    """Whether ``dspy.Flex`` (code evolution, used by dspy.GEPA's ``code_proposer``) exists. Gate: dspy >= 3.4."""
    return hasattr(dspy, "Flex")
