// Per-kernel tables of variants, and the variant chosen for this process.
//
// Each kernel's variants are listed best first (kernels/variant.h). On first
// use, the first variant whose required features are all present on this CPU
// and allowed by FRUGAL_ISA is chosen and cached; later calls are one load.
#pragma once

#include <string>
#include <vector>

#include "dispatch/cpu.h"
#include "dispatch/isa.h"
#include "kernels/variant.h"

namespace frugal::dispatch {

// Features a Highway target needs (0: the reference or scalar target).
IsaMask RequiredIsa(int64_t hwy_target);

// Features variants may use given FRUGAL_ISA's `value` (nullptr or "" for no
// cap) on a CPU with `detected` features. Throws std::invalid_argument naming
// the accepted values for an unknown name, or the CPU's features when the
// CPU lacks the requested level.
IsaMask ParseIsaCap(const char* value, IsaMask detected);

// Detected features capped by the FRUGAL_ISA environment variable, read once
// (again after Reinitialize()). Throws as ParseIsaCap.
IsaMask AllowedIsa();

// The chosen implementation of each kernel (raw, unchecked: see
// dispatch/ops.h for the checked entry points). Throws std::invalid_argument
// on the first call if FRUGAL_ISA is invalid for this CPU.
#define FRUGAL_DECLARE_CHOSEN(Name, Ret, Args) kernels::Name##Fn Name();
FRUGAL_KERNEL_LIST(FRUGAL_DECLARE_CHOSEN)
#undef FRUGAL_DECLARE_CHOSEN

// Re-reads FRUGAL_ISA and re-chooses every kernel. For tests and tools; must
// not run concurrently with kernel calls.
void Reinitialize();

struct KernelReport {
  std::string kernel;                // "Dot"
  std::string chosen;                // "avx512"
  std::vector<std::string> compiled;  // best first, "reference" last
};
// One entry per kernel in FRUGAL_KERNEL_LIST order.
std::vector<KernelReport> Report();

// Names of the Highway targets compiled into the library, best first.
std::vector<std::string> CompiledTargets();

// The variants of a kernel this CPU can run (FRUGAL_ISA is not applied),
// best first.
template <class Fn>
std::vector<kernels::Variant<Fn>> SupportedVariants(
    const std::vector<kernels::Variant<Fn>>& all) {
  std::vector<kernels::Variant<Fn>> out;
  const IsaMask have = DetectCpu().isa;
  for (const auto& v : all) {
    const IsaMask need = RequiredIsa(v.hwy_target);
    if ((need & have) == need) out.push_back(v);
  }
  return out;
}

}  // namespace frugal::dispatch
