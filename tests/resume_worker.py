"""Subprocess for the kill-and-resume test: runs the toy compile with a log_dir and prints the result as JSON."""

import json
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dspy  # noqa: E402

from gepa_dspy import GEPA  # noqa: E402
from tests.scripted_lm import ScriptedLM  # noqa: E402
from tests.toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder  # noqa: E402

DELAY_S = float(os.environ.get("RESUME_WORKER_DELAY", "0.01"))
PARALLEL_PROPOSALS = int(os.environ.get("RESUME_WORKER_PARALLEL_PROPOSALS", "1"))
PARALLEL_MODE = os.environ.get("RESUME_WORKER_PARALLEL_MODE", "independent")


def slow(responder):
    def respond(messages):
        time.sleep(DELAY_S)
        return responder(messages)

    return respond


def main(log_dir: str | None) -> None:
    dspy.configure(lm=ScriptedLM(slow(task_responder), model="task"))
    examples = make_examples()
    # A reflection LM that needs two tries to write each instruction: more state to get right.
    optimizer = GEPA(
        metric, max_metric_calls=150, reflection_lm=ScriptedLM(slow(reflection_responder), model="reflection"),
        track_stats=True, num_threads=2, log_dir=log_dir, seed=3, num_parallel_proposals=PARALLEL_PROPOSALS,
        parallel_proposal_mode=PARALLEL_MODE,
    )
    print("started", flush=True)
    program = optimizer.compile(CleanThenShout(), trainset=examples[:10], valset=examples[10:])
    r = program.detailed_results
    print(json.dumps({
        "candidates": r.candidate_instructions, "parents": r.parents, "val_subscores": r.val_subscores,
        "total_metric_calls": r.total_metric_calls, "history": [(h["kind"], h["status"], h["parent_ids"], h["example_ids"]) for h in r.history],
        "num_full_val_evals": r.num_full_val_evals, "stop_reason": r.stop_reason,
    }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else None)
