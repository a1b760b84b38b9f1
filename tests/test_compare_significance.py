"""The paired resampling interval behind the report's "gain over baseline" table (no LM, no data)."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from benchmarks.compare.report import gains_markdown, gains_table, paired_gain, paired_gains, pooled_interval
from benchmarks.compare.run import split_digest


def _record(optimizer: str, seed: int, scores: list[float], digest: str | None = "d", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"benchmark": "ifbench", "optimizer": optimizer, "seed": seed, "scale": "small",
                              "split_seed": seed, "sizes": {"train": 2, "val": 2, "test": len(scores)},
                              "config": {"data_dir": None}, "test": {"mean": sum(scores) / len(scores), "scores": scores}}
    if digest is not None:
        record["split_digests"] = {"test": f"{digest}{seed}"}
    record.update(extra)
    return record


def test_a_gain_on_every_example_is_better_and_no_gain_is_no_difference() -> None:
    base = [_record("baseline", s, [0.0] * 10) for s in (0, 1)]
    better = [_record("gepa", s, [1.0] * 10) for s in (0, 1)]
    same = [_record("mipro", s, [0.0] * 10) for s in (0, 1)]
    gains = {g.optimizer: g for g in paired_gains(base + better + same)}
    assert set(gains) == {"gepa", "mipro"}
    assert (gains["gepa"].gain, gains["gepa"].low, gains["gepa"].high, gains["gepa"].verdict) == (1.0, 1.0, 1.0, "better")
    assert gains["gepa"].pairs == 20 and gains["gepa"].seeds == (0, 1)
    assert gains["mipro"].verdict == "no difference"
    worse = paired_gains(base + [_record("gepa", s, [-0.5] * 10) for s in (0, 1)])[0]
    assert worse.verdict == "worse" and worse.gain == -0.5


def test_one_flipped_example_in_eight_is_within_noise_and_the_interval_is_reproducible() -> None:
    runs = {0: (_record("gepa", 0, [1.0] + [0.0] * 7), _record("baseline", 0, [0.0] * 8))}
    gain = paired_gain("ifbench", "gepa", runs)
    assert gain is not None and gain.gain == pytest.approx(0.125)
    assert gain.low == 0.0 and gain.high > 0.125 and gain.verdict == "within noise"
    assert paired_gain("ifbench", "gepa", runs) == gain  # seeded resampling


def test_seeds_are_resampled_separately_and_weighted_by_their_examples() -> None:
    runs = {0: (_record("gepa", 0, [1.0] * 2), _record("baseline", 0, [0.0] * 2)),
            1: (_record("gepa", 1, [0.0] * 6), _record("baseline", 1, [0.0] * 6))}
    gain = paired_gain("ifbench", "gepa", runs)
    # Seed 0 always contributes its two +1 differences, so every resample has the same mean: 2 / 8.
    assert gain is not None and gain.gain == gain.low == gain.high == pytest.approx(0.25)


def test_runs_on_different_test_examples_are_never_paired() -> None:
    base = [_record("baseline", 0, [0.0] * 4), _record("baseline", 1, [0.0] * 4)]
    mine = [_record("gepa", 0, [1.0] * 4, digest="other"), _record("gepa", 1, [1.0] * 4)]
    gain = paired_gains(base + mine)[0]
    assert gain.seeds == (1,) and gain.unpaired_seeds == (0,) and gain.pairs == 4
    text = gains_table(base + mine)
    assert ("Left out because their test examples or metric settings differ from the baseline's: "
            "GEPA (ours) on IFBench: seed(s) 0.") in text
    # Nothing pairs at all: no row, no table.
    assert paired_gains([base[0], mine[0]]) == [] and gains_table([base[0], mine[0]]) == ""
    # Different lengths never pair, even with the same digest.
    assert paired_gains([base[0], _record("gepa", 0, [1.0] * 5)]) == []


def test_records_without_digests_pair_only_when_the_split_is_drawn_the_same_way() -> None:
    base = _record("baseline", 0, [0.0] * 4, digest=None)
    assert paired_gains([base, _record("gepa", 0, [1.0] * 4, digest=None)])[0].pairs == 4
    other_split = _record("gepa", 0, [1.0] * 4, digest=None, split_seed=7)
    other_data = _record("gepa", 0, [1.0] * 4, digest=None, config={"data_dir": "/elsewhere"})
    assert paired_gains([base, other_split]) == [] and paired_gains([base, other_data]) == []
    # One record with a digest and one without: fall back to how the split was drawn.
    assert paired_gains([base, _record("gepa", 0, [1.0] * 4)])[0].pairs == 4


def test_no_baseline_means_no_gains_table() -> None:
    assert paired_gains([_record("gepa", 0, [1.0] * 4)]) == []
    assert gains_markdown([]) == ""


def test_split_digest_depends_on_the_examples_and_their_order() -> None:
    a = dspy.Example(question="q1", answer="a1").with_inputs("question")
    b = dspy.Example(question="q2", answer="a2").with_inputs("question")
    assert split_digest([a, b]) == split_digest([dspy.Example(question="q1", answer="a1"), b])
    assert split_digest([a, b]) != split_digest([b, a]) != split_digest([a])


def test_the_report_also_pairs_ours_with_dspy_gepa() -> None:
    records = [_record("baseline", 0, [0.0] * 10), _record("dspy_gepa", 0, [0.5] * 10), _record("gepa", 0, [1.0] * 10)]
    text = gains_table(records)
    assert "Test gain over the baseline x100" in text and "Test gain over dspy.GEPA x100" in text
    head_to_head = text.split("Test gain over dspy.GEPA x100", 1)[1]
    assert "| GEPA (ours) | +50.0 [+50.0, +50.0] better |" in head_to_head and "MIPROv2" not in head_to_head
    only = paired_gains(records, reference="dspy_gepa", optimizers=["gepa"])
    assert [(g.optimizer, g.gain) for g in only] == [("gepa", 0.5)]
    # Without dspy.GEPA runs there is nothing to pair with: no second table.
    assert "dspy.GEPA x100" not in gains_table([r for r in records if r["optimizer"] != "dspy_gepa"])


def test_runs_scored_by_differently_configured_metrics_are_never_paired() -> None:
    json_judge = {"settings": {"judge_format": "json_schema"}, "counters": {}}
    text_judge = {"settings": {"judge_format": "text"}, "counters": {}}
    base = _record("baseline", 0, [0.0] * 4, metric=json_judge)
    assert paired_gains([base, _record("gepa", 0, [1.0] * 4, metric=json_judge)])[0].pairs == 4
    mismatched = _record("gepa", 0, [1.0] * 4, metric=text_judge)
    assert paired_gains([base, mismatched]) == []
    # A record from before metric settings were kept does not pair with one that has them.
    assert paired_gains([base, _record("gepa", 0, [1.0] * 4)]) == []
    assert paired_gains([_record("baseline", 0, [0.0] * 4), _record("gepa", 0, [1.0] * 4, metric=None)])[0].pairs == 4


def test_a_seed_with_one_example_stays_fixed_while_the_others_are_resampled() -> None:
    """scipy.stats.bootstrap refuses samples of one observation; such a seed's difference is kept as it is."""
    import numpy as np

    assert pooled_interval([np.array([1.0])]) == (1.0, 1.0, 1.0)
    mean, low, high = pooled_interval([np.array([1.0]), np.array([0.0, 0.0, 0.0])])
    assert (mean, low, high) == (0.25, 0.25, 0.25)
    mean, low, high = pooled_interval([np.array([1.0]), np.array([1.0, 0.0, 0.0, 0.0])])
    assert mean == 0.4 and low == 0.2 and high > 0.4
