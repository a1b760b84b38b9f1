"""Orchestration benchmark: our GEPA vs ``dspy.GEPA`` against one scripted LM server with per-token latency.

Both optimizers run the same two-predictor program on the same scripted task, at the same budget
(``max_metric_calls``) and ``num_threads``, against one OpenAI-compatible server on 127.0.0.1
(``gepa_dspy.testing.ScriptedOpenAIServer``) that answers deterministically and takes, per call, a base
latency plus a per-token latency times the reply's length in tokens (``--latency-ms``, ``--per-token-ms``), as a
real LM's cost grows with what it generates. The server measures every request, so the figures do not depend on either
optimizer's own bookkeeping:

- wall time of ``compile``;
- LM calls, task and reflection (by model name), and the tokens each generated;
- reflection tokens per accepted child (reflection tokens / candidates beyond the seed);
- mean number of requests in flight (time-averaged over the run) and the peak;
- optimizer overhead: the time during which no LM request was in flight (equivalently, wall time
  minus the summed LM latencies divided by the concurrency while busy);
- LM busy time / latency: how many latency-long LM round trips lie on the run's critical path
  (the wall time the run would take with zero overhead is this times the latency).

The task. Each question belongs to one of six topics. ``route`` (question -> topic) names the topic
only if its instruction lists it under ``Known topics:``; ``answer`` (question, topic -> answer)
answers only if the routed topic is right and its instruction lists the topic under
``Known rules:``. The metric gives 0.5 per correct stage with feedback naming what is missing. The
scripted reflection LM reads the current instruction and the feedback from its prompt and proposes
the instruction plus the first missing item; for a fifth of the prompts (chosen by a hash of the
prompt, so runs are reproducible) it proposes a useless item instead, so some proposals are rejected.
It answers in the format the prompt asks for: a JSON object for DSPy ``JSONAdapter`` prompts
(``dspy.GEPA``'s default proposer), ``[[ ## field ## ]]`` sections for ``ChatAdapter`` prompts and a
fenced block for a plain prompt.

Usage::

    python -m benchmarks.orchestration --budget 300 --latency-ms 200 --per-token-ms 2 --num-threads 8 --seed 0
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator, Sequence  # noqa: E402

import dspy  # noqa: E402

from benchmarks.common import Counters  # noqa: E402

from gepa_dspy.testing import (  # noqa: E402
    ChatPromptError,
    ScriptedOpenAIServer,
    format_chat_adapter_reply,
    format_json_adapter_reply,
    is_json_adapter_prompt,
    parse_input_fields,
    parse_instructions,
    parse_requested_output_fields,
    reply_for_prompt,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results" / "orchestration.json"
#: ``ours_parallel`` / ``ours_prefetch``: our GEPA with ``num_parallel_proposals=K`` (``--parallel-proposals K``) and
#: ``parallel_proposal_mode="independent"`` / ``"prefetch"`` (``"speculative"`` was removed: docs/orchestration.md).
IMPLEMENTATIONS = ("ours", "ours_parallel", "ours_prefetch", "dspy")
PARALLEL_IMPLEMENTATIONS = {"ours_parallel": "independent", "ours_prefetch": "prefetch"}
OURS = ("ours", *PARALLEL_IMPLEMENTATIONS)
COLUMN_NAMES = {"ours": "gepa_dspy", "ours_parallel": "k={k} independent",
                "ours_prefetch": "k={k} prefetch", "dspy": "dspy.GEPA"}
RATIO_HEADERS = {"ours": "ours/dspy", "ours_parallel": "indep/dspy",
                 "ours_prefetch": "prefetch/dspy"}
TASK_MODEL = "task"
REFLECTION_MODEL = "reflect"

TOPICS = ("astronomy", "botany", "chemistry", "geology", "history", "music")
DECOY_TOPIC = "mythology"  # proposed by the "unhelpful" reflections; no question has it
TOPICS_KEY = "Known topics:"
RULES_KEY = "Known rules:"
SEED_ROUTE_INSTRUCTION = f"Identify the topic of the question. {TOPICS_KEY} none."
SEED_ANSWER_INSTRUCTION = f"Answer the question using the rule for its topic. {RULES_KEY} none."
UNKNOWN = "unknown"
NOISE_MODULUS = 5  # one reflection prompt in NOISE_MODULUS (by hash) proposes the decoy

_QUESTION = re.compile(r"Question (\d+) is about (\w+)\.")
_NEEDS = {TOPICS_KEY: re.compile(r"needs topic (\w+)"), RULES_KEY: re.compile(r"needs rule (\w+)")}


# -- the task -----------------------------------------------------------------------------------


def build_dataset(seed: int, n_train: int, n_val: int) -> tuple[list[dspy.Example], list[dspy.Example]]:
    """Train and val examples with topics spread evenly and shuffled by ``seed``."""
    total = n_train + n_val
    topics = [TOPICS[i % len(TOPICS)] for i in range(total)]
    random.Random(seed).shuffle(topics)
    examples = [
        dspy.Example(question=f"Question {i} is about {topic}.", topic=topic, answer=f"{i}:{topic}").with_inputs(
            "question"
        )
        for i, topic in enumerate(topics)
    ]
    return examples[:n_train], examples[n_train:]


class TopicQA(dspy.Module):
    """Two stages: route the question to a topic, then answer it with that topic's rule."""

    def __init__(self) -> None:
        super().__init__()
        self.route = dspy.Predict(dspy.Signature("question -> topic", SEED_ROUTE_INSTRUCTION))
        self.answer = dspy.Predict(dspy.Signature("question, topic -> answer", SEED_ANSWER_INSTRUCTION))

    def forward(self, question: str) -> dspy.Prediction:
        topic = self.route(question=question).topic
        answer = self.answer(question=question, topic=topic).answer
        return dspy.Prediction(topic=topic, answer=answer)


