// Included only by kernel .cc files under `#if HWY_ONCE`, after foreach_target:
// FRUGAL_HWY_VARIANTS(Name) defines Name##Variants() from the per-target
// functions HWY_NAMESPACE::Name and the reference Name##Ref.
#pragma once

#include "hwy/highway.h"
#include "kernels/variant.h"

#if HWY_TARGETS & HWY_SCALAR
#define FRUGAL_CHOOSE_SCALAR(NAME) &N_SCALAR::NAME
#else
#define FRUGAL_CHOOSE_SCALAR(NAME) nullptr
#endif

#define FRUGAL_HWY_VARIANTS(NAME)                                       \
  const std::vector<Variant<NAME##Fn>>& NAME##Variants() {              \
    static const std::vector<Variant<NAME##Fn>> variants =              \
        CompiledVariants<NAME##Fn>({                                    \
            {"avx512", HWY_AVX3, HWY_CHOOSE_AVX3(NAME)},                \
            {"avx2", HWY_AVX2, HWY_CHOOSE_AVX2(NAME)},                  \
            {"sse4", HWY_SSE4, HWY_CHOOSE_SSE4(NAME)},                  \
            {"sve2_128", HWY_SVE2_128, HWY_CHOOSE_SVE2_128(NAME)},      \
            {"sve_256", HWY_SVE_256, HWY_CHOOSE_SVE_256(NAME)},         \
            {"sve2", HWY_SVE2, HWY_CHOOSE_SVE2(NAME)},                  \
            {"sve", HWY_SVE, HWY_CHOOSE_SVE(NAME)},                     \
            {"neon", HWY_NEON, HWY_CHOOSE_NEON(NAME)},                  \
            {"scalar", HWY_SCALAR, FRUGAL_CHOOSE_SCALAR(NAME)},         \
            {"reference", 0, &NAME##Ref},                               \
        });                                                             \
    return variants;                                                    \
  }
