// What the CPU we run on can do, detected once with cpuinfo.
#pragma once

#include <cstddef>
#include <string>

#include "dispatch/isa.h"

namespace frugal {

struct CpuInfo {
  std::string name;           // marketing name of the first core's package
  std::string arch;           // "x86_64", "aarch64", ...
  unsigned cores = 0;         // logical processors
  IsaMask isa = 0;            // features usable by this process (OS-enabled)
  size_t sve_vector_bits = 0; // 0 when there is no SVE
  std::string features;       // human-readable list of detected features
};

// Detected on first call; thread-safe; never fails (missing information is
// left empty, and an undetectable CPU reports isa = 0, i.e. scalar only).
const CpuInfo& DetectCpu();

}  // namespace frugal
