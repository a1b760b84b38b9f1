"""Reflection replies side by side on the real LM (issue 32): reply tokens per minibatch win.

For each fast task and a few training minibatches (drawn from the task's seed-0 training split), the seed program
runs the minibatch once (traces kept); then each proposer variant reflects on the same runs and its child runs the
same minibatch. What is recorded per proposal: reflection calls, generated tokens, seconds, the rejection reasons,
the child's instruction and its minibatch score against the parent's. A proposal "wins" when its child beats the
parent's minibatch sum, the test a child passes before GEPA scores it on the valset, so reflection tokens per win
approximate reflection tokens per accepted child at a fraction of a GEPA run's cost.

Variants:
- ``ours@CAP``: our ``ReflectionProposer`` with the reflection LM's ``max_tokens=CAP`` (it asks for an instruction
  of about half the cap and retries as in a GEPA run); ``ours@CAP/WORDS`` asks for at most WORDS words instead;
- ``dspy@CAP``: the reflection the installed ``dspy.GEPA`` uses by default (DSPy >= 3.4: its
  ``InstructionProposer``, a ``dspy.Predict`` through a ``JSONAdapter``), called, not copied, on the same records;
  it rejects nothing, so every reply is tried;
- ``gepa-signature@CAP``: the ``gepa`` package's ``InstructionProposalSignature``, the reflection ``dspy.GEPA`` used
  before DSPy 3.4 (rows of this file made before 2026-12-05 04:00 UTC under the name ``dspy@CAP`` are this one).

Every row carries a digest of the records reflected on. A resumed minibatch runs the parent again, and the LM is not
bit-for-bit repeatable, so its records can differ; the summary keeps only (task, minibatch) cells where every
variant has a row and the known digests agree.

    python -m benchmarks.fast.reflection_replies --url http://127.0.0.1:8093 --minibatches 3 \\
        --variants ours@1024,dspy@1024 --out benchmarks/results/fast/reflection_replies.jsonl

Each proposal is one JSON line; a second run with the same ``--out`` skips the proposals already there.
``--summary`` prints the table from the file alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any, Sequence

import dspy
import pandas as pd

import benchmarks
from benchmarks.compare.run import git_revision
from gepa_dspy.adapter.evaluation import DSPyEvaluator
from gepa_dspy.adapter.program import seed_candidate
from gepa_dspy.adapter.reflection import ReflectionProposer, dataset_builder_for
from gepa_dspy.engine.records import Outcome

from .registry import PREFIX

TASKS = ("ticket_router", "expense_policy", "name_format", "due_date")
MINIBATCH = 3


def _lm(url: str, max_tokens: int, temperature: float) -> dspy.LM:
    base = url.rstrip("/")
    base = base if base.endswith("/v1") else f"{base}/v1"
    return dspy.LM("openai/local", api_base=base, api_key="local", cache=False,
                   temperature=temperature, max_tokens=max_tokens, num_retries=2, timeout=600)


def _run(evaluator: DSPyEvaluator, candidate: dict[str, str], ids: Sequence[str]) -> list[tuple[str, Outcome]]:
    runs: dict[str, Outcome] = {}
    evaluator.evaluate(candidate, ids, lambda example_id, outcome: runs.__setitem__(example_id, outcome))
    return [(i, runs[i]) for i in ids]


def _as_dspy_dataset(records: Sequence[Any]) -> list[dict[str, Any]]:
    """The records as dspy.GEPA's adapter hands them to its proposer."""
    return [{"Inputs": r.inputs, "Generated Outputs": r.outputs, "Feedback": r.feedback} for r in records]


