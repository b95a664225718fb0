// CPU detection, variant choice and the FRUGAL_ISA cap.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "dispatch/cpu.h"
#include "dispatch/registry.h"
#include "hwy/targets.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::IsaEnvGuard;

TEST(Cpu, DetectsSomethingSane) {
  const CpuInfo& cpu = DetectCpu();
  EXPECT_GT(cpu.cores, 0u);
  EXPECT_FALSE(cpu.arch.empty());
  // Levels are cumulative: a feature implies the ones below it.
  if (cpu.isa & kIsaAvx512) {
    EXPECT_TRUE(cpu.isa & kIsaAvx2);
  }
  if (cpu.isa & kIsaAvx2) {
    EXPECT_TRUE(cpu.isa & kIsaSse4);
  }
  if (cpu.isa & kIsaSve2) {
    EXPECT_TRUE(cpu.isa & kIsaSve);
  }
}

// Our cpuinfo-based detection and Highway's own CPUID checks agree on which
// compiled targets this CPU runs.
TEST(Dispatch, SupportedVariantsMatchHighway) {
  hwy::SetSupportedTargetsForTest(0);
  const int64_t hwy_supported = hwy::SupportedTargets();
  std::set<std::string> ours, theirs;
  for (const auto& v : dispatch::SupportedVariants(kernels::DotVariants())) {
    if (v.hwy_target != 0) ours.insert(v.name);
  }
  for (const auto& v : kernels::DotVariants()) {
    if (v.hwy_target != 0 && (hwy_supported & v.hwy_target)) {
      theirs.insert(v.name);
    }
  }
  EXPECT_EQ(ours, theirs);
}

TEST(Dispatch, PicksBestSupportedVariantForEveryKernel) {
  IsaEnvGuard guard;
  unsetenv("FRUGAL_ISA");
  dispatch::Reinitialize();
  const auto best = dispatch::SupportedVariants(kernels::DotVariants());
  ASSERT_FALSE(best.empty());
  for (const auto& r : dispatch::Report()) {
    EXPECT_EQ(r.chosen, best.front().name) << r.kernel;
    ASSERT_FALSE(r.compiled.empty());
    EXPECT_EQ(r.compiled.back(), "reference") << r.kernel;
  }
  EXPECT_EQ(dispatch::Dot(), best.front().fn);
  if (DetectCpu().isa & kIsaAvx512) {
    EXPECT_STREQ(best.front().name, "avx512");
  }
}

// Prints the variant dispatch chose; when FRUGAL_EXPECT_TARGET names one
// (make test-aarch64 sets it per emulated CPU), every kernel must have chosen
// it, so a silent fallback to a worse target fails. FRUGAL_EXPECT_SVE_BITS,
// when set, is the SVE vector length (bits) detection must report.
TEST(Dispatch, ChoseTheExpectedTarget) {
  IsaEnvGuard guard;
  unsetenv("FRUGAL_ISA");
  dispatch::Reinitialize();
  const CpuInfo& cpu = DetectCpu();
  const auto report = dispatch::Report();
  ASSERT_FALSE(report.empty());
  std::printf("dispatch target: %s (isa: %s, sve vector bits: %zu)\n",
              report.front().chosen.c_str(), IsaMaskToString(cpu.isa).c_str(),
              cpu.sve_vector_bits);
  if (const char* want = std::getenv("FRUGAL_EXPECT_TARGET")) {
    for (const auto& r : report) EXPECT_EQ(r.chosen, want) << r.kernel;
  }
  if (const char* bits = std::getenv("FRUGAL_EXPECT_SVE_BITS")) {
    EXPECT_EQ(std::to_string(cpu.sve_vector_bits), bits);
  }
}

