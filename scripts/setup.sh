#!/usr/bin/env bash
# Installs the Debian packages frugal builds on, only those that are missing.
# Idempotent: a second run installs nothing. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config
  libhwy-dev        # kernels: Highway, one source for every SIMD target
  libxsimd-dev      # second SIMD library: baseline in the benchmarks
  libtbb-dev        # tasks: parallel loops over samples
  libcpuinfo-dev    # CPU feature detection for dispatch
  zlib1g-dev        # CRC-32 of model files
  libgtest-dev      # unit tests
  libbenchmark-dev  # microbenchmarks
  libgloo-dev       # comm/: collectives over TCP for data-parallel training
  redis-server      # tests: the RedisStore rendezvous
)
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
