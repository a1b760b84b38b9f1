#!/usr/bin/env bash
# Start (or resume) the fast grid: 4 tasks x seeds x optimizers on the local LMs, one run after another.
# Safe to run again at any time: finished runs are skipped, a run another process holds is skipped, and an
# interrupted run goes on where it stopped (a finished optimization is only scored, a scoring keeps the examples
# it had scored, our GEPA and dspy.GEPA resume from their checkpoints; an unfinished MIPROv2 starts over).
#
#   nohup benchmarks/fast/run_grid.sh > /work/fast-grid-v2/grid.log 2>&1 &    # the whole grid, in the background
#   STEPS="mipro@0,1,2" benchmarks/fast/run_grid.sh                            # only these runs
#   python -m benchmarks.compare --status --out /work/fast-grid-v2             # where it stands
#   python -m benchmarks.fast.report --runs /work/fast-grid-v2 --export        # report; commit benchmarks/results/fast
#
# STEPS is a space-separated list of OPTIMIZERS@SEEDS, run in order over every task. The default orders the
# grid so that what finishes first answers the main question first: the baseline once (its program and the
# test split do not depend on the seed, so the report pairs every seed with it), then our GEPA and dspy.GEPA
# seed by seed, then MIPROv2 seed by seed. On a new machine the finished runs committed under
# benchmarks/results/fast/runs are copied into OUT first (IMPORT_FROM= turns that off).
# Settings and the measurements behind them: docs/fast-benchmark.md. Change them only with a new OUT.
set -euo pipefail

OUT="${OUT:-/work/fast-grid-v2}"
STEPS="${STEPS:-baseline@0 gepa,dspy_gepa@0 gepa,dspy_gepa@1 gepa,dspy_gepa@2 mipro@0 mipro@1 mipro@2}"
BUDGET="${BUDGET:-100}"
TASK_MODEL="${TASK_MODEL:-default}"       # default = 1.5B (also the reflection LM; measured choice), fast = 0.5B
REFLECTION_PORT="${REFLECTION_PORT:-8093}"
TASK_PORT="${TASK_PORT:-8094}"
THREADS="${THREADS:-2}"                  # llama-server -t; 1 when other jobs load the cores
PARALLEL="${PARALLEL:-4}"                # llama-server slots = concurrent program calls (--num-threads)
export LITELLM_LOCAL_MODEL_COST_MAP=True

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$SCRIPT_DIR/../.."
mkdir -p "$OUT/logs"
IMPORT_FROM="${IMPORT_FROM-benchmarks/results/fast/runs}"
if [ -n "$IMPORT_FROM" ] && [ -d "$IMPORT_FROM" ]; then
    python -m benchmarks.compare --out "$OUT" --import-finished "$IMPORT_FROM" || true
fi

serve() {  # serve MODEL PORT: start a llama.cpp server unless one answers on PORT
    local model="$1" port="$2"
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
        return 0
    fi
    echo "[fast-grid] starting llama-server ($model) on port $port"
    nohup gepa-dspy serve --model "$model" --port "$port" --threads "$THREADS" --parallel "$PARALLEL" --ctx-size 32768 \
        >> "$OUT/logs/server-$model-$port.log" 2>&1 &
    for _ in $(seq 1 180); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "[fast-grid] server $model on port $port did not become healthy; see $OUT/logs" >&2
    exit 1
}

serve default "$REFLECTION_PORT"
REFLECTION_URL="http://127.0.0.1:$REFLECTION_PORT"
if [ "$TASK_MODEL" = default ]; then
    TASK_URL="$REFLECTION_URL"
else
    serve "$TASK_MODEL" "$TASK_PORT"
    TASK_URL="http://127.0.0.1:$TASK_PORT"
fi

for step in $STEPS; do
    echo "[fast-grid] $(date -u +%FT%TZ) step $step"
    python -m benchmarks.compare --benchmark fast --scale fast --seeds "${step#*@}" --optimizers "${step%@*}" \
        --budget "$BUDGET" --lm "local:$TASK_URL" --reflection-lm "local:$REFLECTION_URL" \
        --max-tokens 128 --reflection-max-tokens 1024 --num-threads "$PARALLEL" --lm-timeout 600 \
        --dspy-straggler-timeout 0 --attempts 2 --no-report --out "$OUT" || true
done
python -m benchmarks.fast.report --runs "$OUT" --out "$OUT/report"
echo "[fast-grid] $(date -u +%FT%TZ) done"