TEST(Dispatch, FrugalIsaForcesALowerTarget) {
  IsaEnvGuard guard;
  // FRUGAL_ISA level, the feature it needs, and the variant it must pick
  // (best first: Highway's scalar target is compiled on x86 only).
  struct Case {
    const char* level;
    IsaMask key;
    std::vector<std::string> picks;
  };
  const Case cases[] = {{"avx2", kIsaAvx2, {"avx2"}},
                        {"sse4", kIsaSse4, {"sse4"}},
                        {"neon", kIsaNeon, {"neon"}},
                        {"scalar", 0, {"scalar", "reference"}}};
  for (const Case& c : cases) {
    if ((DetectCpu().isa & c.key) != c.key) continue;
    std::string want;
    for (const std::string& name : c.picks) {
      for (const auto& v : kernels::DotVariants()) {
        if (want.empty() && name == v.name) want = name;
      }
    }
    ASSERT_FALSE(want.empty()) << c.level;
    guard.Set(c.level);
    for (const auto& r : dispatch::Report()) {
      EXPECT_EQ(r.chosen, want) << r.kernel << " under FRUGAL_ISA=" << c.level;
    }
    // The chosen pointer is that variant's.
    for (const auto& v : kernels::DotVariants()) {
      if (v.name == want) {
        EXPECT_EQ(dispatch::Dot(), v.fn);
      }
    }
  }
}

TEST(Dispatch, FrugalIsaRejectsUnknownAndUnsupported) {
  IsaEnvGuard guard;
  guard.Set("avx9000");
  EXPECT_THROW(dispatch::Dot(), std::invalid_argument);
#if defined(__x86_64__)
  guard.Set("neon");
  EXPECT_THROW(dispatch::Dot(), std::invalid_argument);
#endif
}

TEST(ParseIsaCap, NamesAndErrors) {
  const IsaMask avx2_cpu = kLevelAvx2;
  EXPECT_EQ(dispatch::ParseIsaCap(nullptr, avx2_cpu), avx2_cpu);
  EXPECT_EQ(dispatch::ParseIsaCap("", avx2_cpu), avx2_cpu);
  EXPECT_EQ(dispatch::ParseIsaCap("sse4", avx2_cpu), kLevelSse4);
  EXPECT_EQ(dispatch::ParseIsaCap("AVX2", avx2_cpu), kLevelAvx2);
  EXPECT_EQ(dispatch::ParseIsaCap("scalar", avx2_cpu), 0u);
  try {
    dispatch::ParseIsaCap("avx512", avx2_cpu);
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lacks avx512"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("sse4 avx2"), std::string::npos)
        << e.what();
  }
  try {
    dispatch::ParseIsaCap("avx3", avx2_cpu);
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("scalar"), std::string::npos)
        << e.what();
  }
  const IsaMask sve_cpu = kIsaNeon | kIsaSve | kIsaSveVl256;
  EXPECT_EQ(dispatch::ParseIsaCap("neon", sve_cpu), kIsaNeon);
  EXPECT_EQ(dispatch::ParseIsaCap("sve", sve_cpu), sve_cpu);
  EXPECT_THROW(dispatch::ParseIsaCap("sve2", sve_cpu), std::invalid_argument);
}

TEST(RequiredIsa, TargetsNeedTheirFeatures) {
  EXPECT_EQ(dispatch::RequiredIsa(0), 0u);
  EXPECT_EQ(dispatch::RequiredIsa(HWY_SCALAR), 0u);
  // Targets detection does not model are never chosen.
  EXPECT_EQ(dispatch::RequiredIsa(HWY_AVX3_DL), kLevelAll);
  EXPECT_EQ(dispatch::RequiredIsa(HWY_AVX3), kLevelAvx2 | kIsaAvx512);
  EXPECT_EQ(dispatch::RequiredIsa(HWY_SVE_256),
            kIsaNeon | kIsaSve | kIsaSveVl256);
  EXPECT_EQ(IsaMaskToString(kLevelAvx2), "sse4 avx2");
  EXPECT_EQ(IsaMaskToString(0), "scalar");
}

}  // namespace
}  // namespace frugal