def metric(
    gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None, pred_trace: Any = None
) -> dspy.Prediction:
    """0.5 for the right topic plus 0.5 for the right answer, with feedback naming what is missing."""
    topic_ok = str(pred.topic).strip() == gold.topic
    answer_ok = str(pred.answer).strip() == gold.answer
    route_feedback = "The topic is correct." if topic_ok else f"Wrong topic: this question needs topic {gold.topic}."
    answer_feedback = (
        "The answer is correct." if answer_ok else f"Wrong answer: this question needs rule {gold.topic}."
    )
    if pred_name == "route":
        feedback = route_feedback
    elif pred_name == "answer":
        feedback = answer_feedback
    else:
        feedback = f"{route_feedback} {answer_feedback}"
    return dspy.Prediction(score=0.5 * topic_ok + 0.5 * answer_ok, feedback=feedback)


def known_items(text: str, key: str) -> list[str]:
    """The comma-separated items after ``key`` (up to the next period), ``none`` meaning empty."""
    start = text.find(key)
    if start < 0:
        return []
    listed = text[start + len(key):].split(".", 1)[0]
    return [item.strip() for item in listed.split(",") if item.strip() and item.strip() != "none"]


def instruction_with(key: str, items: Sequence[str]) -> str:
    """A route or answer instruction listing ``items`` under ``key``."""
    listed = ", ".join(items) if items else "none"
    base = SEED_ROUTE_INSTRUCTION if key == TOPICS_KEY else SEED_ANSWER_INSTRUCTION
    return f"{base.split(key, 1)[0]}{key} {listed}."


def task_responder(messages: list[dict[str, Any]], model: str) -> str:
    """The scripted task LM: correct exactly where the instruction knows the topic or rule."""
    instructions = parse_instructions(messages)
    inputs = parse_input_fields(messages)
    match = _QUESTION.search(inputs.get("question", ""))
    if match is None:
        raise ValueError(f"unexpected question {inputs.get('question')!r}")
    number, true_topic = match.group(1), match.group(2)
    outputs = parse_requested_output_fields(messages)
    if outputs == ["topic"]:
        topic = true_topic if true_topic in known_items(instructions, TOPICS_KEY) else UNKNOWN
        return format_chat_adapter_reply({"topic": topic})
    if outputs == ["answer"]:
        topic = inputs.get("topic", "").strip()
        answer = f"{number}:{topic}" if topic in known_items(instructions, RULES_KEY) else "I do not know."
        return format_chat_adapter_reply({"answer": answer})
    raise ValueError(f"unexpected output fields {outputs}")