def records_digest(records: Sequence[Any]) -> str:
    """A short digest of what a proposer reflects on (inputs, outputs, feedback)."""
    text = json.dumps(_as_dspy_dataset(records), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dspy_reflection(lm: dspy.LM, component: str, instruction: str, records: Sequence[Any],
                     kind: str) -> tuple[str | None, int, int, list[str]]:
    """dspy.GEPA's reflection on ``records``: (new instruction, generated tokens, LM calls, rejections).

    ``kind`` "dspy": the proposer the installed dspy.GEPA builds when given none (``InstructionProposer``, DSPy >=
    3.4; it raises on a reply it cannot parse, which dspy.GEPA counts as a failed proposal). "gepa-signature": the
    ``gepa`` package's ``InstructionProposalSignature`` (dspy.GEPA's reflection before DSPy 3.4).
    """
    dataset = _as_dspy_dataset(records)
    before = len(lm.history)
    text, rejections = None, []
    try:
        if kind == "dspy":
            from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

            with dspy.context(lm=lm):
                text = InstructionProposer()({component: instruction}, {component: dataset}, [component])[component]
        else:
            from gepa.strategies.instruction_proposal import InstructionProposalSignature

            reply = InstructionProposalSignature.run(
                lambda prompt: lm(prompt)[0], {"current_instruction_doc": instruction, "dataset_with_feedback": dataset})
            text = reply["new_instruction"]
    except Exception as exc:  # noqa: BLE001 - a failed proposal is a result here, as in dspy.GEPA
        rejections.append(f"error: {type(exc).__name__}")
    usage = [entry.get("usage") or {} for entry in lm.history[before:]]
    return text, sum(int(u.get("completion_tokens") or 0) for u in usage), len(usage), rejections


def propose(variant: str, url: str, evaluator: DSPyEvaluator, parent: dict[str, str], component: str,
            runs: list[tuple[str, Outcome]], records: Sequence[Any]) -> dict[str, Any]:
    kind, setting = variant.split("@")
    cap, _, words = setting.partition("/")
    lm = _lm(url, int(cap), temperature=0.7)
    start = time.perf_counter()
    if kind == "ours":
        proposer = ReflectionProposer(lm, evaluator)
        if words:  # an experiment: ask for fewer words than the cap implies (the retry after a cut halves these)
            proposer.word_limit = int(words)
        result = proposer.propose(parent, component, runs)
        counters = proposer.reflection_counters()
        text, tokens, rejections = result.text, counters["reflection_completion_tokens"], list(result.rejections)
        calls = counters["reflection_lm_calls"]
    elif kind in ("dspy", "gepa-signature"):
        text, tokens, calls, rejections = _dspy_reflection(lm, component, parent[component], records, kind)
    else:
        raise ValueError(f"unknown variant {variant!r}: ours@CAP[/WORDS], dspy@CAP or gepa-signature@CAP")
    return {"text": text, "reflection_tokens": tokens, "reflection_calls": calls, "rejections": rejections,
            "reflection_seconds": round(time.perf_counter() - start, 2)}


def run(url: str, variants: Sequence[str], minibatches: int, out: Path, num_threads: int,
        tasks: Sequence[str] = TASKS) -> None:
    done: set[tuple[str, int, str]] = set()
    digests: dict[tuple[str, int], str] = {}
    if out.exists():
        for r in map(json.loads, out.read_text().splitlines()):
            done.add((r["task"], r["minibatch"], r["variant"]))
            if r.get("records_digest"):
                digests[(r["task"], r["minibatch"])] = r["records_digest"]
    task_lm = _lm(url, 128, temperature=0.0)
    code = git_revision(Path(__file__).resolve().parents[2])  # each row says which proposer code wrote it
    for task in tasks:
        module = benchmarks.get(PREFIX + task)
        train = module.load_splits(scale="fast", seed=0).train
        examples = {str(i): ex for i, ex in enumerate(train)}
        evaluator = DSPyEvaluator(module.make_program(), examples, module.metric, num_threads=num_threads)
        parent = seed_candidate(evaluator.student)
        components = sorted(parent)
        order = list(examples)
        random.Random(f"reflection-replies-{task}").shuffle(order)
        for b in range(minibatches):
            todo = [v for v in variants if (task, b, v) not in done]
            if not todo:
                continue
            ids = order[b * MINIBATCH:(b + 1) * MINIBATCH]
            component = components[b % len(components)]
            with dspy.context(lm=task_lm):
                parent_runs = _run(evaluator, parent, ids)
            parent_sum = sum(o.score for _, o in parent_runs)
            records = dataset_builder_for(evaluator).build(parent, component, parent_runs)
            digest = records_digest(records)
            if digests.get((task, b), digest) != digest:
                print(f"[reflection-replies] {task} minibatch {b}: the parent's runs differ from the earlier "
                      "variants' (LM nondeterminism); the summary leaves this minibatch out", flush=True)
            for variant in todo:
                with dspy.context(lm=task_lm):
                    row = propose(variant, url, evaluator, parent, component, parent_runs, records)
                    child_sum = None
                    if row["text"] is not None:
                        child = {**parent, component: row["text"]}
                        child_sum = sum(o.score for _, o in _run(evaluator, child, ids))
                row.update(task=task, minibatch=b, variant=variant, code=code, component=component,
                           records_digest=digest, parent_sum=parent_sum, child_sum=child_sum,
                           won=child_sum is not None and child_sum > parent_sum,
                           words=len(row["text"].split()) if row["text"] else 0)
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"[reflection-replies] {task} minibatch {b} {variant}: {row['reflection_tokens']} tokens, "
                      f"{row['reflection_seconds']} s, rejections {row['rejections']}, parent {parent_sum} -> child "
                      f"{child_sum}", flush=True)


