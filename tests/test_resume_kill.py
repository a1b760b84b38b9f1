"""Kill the optimizer with SIGKILL at random points, and kill the resumes too; resuming with the same log_dir
must end exactly where an uninterrupted run ends: same candidates, scores, history and metric-call count."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("resume_worker.py")


def run_worker(log_dir: str, kill_after: float | None = None, parallel: tuple[int, str] = (1, "independent")) -> dict | None:
    env = dict(os.environ, RESUME_WORKER_DELAY="0.03", RESUME_WORKER_PARALLEL_PROPOSALS=str(parallel[0]),
               RESUME_WORKER_PARALLEL_MODE=parallel[1])
    proc = subprocess.Popen([sys.executable, str(WORKER), log_dir], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    run_worker.started = time.monotonic()  # the compile's own time, without the interpreter's start-up and imports
    if kill_after is not None:
        time.sleep(kill_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return None
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [(1, "independent"), (3, "independent"), (3, "prefetch")],
                         ids=["sequential", "parallel3", "prefetch3"])
def test_sigkill_at_random_points_then_resume_matches_uninterrupted(tmp_path, parallel):
    expected = run_worker("-", parallel=parallel)
    duration = time.monotonic() - run_worker.started
    assert expected["total_metric_calls"] > 20 and len(expected["candidates"]) > 1
    rng = random.Random(1234)
    for trial in range(3):
        log_dir = str(tmp_path / f"run{trial}")
        kills = 0
        result = None
        while result is None:
            # Up to three kills at random points; the first one of a fresh run, the later ones soon after a resume
            # started (while it reloads the checkpoint and journals, or replays the interrupted round), so resuming
            # is itself interrupted. The last resume runs to the end.
            if kills == 0:
                kill_after = rng.uniform(0.02, 0.6) * duration
            elif kills < 3:
                kill_after = rng.uniform(0.0, 0.25) * duration
            else:
                kill_after = None
            result = run_worker(log_dir, kill_after=kill_after, parallel=parallel)
            kills += result is None
        assert kills >= 2, "no resume was killed"
        assert result["candidates"] == expected["candidates"], f"trial {trial}"
        assert result["val_subscores"] == expected["val_subscores"]
        assert result["parents"] == expected["parents"]
        assert result["history"] == expected["history"]
        assert result["total_metric_calls"] == expected["total_metric_calls"]
        assert result["num_full_val_evals"] == expected["num_full_val_evals"]