@dataclass
class ReflectionCounts(Counters):
    """What the scripted reflection LM did."""

    proposals: int = 0
    decoys: int = 0
    nothing_missing: int = 0
    unrecognized: int = 0


class ReflectionResponder:
    """The scripted reflection LM: current instruction plus the first missing item from the feedback."""

    def __init__(self, noise_modulus: int = NOISE_MODULUS, decoy_percent: int | None = None) -> None:
        if noise_modulus < 0:
            raise ValueError("noise_modulus must be >= 0 (0 turns the decoys off)")
        if decoy_percent is not None and not 0 <= decoy_percent <= 100:
            raise ValueError(f"decoy_percent must be between 0 and 100, got {decoy_percent}")
        self.noise_modulus = noise_modulus
        #: When set, replaces ``noise_modulus``: this percentage of reflection prompts (by hash) get the decoy,
        #: which can also model the mostly rejected proposals of real runs (more than one in two).
        self.decoy_percent = decoy_percent
        self.counts = ReflectionCounts()

    def __call__(self, messages: list[dict[str, Any]], model: str) -> str:
        self.counts.add("proposals")
        prompt = "\n".join(str(m.get("content") or "") for m in messages)
        return self._format(messages, self.propose(prompt))

    def propose(self, prompt: str) -> str:
        """The new instruction for a reflection prompt (deterministic given the prompt)."""
        # The meta-prompt's own text never contains the keys, so their first occurrence is the
        # current instruction. A prompt showing both keys is not one predictor's: refuse it.
        keys = [key for key in (TOPICS_KEY, RULES_KEY) if key in prompt]
        if len(keys) != 1:
            self.counts.add("unrecognized")
            return "Answer carefully."
        key = keys[0]
        known = known_items(prompt, key)
        missing = [item for item in dict.fromkeys(_NEEDS[key].findall(prompt)) if item not in known]
        digest = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
        if self._is_decoy(digest):
            self.counts.add("decoys")
            return instruction_with(key, [*known, DECOY_TOPIC] if DECOY_TOPIC not in known else known)
        if not missing:
            self.counts.add("nothing_missing")
            return instruction_with(key, known)
        return instruction_with(key, [*known, missing[0]])

    def _is_decoy(self, digest: int) -> bool:
        if self.decoy_percent is not None:
            return digest % 100 < self.decoy_percent
        return bool(self.noise_modulus) and digest % self.noise_modulus == 0

    @staticmethod
    def _format(messages: list[dict[str, Any]], instruction: str) -> str:
        try:
            fields = parse_requested_output_fields(messages)
        except ChatPromptError:
            return f"Here is the improved instruction:\n```\n{instruction}\n```\n"
        if is_json_adapter_prompt(messages):
            return format_json_adapter_reply({name: instruction for name in fields})
        return reply_for_prompt(messages, {name: instruction for name in fields})


# -- running one optimizer ----------------------------------------------------------------------


@dataclass
class RunResult:
    """One optimizer's run, measured at the server."""

    implementation: str
    wall_s: float
    task_lm_calls: int
    reflection_lm_calls: int
    lm_calls: int
    #: Tokens generated (the scripted count: words), measured at the server.
    task_tokens: int
    reflection_tokens: int
    reflection_tokens_per_accepted_child: float | None
    lm_request_s: float
    mean_in_flight: float
    mean_in_flight_when_busy: float
    max_in_flight: int
    overhead_s: float
    overhead_fraction: float
    lm_errors: int
    metric_calls: int | None
    num_candidates: int | None
    best_val_score: float | None
    seed_val_score: float | None
    wall_per_metric_call_ms: float | None
    sequential_lm_rounds: float | None
    reflection: dict[str, int]
    best_instructions: dict[str, str]
    #: Our GEPA's ``reflection*`` counters from ``detailed_results`` (calls, tokens, rejections per reason); {} for
    #: dspy.GEPA, which reports none.
    reflection_counters: dict[str, int] = field(default_factory=dict)


