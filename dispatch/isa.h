// Instruction-set features as a bitmask, and the named levels FRUGAL_ISA
// accepts. A kernel variant states the features it requires; dispatch runs it
// only when every required bit is present on this CPU and allowed by the cap.
#pragma once

#include <cstdint>
#include <string>

namespace frugal {

using IsaMask = uint32_t;

// Single features (one bit each).
enum IsaBit : IsaMask {
  kIsaSse4 = 1u << 0,        // SSSE3, SSE4.1, SSE4.2, PCLMUL, AES
  kIsaAvx2 = 1u << 1,        // AVX, AVX2, BMI1/2, FMA, F16C
  kIsaAvx512 = 1u << 2,      // AVX-512 F, VL, DQ, BW
  kIsaAvx512Bf16 = 1u << 3,  // AVX512_BF16 (VDPBF16PS)
  kIsaNeon = 1u << 8,        // AArch64 Advanced SIMD
  kIsaArmBf16 = 1u << 9,     // Armv8.6 BF16 (BFDOT, BFMMLA)
  kIsaSve = 1u << 10,        // SVE, any vector length
  kIsaSve2 = 1u << 11,       // SVE2
  kIsaSveVl128 = 1u << 12,   // SVE vectors are exactly 128 bits
  kIsaSveVl256 = 1u << 13,   // SVE vectors are exactly 256 bits
};

// Cumulative levels: a level includes every feature below it.
inline constexpr IsaMask kLevelScalar = 0;
inline constexpr IsaMask kLevelSse4 = kIsaSse4;
inline constexpr IsaMask kLevelAvx2 = kLevelSse4 | kIsaAvx2;
inline constexpr IsaMask kLevelAvx512 = kLevelAvx2 | kIsaAvx512 | kIsaAvx512Bf16;
inline constexpr IsaMask kLevelNeon = kIsaNeon | kIsaArmBf16;
inline constexpr IsaMask kLevelSve =
    kLevelNeon | kIsaSve | kIsaSveVl128 | kIsaSveVl256;
inline constexpr IsaMask kLevelSve2 = kLevelSve | kIsaSve2;
inline constexpr IsaMask kLevelAll = ~IsaMask{0};

// The FRUGAL_ISA names, best first within each architecture.
struct IsaLevel {
  const char* name;  // as written in FRUGAL_ISA
  IsaMask key;       // the feature that defines the level (0 for scalar)
  IsaMask allowed;   // every feature a variant may use under this cap
};
inline constexpr IsaLevel kIsaLevels[] = {
    {"avx512", kIsaAvx512, kLevelAvx512}, {"avx2", kIsaAvx2, kLevelAvx2},
    {"sse4", kIsaSse4, kLevelSse4},       {"sve2", kIsaSve2, kLevelSve2},
    {"sve", kIsaSve, kLevelSve},          {"neon", kIsaNeon, kLevelNeon},
    {"scalar", 0, kLevelScalar},
};

// Space-separated names of the bits in `mask`, e.g. "sse4 avx2 avx512".
std::string IsaMaskToString(IsaMask mask);

}  // namespace frugal
