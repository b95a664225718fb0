#!/usr/bin/env bash
# Peers on a realistic synthetic 670K-label set (Amazon-670K's shape):
# exact 10-NN vote, Omikuji, napkinXC PLT and `frugal train`, 2 threads each.
# Reports P@1/P@5, training wall time and peak RSS (/usr/bin/time -v).
#
#   bash bench/xmc_peers.sh          # BUILD=build, TRAIN_ROWS=200000,
#                                    # TEST_ROWS=10000, THREADS=2,
#                                    # NAPKIN_LIMIT=30m
#
# The Python peers live in their own virtual environment,
# $BUILD/xmc-peers-venv (numpy, scipy, omikuji, napkinxc from PyPI): they are
# not project dependencies. Needs a built $BUILD/apps/frugal. Omikuji takes
# ~15 min and ~9 GB here.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TRAIN_ROWS=${TRAIN_ROWS:-200000}
TEST_ROWS=${TEST_ROWS:-10000}
THREADS=${THREADS:-2}
NAPKIN_LIMIT=${NAPKIN_LIMIT:-30m}
FRUGAL=$BUILD/apps/frugal
VENV=$BUILD/xmc-peers-venv
OUT=$BUILD/xmc-peers
PY="$VENV/bin/python bench/xmc_peers.py"
mkdir -p "$OUT"
[[ -x $FRUGAL ]] || { echo "build $FRUGAL first" >&2; exit 1; }

if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import numpy, scipy, omikuji, napkinxc" 2>/dev/null ||
  "$VENV/bin/pip" install -q numpy scipy omikuji napkinxc

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
"$FRUGAL" generate --tail realistic --train "$OUT/train.txt" \
  --test "$OUT/test.txt" --train-samples "$TRAIN_ROWS" \
  --test-samples "$TEST_ROWS"
$PY stats "$OUT/train.txt"

# run NAME CMD...: runs under /usr/bin/time -v, keeps the log.
run() {
  local name=$1
  shift
  echo "== $name: $*"
  local rc=0
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  grep -E "^RESULT|P@1|p@1" "$OUT/$name.log" | tail -3 || true
  echo "   exit $rc, wall $(sed -n 's/.*Elapsed (wall clock) time.*: //p' \
    "$OUT/$name.time"), peak RSS $(awk '/Maximum resident/ {
    printf "%.2f GiB", $6 / 1048576 }' "$OUT/$name.time")"
  return 0
}

run knn $PY knn "$OUT/train.txt" "$OUT/test.txt" --k 10 --threads "$THREADS"
run frugal "$FRUGAL" train --train "$OUT/train.txt" --test "$OUT/test.txt" \
  --epochs 2 --threads "$THREADS" --model "$OUT/frugal.model" --no-progress
run frugal-exact "$FRUGAL" eval --model "$OUT/frugal.model" \
  --test "$OUT/test.txt" --exact
run omikuji $PY omikuji "$OUT/train.txt" "$OUT/test.txt" --threads "$THREADS"
run napkinxc timeout "$NAPKIN_LIMIT" $PY napkinxc "$OUT/train.txt" \
  "$OUT/test.txt" --threads "$THREADS" --model-dir "$OUT/napkinxc-model"
