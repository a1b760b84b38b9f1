"""LM specifications for the comparison: parse ``--lm`` strings, build fresh metered LMs for every run.

An LM string is one of

- ``local:default`` / ``local:fast`` (or ``local:/path/model.gguf``): start, or reuse within this process,
  the embedded llama.cpp server from ``gepa_dspy.local_lm``;
- ``local:http://127.0.0.1:8089``: reuse a llama.cpp server someone else started;
- any LiteLLM model string (``openai/gpt-4.1-mini``, ``openai/local`` with ``--api-base``).

Every run gets fresh LM objects per role, each with its own ``LMUsageMeter``, so the record counts the
task LM (the program, also as PUPA's untrusted model and judge when they share its spec) and the
reflection LM (GEPA's reflection, MIPROv2's instruction proposer) separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import dspy

from .metering import LMUsage, LMUsageMeter

#: LM roles a run may use. "judge" and "untrusted" are PUPA's; other benchmarks use task and reflection.
ROLES = ("task", "reflection", "judge", "untrusted")

LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class LMSpec:
    """How to build one LM: the string given on the command line plus request settings."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float | None = 600.0
    num_retries: int = 2
    local_threads: int | None = None

    @property
    def is_local(self) -> bool:
        return self.model.startswith(LOCAL_PREFIX)

    @property
    def endpoint(self) -> str | None:
        """The OpenAI-compatible base URL requests go to, when the spec names one (else None)."""
        if self.is_local:
            target = self.model[len(LOCAL_PREFIX):]
            return target if target.startswith(("http://", "https://")) else None
        return self.api_base

    def routed_to(self, url: str) -> "LMSpec":
        """The same spec with requests sent to ``url`` instead of ``endpoint`` (e.g. a journaling proxy)."""
        if self.endpoint is None:
            raise ValueError(f"LM {self.model!r} has no base URL to route")
        if self.is_local:
            return replace(self, model=LOCAL_PREFIX + url)
        return replace(self, api_base=url)

    def lm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``dspy.LM`` (cache off, so every call is real and counted)."""
        kwargs: dict[str, Any] = {"cache": False, "temperature": self.temperature, "max_tokens": self.max_tokens,
                                  "num_retries": self.num_retries}
        if self.timeout_s is not None:
            kwargs["timeout"] = self.timeout_s
        return kwargs

    def build(self) -> dspy.BaseLM:
        """A new ``dspy.LM`` for this spec (a local server is started once per process and shared)."""
        if self.is_local:
            from gepa_dspy.local_lm import local_lm

            target = self.model[len(LOCAL_PREFIX):]
            if target.startswith(("http://", "https://")):
                return local_lm(url=target, **self.lm_kwargs())
            return local_lm(target, threads=self.local_threads, **self.lm_kwargs())
        kwargs = self.lm_kwargs()
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return dspy.LM(self.model, **kwargs)

    def describe(self) -> dict[str, Any]:
        """What the record stores about this LM (never the API key)."""
        return {"model": self.model, "api_base": self.api_base, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "timeout_s": self.timeout_s, "num_retries": self.num_retries,
                "local_threads": self.local_threads}


def parse_lm_string(value: str) -> str:
    """Validate an LM string (see the module docstring); returns it unchanged or raises ValueError."""
    value = value.strip()
    if not value:
        raise ValueError("an LM string must not be empty")
    if value.startswith(LOCAL_PREFIX):
        target = value[len(LOCAL_PREFIX):]
        if not target:
            raise ValueError("'local:' needs a model: local:default, local:fast, a .gguf path or a server URL")
        return value
    if "/" not in value:
        raise ValueError(f"LM string {value!r} is neither local:<model> nor a LiteLLM 'provider/model' name")
    return value


#: role -> a fresh ``dspy.BaseLM``; the default builds from the task and reflection specs.
LMFactory = Callable[[str], dspy.BaseLM]


def spec_factory(task: LMSpec, reflection: LMSpec) -> LMFactory:
    """An ``LMFactory``: the reflection role uses ``reflection``, every other role ``task``."""

    def make(role: str) -> dspy.BaseLM:
        return (reflection if role == "reflection" else task).build()

    return make


@dataclass
class RunLMs:
    """The metered LMs of one run, built lazily per role."""

    factory: LMFactory
    lms: dict[str, dspy.BaseLM] = field(default_factory=dict)
    meters: dict[str, LMUsageMeter] = field(default_factory=dict)

    def get(self, role: str) -> dspy.BaseLM:
        """The LM for ``role`` (one of ``ROLES``), created and metered on first use."""
        if role not in ROLES:
            raise ValueError(f"unknown LM role {role!r}; expected one of {ROLES}")
        if role not in self.lms:
            meter = LMUsageMeter(role)
            self.lms[role] = meter.attach(self.factory(role))
            self.meters[role] = meter
        return self.lms[role]

    @property
    def task(self) -> dspy.BaseLM:
        return self.get("task")

    @property
    def reflection(self) -> dspy.BaseLM:
        return self.get("reflection")

    def usage(self) -> dict[str, LMUsage]:
        """Usage so far per role that was used."""
        return {role: meter.snapshot() for role, meter in self.meters.items()}

    def reset_usage(self) -> None:
        for meter in self.meters.values():
            meter.reset()

    def models(self) -> dict[str, str]:
        """The model name each used role talked to."""
        return {role: str(getattr(lm, "model", type(lm).__name__)) for role, lm in self.lms.items()}
