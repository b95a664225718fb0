#!/usr/bin/env bash
# The data-parallel figures of bench/RESULTS.md: bench/dist_bench.cc at 2, 3
# and 4 loopback ranks for the Amazon-670K and Criteo shapes. Short runs
# (STEPS timed steps after one warm-up); rank 0's medians on stdout.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-3}
L="$BUILD/apps/frugal launch"
B="$BUILD/bench/frugal_dist_bench --steps $STEPS --warmup 1"
run() { echo "## $*"; $L -n "$1" -- $B "${@:2}" 2>&1 | sed 's/^\[rank 0\] //'; }
for n in 2 3 4; do
  for b in 256 64; do run $n --shape amazon --batch $b; done
done
run 3 --shape amazon --batch 16
# The forms auto chose before factors existed, for the times.
run 3 --shape amazon --batch 256 --exchange dense
run 3 --shape amazon --batch 64 --exchange sparse
run 3 --shape amazon --batch 16 --exchange sparse
for n in 2 3 4; do run $n --shape criteo --batch 256; done
run 3 --shape criteo --batch 256 --exchange dense
