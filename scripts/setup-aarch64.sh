#!/usr/bin/env bash
# Installs what cross-compiling frugal for aarch64 and running it under
# qemu-user needs (toolchains/aarch64-linux-gnu.cmake), only what is missing.
# Idempotent: a second run changes nothing. Needs root (or sudo) only when
# something is missing.
#
# libcpuinfo-dev:arm64 does not co-install with the host's libcpuinfo-dev, so
# the target gets the runtime library libcpuinfo0:arm64 and shares the host's
# header (/usr/include/cpuinfo.h); the toolchain file links the .so.0 directly.
# libgloo0 is not multiarch (both architectures own /usr/lib/libgloo.so.0):
# its arm64 library is unpacked from Debian's package into the multiarch
# directory /usr/lib/aarch64-linux-gnu, with the host's (architecture-neutral)
# headers; toolchains/aarch64-cmake/Gloo describes it to CMake.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The host side (cmake, pkg-config, the cpuinfo header) first.
bash scripts/setup.sh

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  g++-aarch64-linux-gnu  # cross compiler (links against its own cross root)
  qemu-user              # qemu-aarch64: runs the tests; QEMU_CPU picks the model
  libc6:arm64 libstdc++6:arm64  # what the emulated binaries load at run time
  libhwy-dev:arm64 libtbb-dev:arm64 zlib1g-dev:arm64
  libgtest-dev:arm64 libbenchmark-dev:arm64
  libcpuinfo0:arm64
  libhiredis0.14:arm64 libibverbs1:arm64  # what libgloo.so.0 links to
)
GLOO_LIB=/usr/lib/aarch64-linux-gnu/libgloo.so.0

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)) && [[ -e $GLOO_LIB ]]; then
  exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-aarch64: adding the arm64 architecture"
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
if ((${#missing[@]} > 0)); then
  echo "setup-aarch64: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -e $GLOO_LIB ]]; then
  echo "setup-aarch64: unpacking libgloo0:arm64 into ${GLOO_LIB%/*}"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root libgloo0:arm64)
  dpkg-deb -x "$tmp"/libgloo0_*_arm64.deb "$tmp/root"
  lib=$(cd "$tmp/root/usr/lib" && ls libgloo.so.0.*)
  $SUDO install -m 644 "$tmp/root/usr/lib/$lib" "${GLOO_LIB%/*}/$lib"
  $SUDO ln -sf "$lib" "$GLOO_LIB"
fi
