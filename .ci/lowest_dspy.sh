#!/usr/bin/env bash
# CI lane: the unit tests on the lowest DSPy pyproject.toml allows (dspy>=3.0.0), in a venv of its own.
#
# Test modules left out, each because it exercises something that exists only in newer DSPy (the package itself
# imports and runs on 3.0.0; adapter/compat.py gates each of these):
#   test_compare.py, test_compare_journal.py, test_orchestration_bench.py, test_pupa.py, test_parallel_compile.py,
#   test_local_lm.py, test_testing_server.py: gepa_dspy.testing's scripted LM plugs into dspy.lm15 (dspy >= 3.4)
#   test_model_metadata_memo.py: the patched dspy.clients.costs / capabilities modules exist from dspy 3.4
# Usage: bash .ci/lowest_dspy.sh [venv dir]   (creates the venv if missing; prints the time taken)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export LITELLM_LOCAL_MODEL_COST_MAP=True PIP_DISABLE_PIP_VERSION_CHECK=1
FLOOR="$(sed -nE 's/^ *"dspy>=([0-9.]+).*/\1/p' pyproject.toml | head -1)"
[ -n "$FLOOR" ] || { echo "[floor] no dspy>=X in pyproject.toml" >&2; exit 1; }
VENV="${1:-$REPO/.ci-venv-dspy-floor}"
rm -rf "$VENV"
START=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -e ".[test]" "dspy==$FLOOR"
"$VENV/bin/python" -c "import dspy, gepa_dspy; print('[floor] dspy', dspy.__version__, 'gepa_dspy from', gepa_dspy.__file__)"
"$VENV/bin/python" -m pytest -m "not llm and not slow" -q -p no:cacheprovider \
    --ignore=tests/test_compare.py --ignore=tests/test_compare_journal.py --ignore=tests/test_orchestration_bench.py \
    --ignore=tests/test_pupa.py --ignore=tests/test_parallel_compile.py --ignore=tests/test_local_lm.py \
    --ignore=tests/test_testing_server.py --ignore=tests/test_model_metadata_memo.py
echo "[floor] lowest-dspy lane: $((SECONDS - START)) s"
