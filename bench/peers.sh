#!/usr/bin/env bash
# Peers as yardsticks (issue 16): frugal's defaults against fastText,
# TF-IDF + LinearSVC, Omikuji, napkinXC and a tuned logistic regression on the
# same splits of every bundled set, 2 threads each. Run from anywhere after a
# build:
#
#   bash bench/peers.sh                       # every set in ../shared/data
#   bash bench/peers.sh bibtex trec           # a subset
#   FRUGAL=other/build/apps/frugal bash bench/peers.sh
#   # also: DATA=dir OUT=dir SEEDS="1 2 3" AUTOTUNE=60 VENV=dir
#
# Installs Debian's fasttext with apt-get if missing and builds a virtual
# environment (VENV, default build/peers-venv) with scikit-learn, numpy, scipy,
# omikuji and napkinxc from PyPI: none of these is a project dependency.
# Writes OUT/results.jsonl (one JSON object per run) and OUT/peers.md (the
# table), OUT defaulting to build/peers. bench/peers.py documents the methods.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRUGAL=${FRUGAL:-$root/build/apps/frugal}
DATA=${DATA:-$root/../shared/data}
OUT=${OUT:-$root/build/peers}
VENV=${VENV:-$root/build/peers-venv}
SEEDS=${SEEDS:-1 2 3}
AUTOTUNE=${AUTOTUNE:-60}

[[ -x $FRUGAL ]] || { echo "peers.sh: $FRUGAL missing: build frugal_cli first (or set FRUGAL)" >&2; exit 1; }

if ! command -v fasttext >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && apt-get install -y -qq fasttext
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq fasttext
  fi
fi

if ! "$VENV/bin/python" -c 'import sklearn, numpy, scipy, omikuji, napkinxc' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check scikit-learn numpy scipy omikuji napkinxc
fi

# Every peer gets 2 threads; keep BLAS / OpenMP pools to the same.
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 RAYON_NUM_THREADS=2

mkdir -p "$OUT"
{
  echo "machine: $(lscpu | sed -nE 's/^Model name: +//p'), $(nproc) cpus; runs use 2 threads each"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "fasttext: $(dpkg-query -W -f='${Version}' fasttext 2>/dev/null || echo unknown)"
  "$VENV/bin/python" -c 'import importlib.metadata as m; print("python packages:", ", ".join(f"{p} {m.version(p)}" for p in ("scikit-learn", "numpy", "scipy", "omikuji", "napkinxc")))'
  echo "frugal: $FRUGAL ($(git -C "$(dirname "$FRUGAL")" rev-parse --short HEAD 2>/dev/null || echo '?'))"
} | tee "$OUT/machine.txt"

start=$(date +%s)
# shellcheck disable=SC2086  # SEEDS: a list of numbers
"$VENV/bin/python" "$root/bench/peers.py" --data "$DATA" --frugal "$FRUGAL" --out "$OUT" \
  --seeds $SEEDS --autotune-duration "$AUTOTUNE" "$@"
echo "peers.sh: $(( $(date +%s) - start )) s in all; load now $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
