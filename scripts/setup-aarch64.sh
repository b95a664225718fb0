#!/usr/bin/env bash
# Installs what cross-compiling frugal for aarch64 and running it under
# qemu-user needs (toolchains/aarch64-linux-gnu.cmake), only what is missing.
# Idempotent: a second run changes nothing. Needs root (or sudo) only when
# something is missing.
#
# libcpuinfo-dev:arm64 does not co-install with the host's libcpuinfo-dev, so
# the target gets the runtime library libcpuinfo0:arm64 and shares the host's
# header (/usr/include/cpuinfo.h); the toolchain file links the .so.0 directly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The host side (cmake, pkg-config, the cpuinfo header) first.
bash scripts/setup.sh

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  g++-aarch64-linux-gnu  # cross compiler and the target's libc/libstdc++
  qemu-user              # qemu-aarch64: runs the tests; -cpu picks the model
  libhwy-dev:arm64 libtbb-dev:arm64 zlib1g-dev:arm64
  libgtest-dev:arm64 libbenchmark-dev:arm64
  libcpuinfo0:arm64
)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-aarch64: adding the arm64 architecture"
  $SUDO dpkg --add-architecture arm64
fi
echo "setup-aarch64: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
