"""Checkpoints written before the engine was split into state / iteration / merge_scheduler / parallel still resume.

``tests/fixtures/pre_split_*`` were written by the engine as it was before the split (commit d813546): the search
of ``test_parallel_proposals.make(160, k)`` cut at 70 metric calls. Resuming them keeps the checkpoint's history
and pool, pays only for the runs the cut search had not paid for, and is deterministic. (It no longer ends exactly
as an uninterrupted run of today's engine: since then a reflection that repeats an earlier one is skipped, so a
run started today takes other decisions before the cut than the old engine took.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .test_parallel_proposals import make, summary

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name, k, mode", [("pre_split_k1_independent", 1, "independent"),
                                           ("pre_split_k3_prefetch", 3, "prefetch")])
def test_a_checkpoint_written_before_the_split_resumes_exactly(tmp_path, name, k, mode):
    log_dir = tmp_path / name
    shutil.copytree(FIXTURES / name, log_dir)
    again_dir = tmp_path / "again"
    shutil.copytree(FIXTURES / name, again_dir)
    saved = json.loads((log_dir / "gepa_state.json").read_text())
    resumed, evaluator, _ = make(160, k, log_dir=log_dir, parallel_proposal_mode=mode)
    got = resumed.run()
    assert summary(got) == summary(make(160, k, log_dir=again_dir, parallel_proposal_mode=mode)[0].run())
    assert len(evaluator.runs) == got.metric_calls - saved["metric_calls"] == got.metric_calls - 66
    cut = len(saved["history"])
    assert [h.iteration for h in got.history[:cut]] == [h["iteration"] for h in saved["history"]]
    assert got.pool.candidates[:len(saved["pool"]["candidates"])] == saved["pool"]["candidates"]
    # The old checkpoint's count under the counter's old name is carried over to the new name (then grows).
    old_count = saved["counters"].get("speculative_proposals_discarded", 0)
    assert (old_count > 0) == (k == 3)
    assert "speculative_proposals_discarded" not in got.counters
    assert got.counters.get("prefetched_proposals_discarded", 0) >= old_count
