#!/usr/bin/env bash
# Start (or resume) the small-scale comparison grid in the background on the local LM, against one llama.cpp
# server. Safe to run again at any time: finished runs are skipped, runs another process holds are skipped,
# and killed runs resume (checkpoints, --lm-journal replay).
#
# MODE=queue (the default) runs one process at a time, cell after cell (GRID order), each taking its runs in
# the order baseline, MIPROv2, dspy.GEPA, ours. The server generated about as many tokens a second with one
# GEPA run on it as with two (docs/compare.md, "Small-scale runs"; benchmarks/server_log_throughput.py), so one
# at a time costs little and finishes each run as early as it can. A run still in progress when the machine
# goes away is lost, so the fewer of those the better. Before each cell the queue waits for any other compare
# process on OUT to end.
#
# MODE=lanes is the earlier way: two processes per (benchmark, seed), all cells at once. The second process
# has no baseline, so it starts on MIPROv2 beside the baseline; once MIPROv2's budget is known
# (--wait-for-budget), one process runs dspy.GEPA and the other ours.
#
#   benchmarks/run_small_grid.sh                      # IFBench and PUPA, seeds 0 and 1 (the default GRID below)
#   GRID="ifbench:0 ifbench:1" benchmarks/run_small_grid.sh   # only these cells, in this order
#   GRID="ifbench:0:gepa ifbench:0" benchmarks/run_small_grid.sh  # queue only: a cell may name its optimizers
#       (comma-separated); here ours runs first, then the rest of that cell (finished runs are skipped)
#   python -m benchmarks.compare --status --out runs/small     # where it stands
#   python -m benchmarks.compare --report-only --out runs/small  # table.md and plots from what finished
#
# On a fresh clone or a new machine, the finished runs committed under benchmarks/results/compare/small are first
# copied into runs/small (--import-finished; a run that already has a folder there is left alone), so they are
# not paid for again. IMPORT_FROM= (empty) turns that off; another OUT imports nothing unless IMPORT_FROM is set.
#
# Settings are those of docs/compare.md, "Small-scale runs on the local LM"; change them only for a new
# OUT folder, since a run resumed with other settings would mix them. --reflection-format json_schema applies to
# our GEPA only: its reflection step rejected all 11 of the 0.5B model's fenced replies in the first small run.
set -euo pipefail

OUT="${OUT:-runs/small}"
PORT="${PORT:-8091}"
GRID="${GRID:-ifbench:0 ifbench:1 pupa:0 pupa:1}"
MODE="${MODE:-queue}"
ALL_OPTIMIZERS="baseline,mipro,dspy_gepa,gepa"
LANES="$ALL_OPTIMIZERS mipro,dspy_gepa,gepa"
MODEL="${MODEL:-fast}"
export LITELLM_LOCAL_MODEL_COST_MAP=True

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
cd "$(dirname "$SCRIPT")/.."
mkdir -p "$OUT/logs"
DEFAULT_IMPORT=""
[ "$OUT" = runs/small ] && DEFAULT_IMPORT=benchmarks/results/compare/small
IMPORT_FROM="${IMPORT_FROM-$DEFAULT_IMPORT}"
WORKER=0
[ "${1:-}" = --queue-worker ] && WORKER=1  # the queue's background process: import and server are done
if [ "$WORKER" = 0 ] && [ -n "$IMPORT_FROM" ]; then
    python -m benchmarks.compare --out "$OUT" --import-finished "$IMPORT_FROM"
fi
URL="http://127.0.0.1:$PORT"

if [ "$WORKER" = 0 ] && ! curl -sf "$URL/health" >/dev/null 2>&1; then
    echo "starting llama-server ($MODEL) on port $PORT"
    nohup gepa-dspy serve --model "$MODEL" --port "$PORT" --threads 2 --parallel 6 --ctx-size 49152 \
        >> "$OUT/logs/server.log" 2>&1 &
    for _ in $(seq 1 120); do
        curl -sf "$URL/health" >/dev/null 2>&1 && break
        sleep 2
    done
    curl -sf "$URL/health" >/dev/null || { echo "llama-server did not come up; see $OUT/logs/server.log" >&2; exit 1; }
