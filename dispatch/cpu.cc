#include "dispatch/cpu.h"

#include <cpuinfo.h>

#include <sstream>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/prctl.h>
#ifndef PR_SVE_GET_VL
#define PR_SVE_GET_VL 51
#endif
#ifndef PR_SVE_VL_LEN_MASK
#define PR_SVE_VL_LEN_MASK 0xffff
#endif
#endif

namespace frugal {
namespace {

CpuInfo Detect() {
  CpuInfo info;
#if defined(__x86_64__) || defined(_M_X64)
  info.arch = "x86_64";
#elif defined(__aarch64__)
  info.arch = "aarch64";
#else
  info.arch = "other";
#endif
  if (!cpuinfo_initialize()) {
    info.name = "unknown (cpuinfo failed to initialize)";
    return info;
  }
  info.cores = cpuinfo_get_processors_count();
  if (const cpuinfo_package* pkg = cpuinfo_get_package(0)) {
    info.name = pkg->name;
  }
  std::ostringstream feats;
  // Returns int so that `&` (which, unlike `&&`, evaluates every operand and
  // so notes every feature) is not bitwise logic on bools to clang.
  auto note = [&](bool has, const char* name) -> int {
    if (has) feats << (feats.tellp() > 0 ? " " : "") << name;
    return has ? 1 : 0;
  };
  IsaMask isa = 0;
#if CPUINFO_ARCH_X86 || CPUINFO_ARCH_X86_64
  const bool sse4 = note(cpuinfo_has_x86_ssse3(), "ssse3") &
                    note(cpuinfo_has_x86_sse4_1(), "sse4.1") &
                    note(cpuinfo_has_x86_sse4_2(), "sse4.2") &
                    note(cpuinfo_has_x86_pclmulqdq(), "pclmulqdq") &
                    note(cpuinfo_has_x86_aes(), "aes");
  const bool avx2 = note(cpuinfo_has_x86_avx(), "avx") &
                    note(cpuinfo_has_x86_avx2(), "avx2") &
                    note(cpuinfo_has_x86_bmi(), "bmi") &
                    note(cpuinfo_has_x86_bmi2(), "bmi2") &
                    note(cpuinfo_has_x86_fma3(), "fma") &
                    note(cpuinfo_has_x86_f16c(), "f16c");
  const bool avx512 = note(cpuinfo_has_x86_avx512f(), "avx512f") &
                      note(cpuinfo_has_x86_avx512vl(), "avx512vl") &
                      note(cpuinfo_has_x86_avx512dq(), "avx512dq") &
                      note(cpuinfo_has_x86_avx512bw(), "avx512bw");
  const bool bf16 = note(cpuinfo_has_x86_avx512bf16(), "avx512bf16");
  note(cpuinfo_has_x86_avx512vnni(), "avx512vnni");
  if (sse4) isa |= kIsaSse4;
  if (sse4 && avx2) isa |= kIsaAvx2;
  if (sse4 && avx2 && avx512) isa |= kIsaAvx512;
  if (sse4 && avx2 && avx512 && bf16) isa |= kIsaAvx512Bf16;
#elif CPUINFO_ARCH_ARM64
  isa |= kIsaNeon;
  note(true, "neon");
  if (note(cpuinfo_has_arm_bf16(), "bf16")) isa |= kIsaArmBf16;
  if (note(cpuinfo_has_arm_sve(), "sve")) isa |= kIsaSve;
  if (note(cpuinfo_has_arm_sve2(), "sve2")) isa |= kIsaSve2;
#if defined(__linux__)
  if (isa & kIsaSve) {
    const int vl = prctl(PR_SVE_GET_VL);
    if (vl > 0) info.sve_vector_bits = size_t(vl & PR_SVE_VL_LEN_MASK) * 8;
    if (info.sve_vector_bits == 128) isa |= kIsaSveVl128;
    if (info.sve_vector_bits == 256) isa |= kIsaSveVl256;
  }
#endif
#endif
  info.isa = isa;
  info.features = feats.str();
  return info;
}

}  // namespace

const CpuInfo& DetectCpu() {
  static const CpuInfo info = Detect();
  return info;
}

std::string IsaMaskToString(IsaMask mask) {
  static constexpr struct {
    IsaMask bit;
    const char* name;
  } kNames[] = {{kIsaSse4, "sse4"},       {kIsaAvx2, "avx2"},
                {kIsaAvx512, "avx512"},   {kIsaAvx512Bf16, "avx512bf16"},
                {kIsaNeon, "neon"},       {kIsaArmBf16, "bf16"},
                {kIsaSve, "sve"},         {kIsaSve2, "sve2"},
                {kIsaSveVl128, "sve-vl128"}, {kIsaSveVl256, "sve-vl256"}};
  std::string out;
  for (const auto& n : kNames) {
    if (mask & n.bit) {
      if (!out.empty()) out += ' ';
      out += n.name;
    }
  }
  return out.empty() ? "scalar" : out;
}

}  // namespace frugal
