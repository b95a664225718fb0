// CPU detection, variant choice and the FRUGAL_ISA cap.
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

#include "dispatch/cpu.h"
#include "dispatch/registry.h"
#include "hwy/targets.h"
#include "test_util.h"

namespace frugal {
namespace {

// Restores FRUGAL_ISA and the dispatch tables when a test ends.
class IsaEnvGuard {
 public:
  IsaEnvGuard() {
    const char* v = std::getenv("FRUGAL_ISA");
    had_ = v != nullptr;
    if (had_) old_ = v;
  }
  ~IsaEnvGuard() {
    if (had_) {
      setenv("FRUGAL_ISA", old_.c_str(), 1);
    } else {
      unsetenv("FRUGAL_ISA");
    }
    dispatch::Reinitialize();
  }
  void Set(const char* value) {
    setenv("FRUGAL_ISA", value, 1);
    dispatch::Reinitialize();
  }

 private:
  bool had_ = false;
  std::string old_;
};

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

TEST(Dispatch, FrugalIsaForcesALowerTarget) {
  IsaEnvGuard guard;
  for (const char* level : {"avx2", "sse4", "scalar"}) {
    const IsaMask key = level == std::string("avx2")   ? IsaMask{kIsaAvx2}
                        : level == std::string("sse4") ? IsaMask{kIsaSse4}
                                                       : IsaMask{0};
    if ((DetectCpu().isa & key) != key) continue;
    guard.Set(level);
    for (const auto& r : dispatch::Report()) {
      EXPECT_EQ(r.chosen, level) << r.kernel << " under FRUGAL_ISA=" << level;
    }
    // The chosen pointer is that variant's.
    for (const auto& v : kernels::DotVariants()) {
      if (v.name == std::string(level)) {
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
