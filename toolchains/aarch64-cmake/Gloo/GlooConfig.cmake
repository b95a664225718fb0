# Gloo for the aarch64 cross build (toolchains/aarch64-linux-gnu.cmake sets
# Gloo_DIR here). libgloo0:arm64 does not co-install with the host's libgloo0
# (both own /usr/lib/libgloo.so.0), so scripts/setup-aarch64.sh unpacks the
# arm64 library into /usr/lib/aarch64-linux-gnu; the headers are the host's
# libgloo-dev ones, which are the same for every architecture (no AVX, CUDA
# or MPI configured).
set(_gloo_lib /usr/lib/aarch64-linux-gnu/libgloo.so.0)
if(NOT EXISTS "${_gloo_lib}")
  set(Gloo_FOUND FALSE)
  set(Gloo_NOT_FOUND_MESSAGE
      "${_gloo_lib} is missing: run scripts/setup-aarch64.sh")
  return()
endif()
if(NOT TARGET gloo)
  add_library(gloo SHARED IMPORTED)
  set_target_properties(gloo PROPERTIES
    IMPORTED_LOCATION "${_gloo_lib}"
    IMPORTED_SONAME libgloo.so.0)
endif()
set(Gloo_FOUND TRUE)
