"""Checkpoints written before the engine was split into state / iteration / merge_scheduler / parallel still resume.

``tests/fixtures/pre_split_*`` were written by the engine as it was before the split (commit d813546): the search
of ``test_parallel_proposals.make(160, k)`` cut at 70 metric calls. Resuming them must finish exactly as an
uninterrupted run of today's engine does, paying only for the runs the cut search had not paid for.
"""

from __future__ import annotations

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
    expected = make(160, k, parallel_proposal_mode=mode)[0].run()
    resumed, evaluator, _ = make(160, k, log_dir=log_dir, parallel_proposal_mode=mode)
    got = resumed.run()
    assert summary(got) == summary(expected)
    assert len(evaluator.runs) == expected.metric_calls - 66
    # The old checkpoint's count under the counter's old name is carried over to the new name: the engine before
    # the split, resuming these files, counted 16 for k=3 (and none for k=1).
    assert "speculative_proposals_discarded" not in got.counters
    assert got.counters.get("prefetched_proposals_discarded", 0) == (16 if k == 3 else 0)
