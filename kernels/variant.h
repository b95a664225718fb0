// Kernel variants: one per compiled Highway target plus the scalar reference.
// kernels/ knows which variants exist; dispatch/ decides which one runs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/kernel_list.h"
#include "kernels/types.h"

namespace frugal::kernels {

template <class Fn>
struct Variant {
  const char* name;    // "avx512", "avx2", ..., "scalar", "reference"
  int64_t hwy_target;  // Highway target bit; 0 for the plain reference
  Fn fn;
};

#define FRUGAL_DECLARE_KERNEL(Name, Ret, Args)                  \
  using Name##Fn = Ret(*) Args;                                  \
  /* Plain scalar oracle. */                                     \
  Ret Name##Ref Args;                                            \
  /* Compiled variants, best first, the reference last. */       \
  const std::vector<Variant<Name##Fn>>& Name##Variants();
FRUGAL_KERNEL_LIST(FRUGAL_DECLARE_KERNEL)
#undef FRUGAL_DECLARE_KERNEL

// Sorts best first (Highway's lower target bits are better; the reference,
// 0, goes last) and drops targets that were not compiled.
template <class Fn>
std::vector<Variant<Fn>> CompiledVariants(std::vector<Variant<Fn>> all) {
  all.erase(std::remove_if(all.begin(), all.end(),
                           [](const Variant<Fn>& v) { return v.fn == nullptr; }),
            all.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const Variant<Fn>& a, const Variant<Fn>& b) {
                     const uint64_t ta = a.hwy_target ? a.hwy_target : ~0ull;
                     const uint64_t tb = b.hwy_target ? b.hwy_target : ~0ull;
                     return ta < tb;
                   });
  return all;
}

}  // namespace frugal::kernels