def make_optimizer(
    implementation: str, *, budget: int, num_threads: int, seed: int, reflection_lm: dspy.LM, parallel_proposals: int = 1,
) -> Any:
    """``gepa_dspy.GEPA`` or ``dspy.GEPA`` with identical arguments (the parallel variants of ours add
    ``num_parallel_proposals=parallel_proposals`` and their ``parallel_proposal_mode``)."""
    extra: dict[str, Any] = {}
    if implementation in OURS:
        from gepa_dspy import GEPA
        if implementation in PARALLEL_IMPLEMENTATIONS:
            extra["num_parallel_proposals"] = parallel_proposals
            extra["parallel_proposal_mode"] = PARALLEL_IMPLEMENTATIONS[implementation]
    elif implementation == "dspy":
        GEPA = dspy.GEPA  # noqa: N806 - the class under comparison
    else:
        raise ValueError(f"unknown implementation {implementation!r}; choose from {IMPLEMENTATIONS}")
    return GEPA(
        metric=metric,
        max_metric_calls=budget,
        reflection_lm=reflection_lm,
        num_threads=num_threads,
        seed=seed,
        track_stats=True,
        **extra,
    )


def _result_field(details: Any, name: str) -> Any:
    if details is None:
        return None
    return details.get(name) if isinstance(details, dict) else getattr(details, name, None)


def run_one(
    implementation: str,
    server: ScriptedOpenAIServer,
    reflection: ReflectionResponder,
    *,
    budget: int,
    num_threads: int,
    seed: int,
    n_train: int,
    n_val: int,
    parallel_proposals: int = 1,
) -> RunResult:
    """Compile ``TopicQA`` with one implementation and read the server's measurements."""
    trainset, valset = build_dataset(seed, n_train, n_val)
    task_lm = dspy.LM(f"openai/{TASK_MODEL}", api_base=server.url, api_key="scripted", cache=False)
    reflection_lm = dspy.LM(f"openai/{REFLECTION_MODEL}", api_base=server.url, api_key="scripted", cache=False)
    optimizer = make_optimizer(implementation, budget=budget, num_threads=num_threads, seed=seed,
                               reflection_lm=reflection_lm, parallel_proposals=parallel_proposals)
    before = reflection.counts.as_dict()
    server.reset_stats()
    with dspy.context(lm=task_lm):
        started = time.perf_counter()
        optimized = optimizer.compile(TopicQA(), trainset=trainset, valset=valset)
        wall = time.perf_counter() - started
    stats = server.stats()
    if server.responder_errors:
        raise RuntimeError(f"the scripted responders failed:\n{server.responder_errors[0]}")
    details = getattr(optimized, "detailed_results", None)
    scores = _result_field(details, "val_aggregate_scores")
    candidates = _result_field(details, "candidates")
    best_idx = _result_field(details, "best_idx")
    after = reflection.counts.as_dict()
    metric_calls = _result_field(details, "total_metric_calls")
    tokens = stats.completion_tokens_by_model
    reflection_tokens = tokens.get(REFLECTION_MODEL, 0)
    children = len(candidates) - 1 if candidates else 0
    counters = _result_field(details, "counters") or {}
    return RunResult(
        implementation=implementation,
        wall_s=wall,
        task_lm_calls=stats.requests_by_model.get(TASK_MODEL, 0),
        reflection_lm_calls=stats.requests_by_model.get(REFLECTION_MODEL, 0),
        lm_calls=stats.total_requests,
        task_tokens=tokens.get(TASK_MODEL, 0),
        reflection_tokens=reflection_tokens,
        reflection_tokens_per_accepted_child=reflection_tokens / children if children > 0 else None,
        lm_request_s=stats.request_s,
        mean_in_flight=stats.request_s / wall if wall > 0 else 0.0,
        mean_in_flight_when_busy=stats.mean_in_flight_when_busy,
        max_in_flight=stats.max_in_flight,
        overhead_s=stats.idle_s,
        overhead_fraction=stats.idle_s / stats.window_s if stats.window_s > 0 else 0.0,
        lm_errors=stats.error_requests,
        metric_calls=metric_calls,
        num_candidates=len(candidates) if candidates is not None else None,
        best_val_score=float(scores[best_idx]) if scores is not None and best_idx is not None else None,
        seed_val_score=float(scores[0]) if scores else None,
        wall_per_metric_call_ms=1000 * wall / metric_calls if metric_calls else None,
        sequential_lm_rounds=stats.busy_s / server.latency_s if server.latency_s > 0 else None,
        reflection={k: after[k] - before[k] for k in after},
        best_instructions={name: p.signature.instructions for name, p in optimized.named_predictors()},
        reflection_counters={k: v for k, v in counters.items() if k.startswith("reflection")},
    )


