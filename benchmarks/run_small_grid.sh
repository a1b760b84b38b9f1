#!/usr/bin/env bash
# Start (or resume) the small-scale comparison grid in the background on the local LM, against one llama.cpp
# server. Safe to run again at any time: finished runs are skipped, a run another process holds is skipped, and
# an interrupted run starts again (our GEPA and dspy.GEPA resume from their checkpoints).
#
# One background worker runs the cells one after another (GRID order), each taking its runs in the order
# baseline, MIPROv2, dspy.GEPA, ours. The server generated about as many tokens a second with one GEPA run on it
# as with two (docs/compare.md, "Small-scale runs"; benchmarks/server_log_throughput.py), so one at a time costs
# little and finishes each run as early as it can. Before each cell the worker waits for any other compare
# process on OUT to end.
#
#   benchmarks/run_small_grid.sh                      # IFBench and PUPA, seeds 0 and 1 (the default GRID below)
#   GRID="ifbench:0 ifbench:1" benchmarks/run_small_grid.sh   # only these cells, in this order
#   GRID="ifbench:0:gepa ifbench:0" benchmarks/run_small_grid.sh  # a cell may name its optimizers (comma-separated)
#   python -m benchmarks.compare --status --out runs/small     # where it stands
#   python -m benchmarks.compare --report-only --out runs/small  # table.md and plots from what finished
#
# On a fresh clone or a new machine, the finished runs committed under benchmarks/results/compare/small are first
# copied into runs/small (--import-finished; a run that already has a folder there is left alone), so they are
# not paid for again. IMPORT_FROM= (empty) turns that off; another OUT imports nothing unless IMPORT_FROM is set.
#
# Settings are those of docs/compare.md, "Small-scale runs on the local LM"; change them only for a new OUT
# folder. --reflection-format json_schema applies to our GEPA only: its reflection step rejected all 11 of the
# 0.5B model's fenced replies in the first small run.
set -euo pipefail

OUT="${OUT:-runs/small}"
PORT="${PORT:-8091}"
GRID="${GRID:-ifbench:0 ifbench:1 pupa:0 pupa:1}"
ALL_OPTIMIZERS="baseline,mipro,dspy_gepa,gepa"
MODEL="${MODEL:-fast}"
export LITELLM_LOCAL_MODEL_COST_MAP=True

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
cd "$(dirname "$SCRIPT")/.."
mkdir -p "$OUT/logs"
URL="http://127.0.0.1:$PORT"

if [ "${1:-}" = --queue-worker ]; then  # the background process: import and server are done
    for cell in $GRID; do
        IFS=: read -r benchmark seed cell_optimizers <<< "$cell"
        optimizers="${cell_optimizers:-$ALL_OPTIMIZERS}"
        threads=3
        [ "$benchmark" = pupa ] && threads=2  # a PUPA example also makes judge calls
        while pgrep -f -- "benchmarks.compare --benchmark .* --out $OUT( |$)" >/dev/null; do
            sleep 60  # another compare process (one started by hand) is still running
        done
        log="$OUT/logs/${benchmark}_s${seed}.log"
        echo "$(date -u +%FT%TZ) queue: $benchmark seed $seed, $optimizers (log $log)"
        echo "=== started $(date -u +%FT%TZ) by the queue ($optimizers)" >> "$log"
        python -m benchmarks.compare --benchmark "$benchmark" --seeds "$seed" --num-threads "$threads" \
            --optimizers "$optimizers" --scale small --program-max-tokens 384 --reflection-max-tokens 768 \
            --lm "local:$URL" --reflection-lm "local:$URL" --dspy-straggler-timeout 0 \
            --reflection-format json_schema --attempts 3 --no-report --out "$OUT" >> "$log" 2>&1 \
            || echo "$(date -u +%FT%TZ) queue: $benchmark seed $seed exited with $? (see $log)"
    done
    echo "$(date -u +%FT%TZ) queue: done"
    exit 0
fi

DEFAULT_IMPORT=""
[ "$OUT" = runs/small ] && DEFAULT_IMPORT=benchmarks/results/compare/small
IMPORT_FROM="${IMPORT_FROM-$DEFAULT_IMPORT}"
if [ -n "$IMPORT_FROM" ]; then
    python -m benchmarks.compare --out "$OUT" --import-finished "$IMPORT_FROM"
fi
if ! curl -sf "$URL/health" >/dev/null 2>&1; then
    echo "starting llama-server ($MODEL) on port $PORT"
    nohup gepa-dspy serve --model "$MODEL" --port "$PORT" --threads 2 --parallel 6 --ctx-size 49152 \
        >> "$OUT/logs/server.log" 2>&1 &
    for _ in $(seq 1 120); do
        curl -sf "$URL/health" >/dev/null 2>&1 && break
        sleep 2
    done
    curl -sf "$URL/health" >/dev/null || { echo "llama-server did not come up; see $OUT/logs/server.log" >&2; exit 1; }
fi
if pgrep -f -- "run_small_grid.sh --queue-worker" >/dev/null; then
    echo "a queue is already running; see $OUT/logs/queue.log"
    exit 0
fi
nohup bash "$SCRIPT" --queue-worker >> "$OUT/logs/queue.log" 2>&1 &
echo "queue started: $GRID, one process at a time (log $OUT/logs/queue.log)"