def summary(out: Path, variants: Sequence[str] = ()) -> str:
    """The side-by-side table of ``out``'s rows (of ``variants`` only, when given)."""
    frame = pd.DataFrame([json.loads(line) for line in out.read_text().splitlines()])
    if not frame.empty and variants:
        frame = frame[frame.variant.isin(list(variants))]
    if frame.empty:
        return "_no proposals yet_"
    frame, left_out = comparable_cells(frame)
    if frame.empty:
        return f"_no minibatch has a row of every variant yet ({left_out} left out)_"
    table = frame.groupby("variant").agg(
        proposals=("won", "size"), children=("text", lambda s: int(s.notna().sum())), wins=("won", "sum"),
        reflection_calls=("reflection_calls", "sum"), reflection_tokens=("reflection_tokens", "sum"),
        reflection_minutes=("reflection_seconds", lambda s: s.sum() / 60), mean_words=("words", "mean"))
    table["tokens_per_win"] = table.reflection_tokens / table.wins.where(table.wins > 0)
    table["tokens_per_child"] = table.reflection_tokens / table.children.where(table.children > 0)
    cells = frame.groupby(["task", "minibatch"]).ngroups
    return (f"{cells} minibatches with a row of every variant on the same records ({left_out} left out)\n\n"
            + table.round(1).to_markdown())


def comparable_cells(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of (task, minibatch) cells every variant has, reflecting on the same records; and how many cells
    were left out."""
    variants = frame.variant.nunique()
    if "records_digest" not in frame:
        frame = frame.assign(records_digest=None)

    def comparable(cell: pd.DataFrame) -> bool:
        return cell.variant.nunique() == variants and cell.records_digest.dropna().nunique() <= 1

    keep = frame.groupby(["task", "minibatch"]).filter(comparable)
    left_out = frame.groupby(["task", "minibatch"]).ngroups - keep.groupby(["task", "minibatch"]).ngroups
    return keep, left_out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fast.reflection_replies", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8093", help="an OpenAI-compatible server (gepa-dspy serve)")
    p.add_argument("--variants", default="ours@1024,dspy@1024")
    p.add_argument("--minibatches", type=int, default=3, help="training minibatches per task")
    p.add_argument("--num-threads", type=int, default=3)
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--out", default="benchmarks/results/fast/reflection_replies.jsonl")
    p.add_argument("--summary", action="store_true", help="only print the table of --out (rows of --variants)")
    args = p.parse_args(argv)
    out = Path(args.out)
    variants = [v for v in args.variants.split(",") if v]
    if not args.summary:
        out.parent.mkdir(parents=True, exist_ok=True)
        run(args.url, variants, args.minibatches, out, args.num_threads, [t for t in args.tasks.split(",") if t])
    print(summary(out, variants))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
