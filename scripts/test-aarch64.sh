#!/usr/bin/env bash
# Cross-compiles frugal for aarch64 (toolchains/aarch64-linux-gnu.cmake) and
# runs the kernel and dispatch tests and the aarch64 end-to-end check under
# qemu-user, once per emulated CPU model. Each run states the variant
# dispatch must pick (FRUGAL_EXPECT_TARGET) and the SVE vector length
# detection must report (FRUGAL_EXPECT_SVE_BITS), so a silent fallback to a
# worse target fails, and prints `frugal info` as seen by that CPU.
#
#   BUILD=build-aarch64 JOBS=2 bash scripts/test-aarch64.sh   # make test-aarch64
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build-aarch64}
JOBS=${JOBS:-$(nproc)}

bash scripts/setup-aarch64.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
cmake --build "$BUILD" -j"$JOBS"

# The emulator command the toolchain file set (a CMake list).
emulator=$(sed -n 's/^CMAKE_CROSSCOMPILING_EMULATOR:[A-Z]*=//p' \
  "$BUILD/CMakeCache.txt" | tr ';' ' ')
read -r -a emulator <<<"$emulator"

# qemu -cpu model | variant dispatch must choose | SVE vector bits (0: none)
MODELS=(
  "neoverse-n1|neon|0"                           # Graviton2
  "a64fx,sve-default-vector-length=32|sve_256|256" # Graviton3-like SVE 256
  "max,sve128=on|sve2_128|128"                   # Graviton4 / Neoverse V2
  "max|sve2|512"                                 # wide SVE2
)

# SVE under qemu is hundreds of times slower: the kernel tests leave out
# their long lengths.
export FRUGAL_TEST_SHORT=1
total_start=$SECONDS
for model in "${MODELS[@]}"; do
  IFS='|' read -r cpu target bits <<<"$model"
  export QEMU_CPU=$cpu FRUGAL_EXPECT_TARGET=$target FRUGAL_EXPECT_SVE_BITS=$bits
  echo "=== QEMU_CPU=$cpu: expecting $target, SVE $bits bits"
  start=$SECONDS
  "${emulator[@]}" "$BUILD/apps/frugal" info
  ctest --test-dir "$BUILD" -L 'kernel|dispatch|aarch64' --output-on-failure \
    -j2 --timeout 1200
  echo "=== QEMU_CPU=$cpu: passed on target $target in $((SECONDS - start)) s"
done
echo "=== aarch64: all ${#MODELS[@]} CPU models passed in $((SECONDS - total_start)) s"
