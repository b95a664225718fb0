# Cross-compile frugal for 64-bit Arm Linux with Debian's cross toolchain
# (g++-aarch64-linux-gnu) and run the binaries under qemu-user:
#
#   cmake -S . -B build-arm64 \
#         -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
#
# Target libraries come from Debian's :arm64 packages, which install under
# /usr/lib/aarch64-linux-gnu; headers are shared with the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
# Programs (cmake, pkg-config, ...) from the host; everything else from the
# target root.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libcpuinfo) must see the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")

# Tests and tools run under emulation; QEMU_CPU picks the CPU model
# (e.g. neoverse-n1, a64fx, max).
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/aarch64-linux-gnu")
