// Shared helpers for the kernel tests: guarded misaligned buffers, the test
// lengths, seeded random data, and a loop over every variant this CPU runs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "dispatch/registry.h"
#include "kernels/types.h"

namespace frugal::test {

// True when FRUGAL_TEST_SHORT is set (and not "0"): the tests run under
// emulation (make test-aarch64), where SVE code is hundreds of times slower,
// so the long lengths are left out.
inline bool ShortTests() {
  const char* v = std::getenv("FRUGAL_TEST_SHORT");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// Lengths every kernel is tested at: 0, 1, around every vector width
// (4, 8, 16 floats; up to 64 for 2048-bit SVE), and large (not under
// ShortTests(): 255 still runs every unrolled loop and tail).
inline const std::vector<size_t>& TestLengths() {
  static const std::vector<size_t> kLengths = [] {
    std::vector<size_t> v = {0,  1,  2,  3,  4,  5,   7,   8,   9,   15,
                             16, 17, 31, 32, 33, 63,  64,  65,  127, 128,
                             129, 255, 1000, 4099};
    if (ShortTests()) {
      v.erase(std::remove_if(v.begin(), v.end(),
                             [](size_t n) { return n > 255; }),
              v.end());
    }
    return v;
  }();
  return kLengths;
}

// Element offsets from a 64-byte boundary the tests place data at.
inline const std::vector<size_t>& TestMisalignments() {
  static const std::vector<size_t> kOffsets = {0, 1, 3};
  return kOffsets;
}

// `n` elements at `misalign` elements past a 64-byte boundary, between two
// canary zones; Intact() checks nothing wrote outside [data(), data() + n).
template <class T>
class Guarded {
 public:
  static constexpr size_t kGuard = 64;  // elements on each side

  explicit Guarded(size_t n, size_t misalign = 0)
      : n_(n), storage_(n + 2 * kGuard + 64 / sizeof(T) + misalign) {
    auto base = reinterpret_cast<uintptr_t>(storage_.data());
    const uintptr_t aligned = (base + 63) & ~uintptr_t{63};
    begin_ = (aligned - base) / sizeof(T);
    std::memset(static_cast<void*>(storage_.data()), 0xA5,
                storage_.size() * sizeof(T));
    data_ = storage_.data() + begin_ + kGuard + misalign;
    std::memset(static_cast<void*>(data_), 0, n_ * sizeof(T));
  }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  Span<T> span() { return Span<T>(data_, n_); }
  Span<const T> span() const { return Span<const T>(data_, n_); }

  void Assign(const std::vector<T>& v) {
    EXPECT_EQ(v.size(), n_);
    if (n_ > 0) std::memcpy(static_cast<void*>(data_), v.data(), n_ * sizeof(T));
  }
  std::vector<T> ToVector() const { return std::vector<T>(data_, data_ + n_); }

  // True if no byte outside the n elements changed.
  bool Intact() const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(storage_.data());
    const size_t lo = (data_ - storage_.data()) * sizeof(T);
    const size_t hi = lo + n_ * sizeof(T);
    for (size_t b = 0; b < storage_.size() * sizeof(T); ++b) {
      if ((b < lo || b >= hi) && bytes[b] != 0xA5) return false;
    }
    return true;
  }

 private:
  size_t n_;
  std::vector<T> storage_;
  size_t begin_ = 0;
  T* data_ = nullptr;
};

// memcmp over n bytes that allows n == 0 with null pointers (an empty
// vector's data()), which memcmp itself does not.
inline bool SameBytes(const void* a, const void* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n) == 0;
}

inline std::vector<float> RandomFloats(size_t n, std::mt19937& rng,
                                       float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<uint32_t> RandomIndices(size_t n, uint32_t bound,
                                           std::mt19937& rng) {
  std::uniform_int_distribution<uint32_t> dist(0, bound - 1);
  std::vector<uint32_t> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<bf16> ToBf16(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = FloatToBf16(v[i]);
  return out;
}

// Weights as float or bf16, and back.
template <class TW>
float ToFloat(TW w) {
  if constexpr (std::is_same_v<TW, bf16>) {
    return Bf16ToFloat(w);
  } else {
    return w;
  }
}

template <class TW>
std::vector<TW> FromFloats(const std::vector<float>& v) {
  if constexpr (std::is_same_v<TW, bf16>) {
    return ToBf16(v);
  } else {
    return v;
  }
}


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

// Runs `body(variant)` for every variant of a kernel this CPU supports (the
// reference included), with the variant's name in failure messages.
template <class Fn, class Body>
void ForEachSupportedVariant(const std::vector<kernels::Variant<Fn>>& all,
                             const Body& body) {
  const auto supported = dispatch::SupportedVariants(all);
  ASSERT_FALSE(supported.empty());
  ASSERT_STREQ(supported.back().name, "reference");
  for (const auto& v : supported) {
    SCOPED_TRACE(std::string("variant ") + v.name);
    body(v);
  }
}

// |got - want| <= rel * scale + abs, with NaN equal only to NaN.
inline ::testing::AssertionResult Near(float got, float want, double scale,
                                       double rel, double abs = 1e-30) {
  if (std::isnan(want) || std::isnan(got)) {
    if (std::isnan(want) && std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << want;
  }
  if (std::isinf(want) || std::isinf(got)) {
    if (got == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << want;
  }
  const double err = std::fabs(double(got) - double(want));
  const double tol = rel * scale + abs;
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << ", want " << want << ", error " << err
         << " > tolerance " << tol;
}

}  // namespace frugal::test