# -- the benchmark ------------------------------------------------------------------------------


def available_implementations(parallel_proposals: int = 1) -> list[str]:
    """The implementations importable here (ours exists once ``gepa_dspy.GEPA`` is committed); the parallel
    variants of ours only when ``parallel_proposals`` > 1."""
    found = ["dspy"]
    try:
        from gepa_dspy import GEPA  # noqa: F401
    except ImportError:
        return found
    return ["ours", *(PARALLEL_IMPLEMENTATIONS if parallel_proposals > 1 else []), *found]


def run_benchmark(
    *,
    budget: int = 300,
    latency_ms: float = 200.0,
    num_threads: int = 8,
    seed: int = 0,
    implementations: Sequence[str] | None = None,
    per_token_ms: float = 0.0,
    n_train: int = 24,
    n_val: int = 16,
    progress: bool = False,
    parallel_proposals: int = 1,
    noise_modulus: int = NOISE_MODULUS,
    decoy_percent: int | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Run each implementation once against one scripted server; returns the JSON-ready report.

    ``parallel_proposals`` > 1 adds the runs ``ours_parallel`` and ``ours_prefetch`` (our GEPA with
    ``num_parallel_proposals=parallel_proposals`` in each ``parallel_proposal_mode``)."""
    if budget < 1 or num_threads < 1 or n_train < 1 or n_val < 1 or parallel_proposals < 1:
        raise ValueError("budget, num_threads, n_train, n_val and parallel_proposals must be >= 1")
    if latency_ms < 0 or per_token_ms < 0:
        raise ValueError("latency_ms and per_token_ms must be >= 0")
    chosen = list(implementations or available_implementations(parallel_proposals))
    for name in chosen:
        if name not in IMPLEMENTATIONS:
            raise ValueError(f"unknown implementation {name!r}; choose from {IMPLEMENTATIONS}")
    reflection = ReflectionResponder(noise_modulus, decoy_percent)

    def responder(messages: list[dict[str, Any]], model: str) -> str:
        if model == REFLECTION_MODEL:
            return reflection(messages, model)
        if model == TASK_MODEL:
            return task_responder(messages, model)
        raise ValueError(f"unexpected model {model!r}")

    runs: dict[str, dict[str, Any]] = {}
    with ScriptedOpenAIServer(responder, latency_s=latency_ms / 1000.0, per_token_s=per_token_ms / 1000.0,
                              models=[TASK_MODEL, REFLECTION_MODEL]) as server:
        _warm_up(server)
        for name in chosen:
            log(f"running {name} (budget {budget}, latency {latency_ms:g} ms, {num_threads} threads)...")
            with _quiet(not progress):  # the optimizers' progress bars (dspy writes them to stdout)
                result = run_one(name, server, reflection, budget=budget, num_threads=num_threads, seed=seed,
                                 n_train=n_train, n_val=n_val, parallel_proposals=parallel_proposals)
            runs[name] = asdict(result)
            log(f"  {name}: {result.wall_s:.2f} s, {result.lm_calls} LM calls, {result.reflection_tokens} reflection tokens")
    report: dict[str, Any] = {
        "benchmark": "orchestration",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"budget": budget, "latency_ms": latency_ms, "per_token_ms": per_token_ms,
                     "num_threads": num_threads, "seed": seed,
                     "n_train": n_train, "n_val": n_val, "topics": len(TOPICS), "parallel_proposals": parallel_proposals,
                     "noise_modulus": noise_modulus, "decoy_percent": decoy_percent},
        "environment": {"python": platform.python_version(), "dspy": dspy.__version__, "cpus": os.cpu_count(),
                        "machine": platform.machine()},
        "runs": runs,
    }
    for name in OURS:
        if name in runs and "dspy" in runs:
            report[f"ratios_{name}_over_dspy"] = {key: _ratio(runs[name][key], runs["dspy"][key]) for key in RATIO_KEYS}
    return report


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _warm_up(server: ScriptedOpenAIServer) -> None:
    """One call per model so imports and connection setup are not charged to the first run."""
    lm = dspy.LM(f"openai/{TASK_MODEL}", api_base=server.url, api_key="scripted", cache=False)
    with dspy.context(lm=lm):
        TopicQA()(question="Question 0 is about music.")


RATIO_KEYS = ("wall_s", "lm_calls", "task_lm_calls", "reflection_lm_calls", "reflection_tokens",
              "reflection_tokens_per_accepted_child", "task_tokens", "mean_in_flight", "overhead_s",
              "overhead_fraction", "metric_calls", "wall_per_metric_call_ms", "sequential_lm_rounds", "best_val_score")


def _ratio(ours: Any, theirs: Any) -> float | None:
    if not isinstance(ours, (int, float)) or not isinstance(theirs, (int, float)) or theirs == 0:
        return None
    return ours / theirs


TABLE_ROWS = (
    ("wall time (s)", "wall_s", "{:.2f}"),
    ("LM calls (total)", "lm_calls", "{:d}"),
    ("  task LM calls", "task_lm_calls", "{:d}"),
    ("  reflection LM calls", "reflection_lm_calls", "{:d}"),
    ("reflection tokens generated", "reflection_tokens", "{:d}"),
    ("  per accepted child", "reflection_tokens_per_accepted_child", "{:.0f}"),
    ("task tokens generated", "task_tokens", "{:d}"),
    ("metric calls used", "metric_calls", "{:d}"),
    ("wall per metric call (ms)", "wall_per_metric_call_ms", "{:.1f}"),
    ("mean in-flight requests", "mean_in_flight", "{:.2f}"),
    ("  while the LM is busy", "mean_in_flight_when_busy", "{:.2f}"),
    ("max in-flight requests", "max_in_flight", "{:d}"),
    ("LM busy time / latency", "sequential_lm_rounds", "{:.0f}"),
    ("overhead: 0 in flight (s)", "overhead_s", "{:.2f}"),
    ("overhead share of wall", "overhead_fraction", "{:.1%}"),
    ("candidates", "num_candidates", "{:d}"),
    ("best val score", "best_val_score", "{:.3f}"),
)


def format_table(report: dict[str, Any]) -> str:
    """A side-by-side text table of the runs, with ours / dspy.GEPA ratios when both ran."""
    runs = report["runs"]
    k = report["settings"].get("parallel_proposals", 1)
    names = [name for name in IMPLEMENTATIONS if name in runs]
    headers = ["metric", *[COLUMN_NAMES[n].format(k=k) for n in names]]
    ratio_names = [n for n in OURS if f"ratios_{n}_over_dspy" in report]
    headers += [RATIO_HEADERS[n] for n in ratio_names]
    rows = []
    for label, key, fmt in TABLE_ROWS:
        row = [label]
        for name in names:
            value = runs[name].get(key)
            row.append("n/a" if value is None else fmt.format(value))
        for name in ratio_names:
            ratio = report[f"ratios_{name}_over_dspy"].get(key)
            row.append("" if ratio is None else f"{ratio:.2f}x")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    s = report["settings"]
    lines.append(f"budget {s['budget']} metric calls, latency {s['latency_ms']:g} ms per LM call "
                 f"+ {s.get('per_token_ms', 0):g} ms per generated token, "
                 f"num_threads {s['num_threads']}, seed {s['seed']}, train {s['n_train']} / val {s['n_val']}")
    return "\n".join(lines)


def quality_sweep(
    seeds: Sequence[int],
    *,
    implementations: Sequence[str],
    budget: int = 300,
    latency_ms: float = 0.0,
    per_token_ms: float = 0.0,
    num_threads: int = 8,
    n_train: int = 24,
    n_val: int = 16,
    parallel_proposals: int = 1,
    noise_modulus: int = NOISE_MODULUS,
    decoy_percent: int | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Best validation score at equal budget over several seeds, per implementation, with each run's wall time
    and reflection tokens.

    Every reply of the scripted server depends only on the prompt, so scores and metric calls do not
    depend on the latency: a sweep at ``latency_ms=0`` gives the figures a 200 ms run would give. With a
    latency (``latency_ms`` and ``per_token_ms``) the wall times compare the implementations' speed as well.
    """
    per_seed: dict[str, list[dict[str, Any]]] = {name: [] for name in implementations}
    for seed in seeds:
        report = run_benchmark(budget=budget, latency_ms=latency_ms, per_token_ms=per_token_ms,
                               num_threads=num_threads, seed=seed,
                               implementations=implementations, n_train=n_train, n_val=n_val,
                               parallel_proposals=parallel_proposals, noise_modulus=noise_modulus,
                               decoy_percent=decoy_percent)
        for name in implementations:
            run = report["runs"][name]
            per_seed[name].append({"seed": seed, "best_val_score": run["best_val_score"],
                                   "metric_calls": run["metric_calls"], "num_candidates": run["num_candidates"],
                                   "wall_s": run["wall_s"], "reflection_lm_calls": run["reflection_lm_calls"],
                                   "reflection_tokens": run["reflection_tokens"],
                                   "reflection_tokens_per_accepted_child": run["reflection_tokens_per_accepted_child"],
                                   "reflection_counters": run["reflection_counters"]})
        log(f"seed {seed}: " + ", ".join(f"{n} {report['runs'][n]['best_val_score']:.3f}" for n in implementations))
    summary = {}
    for name, rows in per_seed.items():
        scores = [r["best_val_score"] for r in rows]
        calls = [r["metric_calls"] for r in rows]
        per_child = [r["reflection_tokens_per_accepted_child"] for r in rows
                     if r["reflection_tokens_per_accepted_child"] is not None]
        summary[name] = {"mean_best_val_score": sum(scores) / len(scores), "min_best_val_score": min(scores),
                         "max_best_val_score": max(scores), "mean_metric_calls": sum(calls) / len(calls),
                         "max_metric_calls": max(calls),
                         "mean_wall_s": sum(r["wall_s"] for r in rows) / len(rows),
                         "mean_reflection_lm_calls": sum(r["reflection_lm_calls"] for r in rows) / len(rows),
                         "mean_reflection_tokens": sum(r["reflection_tokens"] for r in rows) / len(rows),
                         "mean_reflection_tokens_per_accepted_child": (sum(per_child) / len(per_child)
                                                                       if per_child else None),
                         "per_seed": rows}
    return {
        "benchmark": "orchestration-quality",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"budget": budget, "latency_ms": latency_ms, "per_token_ms": per_token_ms,
                     "num_threads": num_threads, "seeds": list(seeds),
                     "n_train": n_train, "n_val": n_val, "parallel_proposals": parallel_proposals,
                     "noise_modulus": noise_modulus, "decoy_percent": decoy_percent},
        "summary": summary,
    }


