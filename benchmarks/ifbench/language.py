"""Language identification for the IFEval language checkers, via the offline ``langdetect`` package.

``langdetect`` ships its language profiles inside the PyPI package, so it needs no network. It is
imported lazily: only the three checkers that identify a language need it, and they raise a clear
error naming the package when it is missing.
"""

from __future__ import annotations

import threading
from types import ModuleType


class LanguageDetectorUnavailableError(ImportError):
    """Raised when a language checker runs without the ``langdetect`` package installed."""


_LOAD_LOCK = threading.Lock()
_loaded: ModuleType | None = None


def _langdetect() -> ModuleType:
    global _loaded
    if _loaded is not None:
        return _loaded
    with _LOAD_LOCK:
        if _loaded is None:
            try:
                import langdetect
                from langdetect import detector_factory
            except ImportError:
                raise LanguageDetectorUnavailableError(
                    "the IFEval language checkers (language:response_language, change_case:english_capital, "
                    "change_case:english_lowercase) need the 'langdetect' package: pip install langdetect "
                    "(it is part of the project's 'bench' extra)"
                ) from None
            langdetect.DetectorFactory.seed = 0  # langdetect is randomised; fix it so verdicts are repeatable
            # langdetect publishes its shared factory before loading its profiles, so a thread that calls it
            # during another's first call sees half the languages ("zh-tw" for Korean). Load them here, once.
            detector_factory.init_factory()
            _loaded = langdetect
        return _loaded


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language (e.g. "en", "hi"), or None when it cannot be told
    (for example a text without letters)."""
    module = _langdetect()
    try:
        return module.detect(text)
    except module.LangDetectException:
        return None