fi

# COMMAND := the compare command of one (benchmark, seed, optimizers); its log file is the caller's.
set_command() {
    local threads=3
    [ "$1" = pupa ] && threads=2  # a PUPA example also makes judge calls
    COMMAND=(python -m benchmarks.compare --benchmark "$1" --seeds "$2" --num-threads "$threads"
        --optimizers "$3" --scale small --program-max-tokens 384
        --reflection-max-tokens 768 --lm "local:$URL" --reflection-lm "local:$URL" --dspy-straggler-timeout 0
        --reflection-format json_schema --attempts 3 --lm-journal --wait-for-budget --no-report --out "$OUT")
}

# benchmark, seed, cell_optimizers := the parts of one GRID cell, "bench:seed" or "bench:seed:opt1,opt2".
read_cell() {
    IFS=: read -r benchmark seed cell_optimizers <<< "$1"
}

if [ "$WORKER" = 1 ]; then
    for cell in $GRID; do
        read_cell "$cell"
        optimizers="${cell_optimizers:-$ALL_OPTIMIZERS}"
        while pgrep -f -- "benchmarks.compare --benchmark .* --out $OUT( |$)" >/dev/null; do
            sleep 60  # another compare process (a lane, or one started by hand) is still running
        done
        log="$OUT/logs/${benchmark}_s${seed}.log"
        echo "$(date -u +%FT%TZ) queue: $benchmark seed $seed, $optimizers (log $log)"
        echo "=== started $(date -u +%FT%TZ) by the queue ($optimizers)" >> "$log"
        set_command "$benchmark" "$seed" "$optimizers"
        "${COMMAND[@]}" >> "$log" 2>&1 \
            || echo "$(date -u +%FT%TZ) queue: $benchmark seed $seed exited with $? (see $log)"
    done
    echo "$(date -u +%FT%TZ) queue: done"
    exit 0
fi

if [ "$MODE" = queue ]; then
    if pgrep -f -- "run_small_grid.sh --queue-worker" >/dev/null; then
        echo "a queue is already running; see $OUT/logs/queue.log"
        exit 0
    fi
    nohup bash "$SCRIPT" --queue-worker >> "$OUT/logs/queue.log" 2>&1 &
    echo "queue started: $GRID, one process at a time (log $OUT/logs/queue.log)"
    exit 0
fi
[ "$MODE" = lanes ] || { echo "MODE must be queue or lanes, not '$MODE'" >&2; exit 2; }

for cell in $GRID; do  # check every cell before starting any lane
    read_cell "$cell"
    [ -z "$cell_optimizers" ] || {
        echo "MODE=lanes picks the optimizers itself; drop ':$cell_optimizers' from '$cell'" >&2; exit 2; }
done
for cell in $GRID; do
    read_cell "$cell"
    lane=0
    for optimizers in $LANES; do
        lane=$((lane + 1))
        log="$OUT/logs/${benchmark}_s${seed}.log"
        [ "$lane" -gt 1 ] && log="$OUT/logs/${benchmark}_s${seed}_lane${lane}.log"
        if pgrep -f -- "benchmarks.compare --benchmark $benchmark --seeds $seed --num-threads [0-9]+ --optimizers $optimizers .*--out $OUT" >/dev/null; then
            echo "$benchmark seed $seed, $optimizers: already running"
            continue
        fi
        echo "=== started $(date -u +%FT%TZ)" >> "$log"
        set_command "$benchmark" "$seed" "$optimizers"
        nohup "${COMMAND[@]}" >> "$log" 2>&1 &
        echo "$benchmark seed $seed, $optimizers: started (log $log)"
    done
done
