# Cross-compiles frugal for 64-bit Arm Linux (AWS Graviton and the like) with
# Debian's cross toolchain and runs the binaries under qemu-user:
#
#   bash scripts/setup-aarch64.sh     # g++-aarch64-linux-gnu, qemu-user, :arm64 libs
#   cmake -S . -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-aarch64 -j2
#   QEMU_CPU=neoverse-n1 ctest --test-dir build-aarch64   # or `make test-aarch64`
#
# Target libraries come from Debian's :arm64 packages (multiarch), which
# install under /usr/lib/aarch64-linux-gnu and share /usr/include with the
# host. ctest, gtest_discover_tests and add_test(COMMAND <target>) run the
# binaries through CMAKE_CROSSCOMPILING_EMULATOR; the QEMU_CPU environment
# variable picks the emulated CPU (neoverse-n1, a64fx, max, ...).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Search the cross root (/usr/aarch64-linux-gnu: libc, libstdc++) and the
# multiarch system (/usr/lib/aarch64-linux-gnu via CMAKE_LIBRARY_ARCHITECTURE)
# for libraries, headers and packages; programs (pkg-config, ...) come from
# the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config sees only arm64 .pc files. libcpuinfo's comes from this folder:
# libcpuinfo-dev:arm64 does not co-install with the host's libcpuinfo-dev, so
# the set-up script installs libcpuinfo0:arm64 and the host's header serves.
set(ENV{PKG_CONFIG_LIBDIR}
    "${CMAKE_CURRENT_LIST_DIR}/aarch64-pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Gloo: the arm64 library that scripts/setup-aarch64.sh unpacks (libgloo0 is
# not multiarch), described by the config in this folder.
set(Gloo_DIR "${CMAKE_CURRENT_LIST_DIR}/aarch64-cmake/Gloo"
    CACHE PATH "GlooConfig.cmake for the aarch64 cross build" FORCE)

# Tests and tools run under emulation, with the multiarch libc6:arm64 (its
# /lib/ld-linux-aarch64.so.1 and /lib/aarch64-linux-gnu). Not `-L
# /usr/aarch64-linux-gnu`: that cross root's ld.so is a different build of
# glibc than the libc.so.6 it then finds under /lib/aarch64-linux-gnu, and
# the mismatch hangs the first pthread_create (oneTBB's workers). QEMU_CPU
# (environment) picks the CPU model, qemu's default being `max`. Cached so
# that scripts (scripts/test-aarch64.sh) read it from CMakeCache.txt.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64"
    CACHE STRING "Runs aarch64 binaries on the build host")
