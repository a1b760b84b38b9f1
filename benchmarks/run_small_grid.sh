#!/usr/bin/env bash
# Start (or resume) the small-scale comparison grid in the background on the local LM, two processes per
# (benchmark, seed), against one llama.cpp server. Safe to run again at any time: finished runs are skipped,
# runs another process holds are skipped, and killed runs resume (checkpoints, --lm-journal replay).
#
# Each process takes the cell's runs in the order baseline, MIPROv2, dspy.GEPA, ours, skipping any run the
# other one holds. The second process has no baseline, so it starts on MIPROv2 beside the baseline; once
# MIPROv2's budget is known (--wait-for-budget), one process runs dspy.GEPA and the other ours. A cell's work
# then does not queue behind itself, and the server stays busy until the last cell ends.
#
#   benchmarks/run_small_grid.sh                      # IFBench and PUPA, seeds 0 and 1 (the default GRID below)
#   GRID="ifbench:0 ifbench:1" benchmarks/run_small_grid.sh   # only these cells
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
# The server's throughput (its 6 slots), not the number of processes, sets the grid's pace; more processes
# only queue at the server (a request waits a few minutes at most, well inside --lm-timeout's 600 s).
GRID="${GRID:-ifbench:0 ifbench:1 pupa:0 pupa:1}"
LANES="baseline,mipro,dspy_gepa,gepa mipro,dspy_gepa,gepa"
MODEL="${MODEL:-fast}"
export LITELLM_LOCAL_MODEL_COST_MAP=True

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p "$OUT/logs"
DEFAULT_IMPORT=""
[ "$OUT" = runs/small ] && DEFAULT_IMPORT=benchmarks/results/compare/small
IMPORT_FROM="${IMPORT_FROM-$DEFAULT_IMPORT}"
if [ -n "$IMPORT_FROM" ]; then
    python -m benchmarks.compare --out "$OUT" --import-finished "$IMPORT_FROM"
fi
URL="http://127.0.0.1:$PORT"

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

for cell in $GRID; do
    benchmark="${cell%%:*}"
    seed="${cell##*:}"
    threads=3
    [ "$benchmark" = pupa ] && threads=2  # a PUPA example also makes judge calls
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
        nohup python -m benchmarks.compare --benchmark "$benchmark" --seeds "$seed" --num-threads "$threads" \
            --optimizers "$optimizers" --scale small --program-max-tokens 384 \
            --reflection-max-tokens 768 --lm "local:$URL" --reflection-lm "local:$URL" --dspy-straggler-timeout 0 \
            --reflection-format json_schema --attempts 3 --lm-journal --wait-for-budget --no-report --out "$OUT" \
            >> "$log" 2>&1 &
        echo "$benchmark seed $seed, $optimizers: started (log $log)"
    done
done
