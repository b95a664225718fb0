#include "dispatch/registry.h"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "hwy/targets.h"

namespace frugal::dispatch {

IsaMask RequiredIsa(int64_t t) {
  switch (t) {
    case 0:  // the plain reference
    case HWY_SCALAR:
    case HWY_EMU128:
      return 0;
    case HWY_AVX3:
      return kLevelAvx2 | kIsaAvx512;
    case HWY_AVX2:
      return kLevelAvx2;
    case HWY_SSE4:
    case HWY_SSSE3:
      return kLevelSse4;
    case HWY_NEON:
      return kIsaNeon;
    case HWY_SVE:
      return kIsaNeon | kIsaSve;
    case HWY_SVE2:
      return kIsaNeon | kIsaSve | kIsaSve2;
    case HWY_SVE_256:
      return kIsaNeon | kIsaSve | kIsaSveVl256;
    case HWY_SVE2_128:
      return kIsaNeon | kIsaSve | kIsaSve2 | kIsaSveVl128;
    default:  // a target detection does not model (e.g. AVX3_DL): never run
      return kLevelAll;
  }
}

IsaMask ParseIsaCap(const char* value, IsaMask detected) {
  if (value == nullptr || *value == '\0') return detected;
  std::string v(value);
  for (char& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const IsaLevel& level : kIsaLevels) {
    if (v != level.name) continue;
    if ((detected & level.key) != level.key) {
      throw std::invalid_argument(
          "FRUGAL_ISA=" + v + " but this CPU lacks " + level.name +
          " (it has: " + IsaMaskToString(detected) + ")");
    }
    return detected & level.allowed;
  }
  std::string names;
  for (const IsaLevel& level : kIsaLevels) {
    names += names.empty() ? "" : "|";
    names += level.name;
  }
  throw std::invalid_argument("FRUGAL_ISA=" + v + " is not one of " + names);
}

namespace {

std::mutex g_mutex;
std::atomic<bool> g_allowed_valid{false};
IsaMask g_allowed = 0;

template <class Fn>
struct Slot {
  std::atomic<Fn> fn{nullptr};
  std::atomic<const char*> name{"(unused)"};
};

// Chooses, stores and returns the best allowed variant. The reference needs
// nothing, so there is always one.
template <class Fn>
Fn Resolve(Slot<Fn>& slot, const std::vector<kernels::Variant<Fn>>& all) {
  const IsaMask allowed = AllowedIsa();
  for (const auto& v : all) {
    const IsaMask need = RequiredIsa(v.hwy_target);
    if ((need & allowed) != need) continue;
    slot.name.store(v.name, std::memory_order_relaxed);
    slot.fn.store(v.fn, std::memory_order_release);
    return v.fn;
  }
  return all.back().fn;  // unreachable: the reference is always allowed
}

#define FRUGAL_SLOT(Name, Ret, Args) Slot<kernels::Name##Fn> g_##Name;
FRUGAL_KERNEL_LIST(FRUGAL_SLOT)
#undef FRUGAL_SLOT

}  // namespace

IsaMask AllowedIsa() {
  if (g_allowed_valid.load(std::memory_order_acquire)) return g_allowed;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_allowed_valid.load(std::memory_order_relaxed)) {
    g_allowed = ParseIsaCap(std::getenv("FRUGAL_ISA"), DetectCpu().isa);
    g_allowed_valid.store(true, std::memory_order_release);
  }
  return g_allowed;
}

#define FRUGAL_DEFINE_CHOSEN(Name, Ret, Args)                               \
  kernels::Name##Fn Name() {                                               \
    kernels::Name##Fn fn = g_##Name.fn.load(std::memory_order_acquire);    \
    if (fn == nullptr) fn = Resolve(g_##Name, kernels::Name##Variants()); \
    return fn;                                                             \
  }
FRUGAL_KERNEL_LIST(FRUGAL_DEFINE_CHOSEN)
#undef FRUGAL_DEFINE_CHOSEN

void Reinitialize() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_allowed_valid.store(false, std::memory_order_release);
  }
#define FRUGAL_RESET(Name, Ret, Args) \
  g_##Name.fn.store(nullptr, std::memory_order_release);
  FRUGAL_KERNEL_LIST(FRUGAL_RESET)
#undef FRUGAL_RESET
}

std::vector<KernelReport> Report() {
  std::vector<KernelReport> out;
#define FRUGAL_REPORT(Name, Ret, Args)                       \
  {                                                          \
    KernelReport r;                                          \
    r.kernel = #Name;                                        \
    Name();                                                  \
    r.chosen = g_##Name.name.load(std::memory_order_relaxed); \
    for (const auto& v : kernels::Name##Variants())         \
      r.compiled.push_back(v.name);                          \
    out.push_back(std::move(r));                             \
  }
  FRUGAL_KERNEL_LIST(FRUGAL_REPORT)
#undef FRUGAL_REPORT
  return out;
}

std::vector<std::string> CompiledTargets() {
  std::vector<std::string> out;
  for (const auto& v : kernels::DotVariants()) {
    if (v.hwy_target != 0) out.push_back(hwy::TargetName(v.hwy_target));
  }
  return out;
}

}  // namespace frugal::dispatch
