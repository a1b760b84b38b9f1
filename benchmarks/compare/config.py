"""Settings of a comparison: scales, optimizer names, LM specs, the ``CompareConfig`` record and run-folder names.

Free of DSPy imports at module level, so the report and ``--status`` can read run folders without loading DSPy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Optimizer names in the order runs happen (MIPROv2 before the GEPA variants whose budget it sets).
OPTIMIZERS: tuple[str, ...] = ("baseline", "mipro", "dspy_gepa", "dspy_gepa_merge", "gepa", "gepa_merge",
                               "gepa_racing", "gepa_heldout")

#: Optimizers whose budget is matched to MIPROv2's metric calls (or ``--budget``).
BUDGETED: frozenset[str] = frozenset({"dspy_gepa", "dspy_gepa_merge", "gepa", "gepa_merge", "gepa_racing",
                                      "gepa_heldout"})

# The files of one run folder, ``<out>/<benchmark>/<optimizer>/seed<k>/``.
RECORD = "record.json"  # written last and atomically: its presence means the run finished
ERROR = "error.json"  # the last failed attempt's error and traceback
PROGRAM = "program.json"  # the optimized program (``program.save``)
ATTEMPTS = "attempts.json"  # written by the harness before 2026-12-04; still read and exported
OPTIMIZER_LOG = "optimizer_log"  # the optimizer's own checkpoints (GEPA variants resume from them)
LOCK = "run.lock"  # held (``filelock``) while a process runs the run
# Kept across a kill, so a restart loses no finished work: the finished optimization's outcome (its program is
# program.json; a restart scores it instead of optimizing again) and each split's per-example scores so far.
OPTIMIZED = "optimized.json"
SCORE_JOURNAL = "scores_{split}.jsonl"


@dataclass(frozen=True)
class ScalePreset:
    """Split sizes, default GEPA budget and MIPROv2 knobs for one ``--scale``. ``sizes=None``: the benchmark's
    paper sizes; ``budget=None``: no default (MIPROv2 must run first, or ``--budget`` be given)."""

    data_scale: str
    sizes: tuple[int, int, int] | None
    budget: int | None
    mipro_auto: str
    mipro_demos: tuple[int, int]


#: ``tiny`` is for quick checks; ``small`` fits one optimizer run in about half an hour on the local LM;
#: ``paper`` is the GEPA paper's setting. MIPROv2 is zero-shot below paper scale: with demos DSPy doubles its
#: trial count, which at 20 val examples would mean 400-800 metric calls per run on 2 CPU cores.
SCALES: dict[str, ScalePreset] = {
    "tiny": ScalePreset("small", (8, 8, 16), 40, "light", (0, 0)),
    "small": ScalePreset("small", (20, 20, 40), 150, "light", (0, 0)),
    "paper": ScalePreset("paper", None, None, "heavy", (4, 4)),
    # The fast feedback suite (docs/fast-benchmark.md): 25/25/300, one fixed budget, MIPROv2 with its default demos.
    "fast": ScalePreset("small", (25, 25, 300), 150, "light", (4, 4)),
}

LOCAL_PREFIX = "local:"


def parse_lm_string(value: str) -> str:
    """Validate an LM string: ``local:default``, ``local:fast``, ``local:/path/model.gguf``,
    ``local:http://HOST:PORT`` (a running llama.cpp server) or a LiteLLM ``provider/model`` name."""
    value = value.strip()
    if not value:
        raise ValueError("an LM string must not be empty")
    if value == LOCAL_PREFIX:
        raise ValueError("'local:' needs a model: local:default, local:fast, a .gguf path or a server URL")
    if not value.startswith(LOCAL_PREFIX) and "/" not in value:
        raise ValueError(f"LM string {value!r} is neither local:<model> nor a LiteLLM 'provider/model' name")
    return value


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

    def build(self) -> Any:
        """A new ``dspy.LM`` (cache off, so every call is real and counted); a local server starts once per process."""
        import dspy

        kwargs: dict[str, Any] = {"cache": False, "temperature": self.temperature, "max_tokens": self.max_tokens,
                                  "num_retries": self.num_retries}
        if self.timeout_s is not None:
            kwargs["timeout"] = self.timeout_s
        if self.model.startswith(LOCAL_PREFIX):
            from gepa_dspy.local_lm import local_lm

            target = self.model[len(LOCAL_PREFIX):]
            if target.startswith(("http://", "https://")):
                return local_lm(url=target, **kwargs)
            return local_lm(target, threads=self.local_threads, **kwargs)
        kwargs.update({k: v for k, v in (("api_base", self.api_base), ("api_key", self.api_key)) if v})
        return dspy.LM(self.model, **kwargs)

    def describe(self) -> dict[str, Any]:
        """What the record stores about this LM (never the API key)."""
        return {k: v for k, v in asdict(self).items() if k != "api_key"}


@dataclass
class MiproSettings:
    """MIPROv2 knobs: ``auto`` mode and demo counts."""

    auto: str = "light"
    max_bootstrapped_demos: int = 0
    max_labeled_demos: int = 0


@dataclass
class CompareConfig:
    """Everything one ``compare`` invocation needs (what the CLI parses into)."""

    benchmarks: list[str]
    optimizers: list[str]
    seeds: list[int]
    out_dir: Path
    scale: str = "small"
    sizes: tuple[int, int, int] | None = (20, 20, 40)
    budget: int | None = None
    num_threads: int = 2
    data_dir: str | None = None
    split_seed: int | None = None
    task_lm: LMSpec = field(default_factory=lambda: LMSpec("local:default"))
    reflection_lm: LMSpec = field(default_factory=lambda: LMSpec("local:default", temperature=0.7, max_tokens=2048))
    mipro: MiproSettings = field(default_factory=MiproSettings)
    program_max_tokens: int | None = None
    reflection_minibatch_size: int = 3
    #: How our GEPA's reflection LM replies: "fenced" (the library default) or "json_schema" (small LMs).
    reflection_reply_format: str = "fenced"
    #: Opt-in slow-LM workaround (``slow_lm_workarounds.py``): seconds after which DSPy's parallel evaluator
    #: re-submits a straggling example; None keeps DSPy's default (120), 0 turns re-submission off.
    dspy_straggler_timeout: float | None = None
    #: How many times one invocation starts a run that keeps failing; the last error is in ``error.json``.
    attempts: int = 1
    #: How an LLM judge answers, for benchmarks whose ``make_metric`` takes ``judge_format`` (PUPA).
    judge_format: str = "json_schema"
    #: A program identical to one another run of the same benchmark already scored on the same test split under
    #: the same task LM takes that run's test scores instead of being scored again (``run.identical_program_test``).
    reuse_identical_test_scores: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(out_dir=str(self.out_dir), task_lm=self.task_lm.describe(),
                    reflection_lm=self.reflection_lm.describe())
        return data