def format_quality_table(report: dict[str, Any]) -> str:
    """Mean / min / max best validation score and metric calls per implementation."""
    k = report["settings"]["parallel_proposals"]
    lines = [f"{'implementation':<20} {'mean best val':>13} {'min':>6} {'max':>6} {'mean calls':>10} {'max calls':>9} "
             f"{'mean wall s':>11} {'refl. calls':>11} {'refl. tokens':>12} {'tokens/child':>12}"]
    for name, row in report["summary"].items():
        per_child = row.get("mean_reflection_tokens_per_accepted_child")
        lines.append(f"{COLUMN_NAMES[name].format(k=k):<20} {row['mean_best_val_score']:>13.3f} {row['min_best_val_score']:>6.3f} "
                     f"{row['max_best_val_score']:>6.3f} {row['mean_metric_calls']:>10.1f} {row['max_metric_calls']:>9d} "
                     f"{row.get('mean_wall_s', 0.0):>11.2f} {row.get('mean_reflection_lm_calls', 0.0):>11.1f} "
                     f"{row.get('mean_reflection_tokens', 0.0):>12.0f} "
                     f"{'n/a' if per_child is None else format(per_child, '.0f'):>12}")
    s = report["settings"]
    lines.append(f"budget {s['budget']}, seeds {s['seeds'][0]}..{s['seeds'][-1]} ({len(s['seeds'])}), "
                 f"num_threads {s['num_threads']}, train {s['n_train']} / val {s['n_val']}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=300, help="max_metric_calls for both optimizers")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="artificial base latency per LM call")
    parser.add_argument("--per-token-ms", type=float, default=0.0,
                        help="artificial latency per generated token of each reply (a token is a word here)")
    parser.add_argument("--num-threads", type=int, default=8, help="num_threads for both optimizers")
    parser.add_argument("--seed", type=int, default=0, help="optimizer seed and data shuffle")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON report")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, action="append",
                        help="run only this implementation (repeatable); default: every one available")
    parser.add_argument("--progress", action="store_true", help="show the optimizers' progress bars")
    parser.add_argument("--n-train", type=int, default=24)
    parser.add_argument("--n-val", type=int, default=16)
    parser.add_argument("--parallel-proposals", type=int, default=1, metavar="K",
                        help="also run our GEPA with num_parallel_proposals=K in every parallel_proposal_mode "
                             "(ours_parallel: independent, ours_prefetch: "
                             "prefetch); default 1: off")
    parser.add_argument("--noise-modulus", type=int, default=NOISE_MODULUS, metavar="M",
                        help="one reflection prompt in M (by hash) proposes a useless decoy; smaller M means more "
                             "rejected proposals (0: none)")
    parser.add_argument("--decoy-percent", type=int, default=None, metavar="P",
                        help="instead of --noise-modulus: P percent of reflection prompts (by hash) propose the "
                             "decoy, e.g. 80 for a run where most proposals are rejected, as in real runs")
    parser.add_argument("--quality-seeds", type=int, default=0, metavar="N",
                        help="instead of one run, report the best val score, wall time and reflection tokens over "
                             "seeds 0..N-1 (decisions do not depend on latency: for scores alone use --latency-ms 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("dspy").setLevel(logging.WARNING)
    logging.getLogger("gepa").setLevel(logging.WARNING)
    available = available_implementations(args.parallel_proposals)
    chosen = args.only or available
    if args.only is None and "ours" not in chosen:
        print("note: gepa_dspy.GEPA is not importable yet; running dspy.GEPA only", file=sys.stderr)
    if set(chosen) & set(PARALLEL_IMPLEMENTATIONS) and args.parallel_proposals < 2:
        print("error: ours_parallel and ours_prefetch need --parallel-proposals K with K >= 2",
              file=sys.stderr)
        return 2
    if args.quality_seeds > 0:
        quality = quality_sweep(range(args.quality_seeds), implementations=chosen, budget=args.budget,
                                latency_ms=args.latency_ms, per_token_ms=args.per_token_ms,
                                num_threads=args.num_threads, n_train=args.n_train,
                                n_val=args.n_val, parallel_proposals=args.parallel_proposals,
                                noise_modulus=args.noise_modulus, decoy_percent=args.decoy_percent,
                                log=lambda message: print(message, file=sys.stderr))
        return write_report(args.out, quality, format_quality_table(quality))
    report = run_benchmark(budget=args.budget, latency_ms=args.latency_ms, per_token_ms=args.per_token_ms,
                           num_threads=args.num_threads,
                           seed=args.seed, implementations=chosen, n_train=args.n_train, n_val=args.n_val, progress=args.progress,
                           parallel_proposals=args.parallel_proposals, noise_modulus=args.noise_modulus,
                           decoy_percent=args.decoy_percent, log=lambda message: print(message, file=sys.stderr))
    return write_report(args.out, report, format_table(report))


def write_report(path: Path, report: dict[str, Any], table: str) -> int:
    """Write ``report`` as JSON to ``path``, print ``table`` and where it went; the exit code 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
