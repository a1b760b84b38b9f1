"""Our IFBench checkers against the reference checker's verdicts in ``<data_dir>/ifbench/checker_gold/``.

For every response of ``sample_output.jsonl`` our strict verdicts must reproduce
``eval_results_strict.jsonl`` and our loose verdicts ``eval_results_loose.jsonl``. The test prints
the agreement per instruction id and overall plus every disagreement, and fails below 98% overall.
A second test pins the disagreements we keep (explained in docs/benchmarks-ifbench.md) so that any
new one is noticed.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from benchmarks.common import resolve_data_dir  # noqa: E402
from benchmarks.ifbench import REGISTRY, follows  # noqa: E402
from benchmarks.ifbench.text import set_stopwords_dir  # noqa: E402

IFBENCH_DIR = resolve_data_dir() / "ifbench"
GOLD_DIR = IFBENCH_DIR / "checker_gold"
MIN_AGREEMENT = 0.98

#: Disagreements we keep, as (row of sample_output.jsonl, instruction id, rule). The reference calls
#: these imperative openings ("Conceive ...", "Understand ...", "Build ...") not verbs; see the docs.
KNOWN_DISAGREEMENTS = {
    (row, "words:start_verb", rule) for row in (257, 258, 261) for rule in ("strict", "loose")
}

pytestmark = pytest.mark.skipif(not GOLD_DIR.is_dir(), reason=f"IFBench checker gold data not found at {GOLD_DIR}")


@dataclass(frozen=True)
class Comparison:
    row: int
    instruction_id: str
    rule: str
    gold: bool
    ours: bool


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@lru_cache(maxsize=1)
def _comparisons() -> tuple[Comparison, ...]:
    set_stopwords_dir(IFBENCH_DIR)
    prompts = _jsonl(IFBENCH_DIR / "IFBench_test.jsonl")
    samples = _jsonl(GOLD_DIR / "sample_output.jsonl")
    gold = {"strict": _jsonl(GOLD_DIR / "eval_results_strict.jsonl"), "loose": _jsonl(GOLD_DIR / "eval_results_loose.jsonl")}
    assert len(prompts) == len(samples) == len(gold["strict"]) == len(gold["loose"])
    out = []
    for row, (record, sample) in enumerate(zip(prompts, samples)):
        assert sample["prompt"] == record["prompt"], f"row {row}: sample and test prompts differ"
        ids = record["instruction_id_list"]
        for rule in ("strict", "loose"):
            expected = gold[rule][row]["follow_instruction_list"]
            ours = follows(sample["response"], ids, record["kwargs"], record["prompt"], loose=rule == "loose")
            out += [Comparison(row, i, rule, g, o) for i, g, o in zip(ids, expected, ours)]
    return tuple(out)


def _report(comparisons: tuple[Comparison, ...]) -> str:
    per_id: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in comparisons:
        per_id[c.instruction_id][0] += c.gold == c.ours
        per_id[c.instruction_id][1] += 1
    agree = sum(c.gold == c.ours for c in comparisons)
    lines = [f"{'instruction id':40s} agree/total"]
    lines += [f"{i:40s} {a}/{n}" for i, (a, n) in sorted(per_id.items())]
    lines.append(f"OVERALL {agree}/{len(comparisons)} = {agree / len(comparisons):.2%} "
                 f"over {len(per_id)} instruction ids (strict and loose verdicts)")
    lines += [f"DISAGREE row {c.row} {c.instruction_id} {c.rule}: reference={c.gold} ours={c.ours}"
              for c in comparisons if c.gold != c.ours]
    return "\n".join(lines)


def test_agreement_with_reference_verdicts() -> None:
    comparisons = _comparisons()
    print(_report(comparisons))
    agreement = sum(c.gold == c.ours for c in comparisons) / len(comparisons)
    assert agreement >= MIN_AGREEMENT, _report(comparisons)


def test_only_known_disagreements() -> None:
    found = {(c.row, c.instruction_id, c.rule) for c in _comparisons() if c.gold != c.ours}
    assert found <= KNOWN_DISAGREEMENTS, f"new disagreements: {sorted(found - KNOWN_DISAGREEMENTS)}"


@pytest.mark.parametrize("filename", ["IFBench_test.jsonl", "IFEval_input_data.jsonl"])
def test_every_instruction_id_has_a_checker(filename: str) -> None:
    ids = {i for record in _jsonl(IFBENCH_DIR / filename) for i in record["instruction_id_list"]}
    assert ids - set(REGISTRY) == set()
