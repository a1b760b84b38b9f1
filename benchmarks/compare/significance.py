"""Is a gain over the baseline more than test-set noise? Paired bootstrap over test examples.

Every optimizer's program is scored on the same test examples of a seed (same benchmark, split and
sizes), so its per-example scores pair with the baseline's. The gain is the mean paired difference over
all (seed, example) pairs; its interval comes from resampling examples with replacement within each seed.

The interval covers only which test examples were drawn. It does not cover run-to-run variance of the
optimizer beyond the seeds that ran, nor an LM that answers differently from run to run (a local server
does at temperature 0, see docs/compare.md), so read it as a lower bound on the uncertainty.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

REFERENCE = "baseline"
RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedGain:
    """One optimizer's test gain over the reference on one benchmark (scores in [0, 1])."""

    benchmark: str
    optimizer: str
    gain: float
    low: float
    high: float
    pairs: int
    seeds: tuple[int, ...]
    #: Seeds with both runs whose test examples could not be shown to be the same, or whose metric settings
    #: differ (never paired).
    unpaired_seeds: tuple[int, ...] = field(default=())

    @property
    def verdict(self) -> str:
        """``better`` or ``worse`` when the interval excludes 0, ``within noise`` when it contains 0, and
        ``no difference`` when every paired example scored the same (the interval is then [0, 0])."""
        if self.low == self.high == 0:
            return "no difference"
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "within noise"


def split_digest(examples: Sequence[Any]) -> str:
    """A digest of a split's examples in order, stored in run records so pairs are checked, not assumed."""
    digest = hashlib.sha256()
    for example in examples:
        data = example.toDict() if hasattr(example, "toDict") else dict(example)
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _pairable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same test examples, scored by a metric with the same settings (e.g. PUPA's judge format)."""
    return _same_test_examples(a, b) and _metric_settings(a) == _metric_settings(b)


def _metric_settings(record: dict[str, Any]) -> Any:
    return (record.get("metric") or {}).get("settings")


def _same_test_examples(a: dict[str, Any], b: dict[str, Any]) -> bool:
    scores_a, scores_b = a["test"].get("scores"), b["test"].get("scores")
    if not scores_a or not scores_b or len(scores_a) != len(scores_b):
        return False
    digest_a, digest_b = a.get("split_digests", {}).get("test"), b.get("split_digests", {}).get("test")
    if digest_a is not None and digest_b is not None:
        return bool(digest_a == digest_b)
    # Records written before digests existed: the loader draws the split from these alone.
    keys = ("benchmark", "scale", "split_seed", "sizes")
    same_data = a.get("config", {}).get("data_dir") == b.get("config", {}).get("data_dir")
    return same_data and all(a.get(k) == b.get(k) for k in keys)


def paired_gain(benchmark: str, optimizer: str, runs: dict[int, tuple[dict[str, Any], dict[str, Any]]],
                resamples: int = RESAMPLES, confidence: float = CONFIDENCE, rng_seed: int = 0) -> PairedGain | None:
    """The gain of ``optimizer`` over the reference from ``runs``: seed -> (optimizer record, reference record).

    Returns None when no seed pairs up. The bootstrap is seeded, so the same records give the same interval.
    """
    diffs: list[np.ndarray] = []
    seeds, unpaired = [], []
    for seed in sorted(runs):
        mine, ref = runs[seed]
        if not _pairable(mine, ref):
            unpaired.append(seed)
            continue
        diffs.append(np.asarray(mine["test"]["scores"], dtype=float) - np.asarray(ref["test"]["scores"], dtype=float))
        seeds.append(seed)
    if not diffs:
        return None
    total = sum(len(d) for d in diffs)
    rng = np.random.default_rng(rng_seed)
    sums = np.zeros(resamples)
    for d in diffs:  # stratified: each seed keeps its own number of examples
        sums += d[rng.integers(0, len(d), size=(resamples, len(d)))].sum(axis=1)
    means = sums / total
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    gain = float(sum(d.sum() for d in diffs) / total)
    return PairedGain(benchmark, optimizer, gain, float(low), float(high), total, tuple(seeds), tuple(unpaired))


def paired_gains(records: Sequence[dict[str, Any]], reference: str = REFERENCE,
                 optimizers: Sequence[str] | None = None, **kwargs: Any) -> list[PairedGain]:
    """A ``PairedGain`` per (benchmark, optimizer other than the reference) with at least one paired seed.

    ``optimizers`` limits the rows (default: every optimizer in ``records``)."""
    by_key = {(r["benchmark"], r["optimizer"], r["seed"]): r for r in records}
    gains = []
    for benchmark, optimizer in sorted({(b, o) for b, o, _ in by_key
                                        if o != reference and (optimizers is None or o in optimizers)}):
        runs = {seed: (record, by_key[(benchmark, reference, seed)])
                for (b, o, seed), record in by_key.items()
                if (b, o) == (benchmark, optimizer) and (benchmark, reference, seed) in by_key}
        gain = paired_gain(benchmark, optimizer, runs, **kwargs)
        if gain is not None:
            gains.append(gain)
    return gains


def gains_markdown(gains: Sequence[PairedGain], benchmark_labels: dict[str, str], optimizer_labels: dict[str, str],
                   benchmarks: Sequence[str], optimizers: Sequence[str], reference: str = REFERENCE) -> str:
    """A Markdown table: ``optimizers`` (rows) x ``benchmarks`` (columns), in the order given, with each gain x100
    over ``reference``, its interval and a verdict."""
    if not gains:
        return ""
    ref = "the baseline" if reference == REFERENCE else optimizer_labels.get(reference, reference)
    cell = {(g.benchmark, g.optimizer): g for g in gains}
    lines = [
        "",
        f"Test gain over {ref} x100, paired by example, with a {CONFIDENCE:.0%} bootstrap interval "
        "(test examples resampled within each seed):",
        "",
        "| Optimizer | " + " | ".join(benchmark_labels.get(b, b) for b in benchmarks) + " |",
        "|---|" + "---|" * len(benchmarks),
    ]
    unpaired = []
    for opt in optimizers:
        cells = []
        for bench in benchmarks:
            g = cell.get((bench, opt))
            if g is None:
                cells.append("–")
                continue
            cells.append(f"{100 * g.gain:+.1f} [{100 * g.low:+.1f}, {100 * g.high:+.1f}] {g.verdict}")
            if g.unpaired_seeds:
                unpaired.append(f"{optimizer_labels.get(opt, opt)} on {benchmark_labels.get(bench, bench)}: "
                                f"seed(s) {', '.join(map(str, g.unpaired_seeds))}")
        lines.append(f"| {optimizer_labels.get(opt, opt)} | " + " | ".join(cells) + " |")
    if reference == REFERENCE:
        lines += ["", "The interval covers only the choice of test examples, not run-to-run variance of the optimizer "
                  "or of the LM, so it understates the uncertainty; \"within noise\" means it contains 0."]
    if unpaired:
        lines += ["", f"Left out because their test examples or metric settings differ from {ref}'s: "
                  + "; ".join(unpaired) + "."]
    return "\n".join(lines) + "\n"
