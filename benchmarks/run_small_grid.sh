#!/usr/bin/env bash
# Start (or resume) the small-scale comparison grid in the background on the local LM, one process per
# (benchmark, seed), against one llama.cpp server. Safe to run again at any time: finished runs are skipped,
# runs another process holds are skipped, and killed runs resume (checkpoints, --lm-journal replay).
#
#   benchmarks/run_small_grid.sh                      # IFBench and PUPA, seeds 0 and 1 (the default GRID below)
#   GRID="ifbench:0 ifbench:1" benchmarks/run_small_grid.sh   # only these cells
#   python -m benchmarks.compare --status --out runs/small     # where it stands
#   python -m benchmarks.compare --report-only --out runs/small  # table.md and plots from what finished
#
# Settings are those of docs/compare.md, "Small-scale runs on the local LM"; change them only for a new
# OUT folder, since a run resumed with other settings would mix them.
set -euo pipefail

OUT="${OUT:-runs/small}"
PORT="${PORT:-8091}"
# Four processes keep the server's 6 slots busy even while some of them are in a GEPA minibatch (3 requests)
# or a reflection (1 request); the server's throughput, not the number of processes, sets the grid's pace.
GRID="${GRID:-ifbench:0 ifbench:1 pupa:0 pupa:1}"
MODEL="${MODEL:-fast}"
export LITELLM_LOCAL_MODEL_COST_MAP=True

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p "$OUT/logs"
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
    log="$OUT/logs/${benchmark}_s${seed}.log"
    if pgrep -f -- "benchmarks.compare --benchmark $benchmark --seeds $seed .*--out $OUT" >/dev/null; then
        echo "$benchmark seed $seed: already running"
        continue
    fi
    threads=3
    [ "$benchmark" = pupa ] && threads=2  # a PUPA example also makes judge calls
    echo "=== started $(date -u +%FT%TZ)" >> "$log"
    nohup python -m benchmarks.compare --benchmark "$benchmark" --seeds "$seed" --num-threads "$threads" \
        --optimizers baseline,mipro,dspy_gepa,gepa --scale small --program-max-tokens 384 \
        --reflection-max-tokens 768 --lm "local:$URL" --reflection-lm "local:$URL" --dspy-straggler-timeout 0 \
        --attempts 3 --lm-journal --no-report --out "$OUT" >> "$log" 2>&1 &
    echo "$benchmark seed $seed: started (log $log)"
done
