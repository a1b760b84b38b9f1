"""Settings of a comparison: scales, optimizer names and the ``CompareConfig`` record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .lms import LMSpec

#: Optimizer names in the order runs happen (MIPROv2 before the GEPA variants whose budget it sets).
OPTIMIZERS: tuple[str, ...] = ("baseline", "mipro", "dspy_gepa", "dspy_gepa_merge", "gepa", "gepa_merge")

#: Optimizers whose budget is matched to MIPROv2's metric calls (or ``--budget``).
BUDGETED: frozenset[str] = frozenset({"dspy_gepa", "dspy_gepa_merge", "gepa", "gepa_merge"})


@dataclass(frozen=True)
class ScalePreset:
    """Split sizes, default GEPA budget and MIPROv2 knobs for one ``--scale``.

    ``sizes=None`` means the benchmark's own paper sizes (150/300/300, PUPA 111/111/221).
    ``budget=None`` means there is no default: MIPROv2 must run first, or ``--budget`` must be given.
    """

    data_scale: str
    sizes: tuple[int, int, int] | None
    budget: int | None
    mipro_auto: str
    mipro_demos: tuple[int, int]


#: ``tiny`` is for quick checks; ``small`` fits one optimizer run in about half an hour on the local
#: LM; ``paper`` is the GEPA paper's setting. MIPROv2 is zero-shot (instructions only) below paper scale:
#: with demos its trial count doubles (DSPy sets trials from the number of variables), which at 20 val
#: examples would mean 400-800 metric calls per run on 2 CPU cores.
SCALES: dict[str, ScalePreset] = {
    "tiny": ScalePreset("small", (8, 8, 16), 40, "light", (0, 0)),
    "small": ScalePreset("small", (20, 20, 40), 150, "light", (0, 0)),
    "paper": ScalePreset("paper", None, None, "heavy", (4, 4)),
    # The fast feedback suite (docs/fast-benchmark.md): 25/25/300, one fixed budget, MIPROv2 with its default demos.
    "fast": ScalePreset("small", (25, 25, 300), 150, "light", (4, 4)),
}


@dataclass
class MiproSettings:
    """MIPROv2 knobs: ``auto`` mode, demo counts and the runaway guard.

    ``max_calls_factor``: the metric wrapper refuses calls beyond this multiple of the expected count
    (from DSPy's own trial formula), so a misbehaving run ends with an error instead of running forever.
    """

    auto: str = "light"
    max_bootstrapped_demos: int = 0
    max_labeled_demos: int = 0
    max_calls_factor: float = 2.0


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
    #: Seconds after which DSPy's ParallelExecutor re-submits a straggling example (MIPROv2, dspy.GEPA);
    #: None keeps DSPy's default (120), 0 turns re-submission off. See ``stragglers.py``.
    dspy_straggler_timeout: float | None = None
    #: How many times one invocation starts a run that keeps failing (a crash such as an unparsable LM reply
    #: inside MIPROv2); every attempt is listed in the run's ``attempts.json``.
    attempts: int = 1
    #: Journal every LM reply of a run and replay it when the run is started again (``journal.py``).
    lm_journal: bool = False
    #: When a GEPA run needs the budget of a MIPROv2 run that another process is running: None skips it (a
    #: later ``compare`` picks it up), a number waits for MIPROv2 to end, checking every that many seconds.
    #: Lets one background process per optimizer start at once (``benchmarks/run_small_grid.sh``).
    wait_for_budget_s: float | None = None
    #: How an LLM judge answers, for benchmarks whose ``make_metric`` takes ``judge_format`` (PUPA):
    #: "json_schema" (constrained by a ``response_format`` schema) or "text" (free text).
    judge_format: str = "json_schema"

    def default_budget(self) -> int | None:
        """The budget when neither MIPROv2 nor ``--budget`` decides it."""
        return SCALES[self.scale].budget

    def data_scale(self) -> str:
        """The ``scale`` argument passed to a benchmark's ``load_splits``."""
        return SCALES[self.scale].data_scale

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["task_lm"] = self.task_lm.describe()
        data["reflection_lm"] = self.reflection_lm.describe()
        return data
