// Activations (Relu, Sigmoid, Softmax, LogSoftmax): every variant this CPU
// runs against the scalar reference, out of place and in place (x == y).
//
// Tolerances:
//  Relu: exact, bit for bit with the reference (a compare and a select).
//  Sigmoid: absolute 2e-6. The vector exp (Highway's, a few ulps) and the
//    float divide against a double reference: a few 2^-24 relative on values
//    in (0, 1]. Saturated inputs (|x| >= 100) must give 0 or 1 within 1e-7.
//  Softmax: |got - ref| <= 1e-6 + 1e-5 |ref| per output, outputs sum to 1
//    within 1e-5. The float sum of exp's is a few ulps per term; x - max is
//    rounded once (2^-24 relative of |x - max| <= ~104 where exp is not 0).
//  LogSoftmax: |got - ref| <= 1e-5 * max(1, |x_i|): x - lse in float loses up
//    to an ulp of max(|x|, |lse|).
//  The returned log-sum-exp: relative 1e-5 of max(1, |ref|).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::ForEachSupportedVariant;
using test::Guarded;
using test::Near;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMax = std::numeric_limits<float>::max();

bool SameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Runs fn out of place (x != y, both guarded) or in place (y == x).
// Returns the outputs; `ret` gets the return value when Fn returns one.
template <class Fn>
std::vector<float> RunActivation(Fn fn, const std::vector<float>& x_v,
                                 size_t mis, bool in_place, float* ret,
                                 bool* intact) {
  const size_t n = x_v.size();
  Guarded<float> x(n, mis), y(n, (mis + 1) % 4);
  x.Assign(x_v);
  float* out = in_place ? x.data() : y.data();
  if constexpr (std::is_same_v<decltype(fn(x.data(), out, n)), void>) {
    fn(x.data(), out, n);
    *ret = 0;
  } else {
    *ret = fn(x.data(), out, n);
  }
  *intact = x.Intact() && y.Intact();
  if (!in_place && !test::SameBytes(x.data(), x_v.data(), n * 4)) {
    *intact = false;  // the input of an out-of-place call is read-only
  }
  return in_place ? x.ToVector() : y.ToVector();
}

// ---------------------------------------------------------------------------
// Relu

TEST(Relu, BitExactWithReference) {
  std::mt19937 rng(41);
  ForEachSupportedVariant(kernels::ReluVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (bool in_place : {false, true}) {
          auto x = test::RandomFloats(n, rng, -3.0f, 3.0f);
          if (n > 4) {  // specials at fixed positions
            x[0] = -0.0f;
            x[1] = kNaN;
            x[2] = -kInf;
            x[3] = kInf;
            x[n - 1] = 1e-40f;  // denormal > 0
          }
          std::vector<float> want(n);
          kernels::ReluRef(x.data(), want.data(), n);
          float ret;
          bool intact;
          const auto y = RunActivation(v.fn, x, mis, in_place, &ret, &intact);
          ASSERT_TRUE(intact) << "n=" << n << " in_place=" << in_place;
          for (size_t i = 0; i < n; ++i) {
            if (std::isnan(x[i])) {
              EXPECT_TRUE(std::isnan(y[i])) << "NaN must be kept, n=" << n;
              continue;
            }
            EXPECT_TRUE(SameBits(y[i], want[i]))
                << "n=" << n << " i=" << i << " x=" << x[i] << ": got "
                << y[i] << ", want " << want[i];
          }
        }
      }
    }
  });
}

TEST(Relu, Specials) {
  const std::vector<float> x = {-0.0f, 0.0f, -1.0f, -kInf, kInf, kNaN,
                                2.5f, -1e-40f, 1e-40f, -kMax, kMax};
  ForEachSupportedVariant(kernels::ReluVariants(), [&](const auto& v) {
    std::vector<float> y(x.size(), 7.0f);
    v.fn(x.data(), y.data(), x.size());
    EXPECT_EQ(y[0], 0.0f);  // -0.0: zero (of either sign, see kernel_list.h)
    EXPECT_TRUE(SameBits(y[1], 0.0f));
    // Negative -> +0.0 exactly.
    EXPECT_TRUE(SameBits(y[2], 0.0f)) << y[2];
    EXPECT_TRUE(SameBits(y[3], 0.0f)) << y[3];
    EXPECT_EQ(y[4], kInf);
    EXPECT_TRUE(std::isnan(y[5]));
    EXPECT_EQ(y[6], 2.5f);
    EXPECT_TRUE(SameBits(y[7], 0.0f)) << y[7];
    EXPECT_EQ(y[8], 1e-40f);
    EXPECT_TRUE(SameBits(y[9], 0.0f));
    EXPECT_EQ(y[10], kMax);
  });
}

// ---------------------------------------------------------------------------
// Sigmoid

TEST(Sigmoid, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  ForEachSupportedVariant(kernels::SigmoidVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (bool in_place : {false, true}) {
          const auto x = test::RandomFloats(n, rng, -20.0f, 20.0f);
          std::vector<float> want(n);
          kernels::SigmoidRef(x.data(), want.data(), n);
          float ret;
          bool intact;
          const auto y = RunActivation(v.fn, x, mis, in_place, &ret, &intact);
          ASSERT_TRUE(intact) << "n=" << n << " in_place=" << in_place;
          size_t bad = 0;
          for (size_t i = 0; i < n; ++i) {
            const auto r = Near(y[i], want[i], 0.0, 0.0, 2e-6);
            if (!r && bad++ == 0) {
              ADD_FAILURE() << "n=" << n << " x=" << x[i] << ": "
                            << r.message();
            }
            if (!(y[i] >= 0.0f && y[i] <= 1.0f) && bad++ == 0) {
              ADD_FAILURE() << "out of [0, 1]: x=" << x[i] << " y=" << y[i];
            }
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis
                             << " in_place=" << in_place;
        }
      }
    }
  });
}

TEST(Sigmoid, KnownValues) {
  ForEachSupportedVariant(kernels::SigmoidVariants(), [&](const auto& v) {
    const std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 5.0f};
    std::vector<float> y(x.size());
    v.fn(x.data(), y.data(), x.size());
    EXPECT_TRUE(Near(y[0], 0.5f, 0, 0, 1e-7));
    EXPECT_TRUE(Near(y[1], 0.5f, 0, 0, 1e-7));
    EXPECT_TRUE(Near(y[2], 0.7310585786f, 0, 0, 2e-6));
    EXPECT_TRUE(Near(y[3], 0.2689414214f, 0, 0, 2e-6));
    EXPECT_TRUE(Near(y[4], 0.9933071491f, 0, 0, 2e-6));
  });
}

TEST(Sigmoid, SaturatesAtHundred) {
  ForEachSupportedVariant(kernels::SigmoidVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{8}, size_t{19}}) {
      std::vector<float> x(n), y(n);
      for (size_t i = 0; i < n; ++i) x[i] = i % 2 ? -100.0f : 100.0f;
      v.fn(x.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_FALSE(std::isnan(y[i])) << "x=" << x[i];
        EXPECT_LE(std::fabs(y[i] - (x[i] > 0 ? 1.0f : 0.0f)), 1e-7f)
            << "x=" << x[i] << " y=" << y[i];
      }
    }
  });
}

TEST(Sigmoid, SaturatesForEveryLargeInput) {
  // The contract is 1 / (1 + exp(-x)) for every x: far out it is 0 or 1
  // (within 1e-7), never NaN, never outside [0, 1].
  const std::vector<float> big = {88.0f,  88.8f, 90.0f, 103.0f, 104.5f,
                                  150.0f, 177.0f, 178.0f, 200.0f, 700.0f,
                                  1e3f,   1e4f,  1e6f,  1e30f,  kMax, kInf};
  std::vector<float> x;
  for (float b : big) {
    x.push_back(b);
    x.push_back(-b);
  }
  ForEachSupportedVariant(kernels::SigmoidVariants(), [&](const auto& v) {
    // All at once (full vectors), then one at a time (the tail path).
    std::vector<float> y(x.size(), 0.5f), y1(x.size(), 0.5f);
    v.fn(x.data(), y.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) v.fn(&x[i], &y1[i], 1);
    std::ostringstream wrong;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = x[i] > 0 ? 1.0f : 0.0f;
      if (!(std::fabs(y[i] - want) <= 1e-7f) ||
          !(std::fabs(y1[i] - want) <= 1e-7f)) {
        wrong << " sigmoid(" << x[i] << ") = " << y[i] << " / " << y1[i]
              << " (want " << want << ");";
      }
    }
    EXPECT_EQ(wrong.str(), "");
  });
}

TEST(Sigmoid, NaNPropagates) {
  // dispatch/ops.h: NaN inputs propagate to the outputs.
  ForEachSupportedVariant(kernels::SigmoidVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{16}, size_t{33}}) {
      std::vector<float> x(n, 0.0f), y(n, 0.0f);
      x[n - 1] = kNaN;
      v.fn(x.data(), y.data(), n);
      EXPECT_TRUE(std::isnan(y[n - 1])) << "n=" << n << ": sigmoid(NaN) = "
                                         << y[n - 1];
      for (size_t i = 0; i + 1 < n; ++i) EXPECT_EQ(y[i], 0.5f);
    }
  });
}

// ---------------------------------------------------------------------------
// Softmax and LogSoftmax

enum class Kind { kSoftmax, kLogSoftmax };

template <class Fn, class Ref>
void CheckSoftmaxVsRef(Kind kind, const std::vector<kernels::Variant<Fn>>& vs,
                       Ref ref, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  ForEachSupportedVariant(vs, [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      if (n == 0) continue;
      for (size_t mis : test::TestMisalignments()) {
        for (bool in_place : {false, true}) {
          const auto x = test::RandomFloats(n, rng, lo, hi);
          std::vector<float> want(n);
          const float want_lse = ref(x.data(), want.data(), n);
          float lse;
          bool intact;
          const auto y = RunActivation(v.fn, x, mis, in_place, &lse, &intact);
          ASSERT_TRUE(intact) << "n=" << n << " in_place=" << in_place;
          EXPECT_TRUE(Near(lse, want_lse, std::max(1.0f, std::fabs(want_lse)),
                           1e-5))
              << "log-sum-exp, n=" << n << " range " << hi;
          size_t bad = 0;
          double sum = 0;
          for (size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(std::isfinite(y[i]))
                << "n=" << n << " x=" << x[i] << " y=" << y[i];
            const auto r =
                kind == Kind::kSoftmax
                    ? Near(y[i], want[i], std::fabs(want[i]), 1e-5, 1e-6)
                    : Near(y[i], want[i],
                           std::max({1.0f, std::fabs(x[i]), std::fabs(want[i])}),
                           1e-5);
            if (!r && bad++ == 0) {
              ADD_FAILURE() << "n=" << n << " i=" << i << " x=" << x[i]
                            << ": " << r.message();
            }
            sum += kind == Kind::kSoftmax ? y[i] : std::exp(double(y[i]));
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis
                             << " in_place=" << in_place << " range " << hi;
          // Probabilities (exp of the log-probabilities) sum to 1. For log
          // outputs of magnitude ~1e4 an ulp is ~1e-3, so only check the
          // sum where that rounding is small.
          if (kind == Kind::kSoftmax || hi <= 10) {
            EXPECT_NEAR(sum, 1.0, 1e-5) << "n=" << n << " range " << hi;
          }
        }
      }
    }
  });
}

TEST(Softmax, MatchesReference) {
  CheckSoftmaxVsRef(Kind::kSoftmax, kernels::SoftmaxVariants(),
                    kernels::SoftmaxRef, -5.0f, 5.0f, 43);
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  CheckSoftmaxVsRef(Kind::kSoftmax, kernels::SoftmaxVariants(),
                    kernels::SoftmaxRef, -1e4f, 1e4f, 44);
  CheckSoftmaxVsRef(Kind::kSoftmax, kernels::SoftmaxVariants(),
                    kernels::SoftmaxRef, 9990.0f, 1e4f, 45);
  CheckSoftmaxVsRef(Kind::kSoftmax, kernels::SoftmaxVariants(),
                    kernels::SoftmaxRef, -1e4f, -9990.0f, 46);
}

TEST(LogSoftmax, MatchesReference) {
  CheckSoftmaxVsRef(Kind::kLogSoftmax, kernels::LogSoftmaxVariants(),
                    kernels::LogSoftmaxRef, -5.0f, 5.0f, 47);
}

TEST(LogSoftmax, LargeLogitsDoNotOverflow) {
  CheckSoftmaxVsRef(Kind::kLogSoftmax, kernels::LogSoftmaxVariants(),
                    kernels::LogSoftmaxRef, -1e4f, 1e4f, 48);
  CheckSoftmaxVsRef(Kind::kLogSoftmax, kernels::LogSoftmaxVariants(),
                    kernels::LogSoftmaxRef, 9990.0f, 1e4f, 49);
}

TEST(Softmax, KnownAnswers) {
  ForEachSupportedVariant(kernels::SoftmaxVariants(), [&](const auto& v) {
    // Equal logits: uniform, whatever their size; lse = x + log(n).
    for (float c : {0.0f, -3.0f, 1e4f, -1e4f}) {
      for (size_t n : {size_t{1}, size_t{4}, size_t{17}}) {
        std::vector<float> x(n, c), y(n);
        const float lse = v.fn(x.data(), y.data(), n);
        for (size_t i = 0; i < n; ++i) {
          EXPECT_TRUE(Near(y[i], 1.0f / n, 1.0 / n, 1e-5)) << "c=" << c;
        }
        EXPECT_TRUE(Near(lse, float(c + std::log(double(n))),
                         std::max(1.0f, std::fabs(c)), 1e-5))
            << "c=" << c << " n=" << n;
      }
    }
    // [0, log 3]: probabilities 1/4, 3/4.
    std::vector<float> x = {0.0f, float(std::log(3.0))}, y(2);
    const float lse = v.fn(x.data(), y.data(), 2);
    EXPECT_TRUE(Near(y[0], 0.25f, 0.25, 1e-5));
    EXPECT_TRUE(Near(y[1], 0.75f, 0.75, 1e-5));
    EXPECT_TRUE(Near(lse, float(std::log(4.0)), 1.0, 1e-5));
  });
}

TEST(LogSoftmax, KnownAnswers) {
  ForEachSupportedVariant(kernels::LogSoftmaxVariants(), [&](const auto& v) {
    std::vector<float> x = {0.0f, float(std::log(3.0))}, y(2);
    const float lse = v.fn(x.data(), y.data(), 2);
    EXPECT_TRUE(Near(y[0], float(std::log(0.25)), 1.0, 1e-5));
    EXPECT_TRUE(Near(y[1], float(std::log(0.75)), 1.0, 1e-5));
    EXPECT_TRUE(Near(lse, float(std::log(4.0)), 1.0, 1e-5));
  });
}

template <class Fn>
void CheckEmpty(const std::vector<kernels::Variant<Fn>>& vs) {
  ForEachSupportedVariant(vs, [&](const auto& v) {
    Guarded<float> x(0), y(0);
    const float lse = v.fn(x.data(), y.data(), 0);
    EXPECT_TRUE(std::isinf(lse) && lse < 0) << "got " << lse;
    EXPECT_TRUE(x.Intact() && y.Intact());
    // nullptr is fine for n == 0.
    const float lse2 = v.fn(nullptr, nullptr, 0);
    EXPECT_TRUE(std::isinf(lse2) && lse2 < 0) << "got " << lse2;
  });
}

TEST(Softmax, EmptyReturnsMinusInfinity) {
  CheckEmpty(kernels::SoftmaxVariants());
}

TEST(LogSoftmax, EmptyReturnsMinusInfinity) {
  CheckEmpty(kernels::LogSoftmaxVariants());
}

template <class Fn>
void CheckNaN(const std::vector<kernels::Variant<Fn>>& vs) {
  ForEachSupportedVariant(vs, [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{2}, size_t{5}, size_t{16}, size_t{17},
                     size_t{33}, size_t{100}}) {
      for (size_t pos : {size_t{0}, n / 2, n - 1}) {
        for (bool in_place : {false, true}) {
          std::vector<float> x(n);
          for (size_t i = 0; i < n; ++i) x[i] = float(i % 7) - 3.0f;
          x[pos] = kNaN;
          float lse;
          bool intact;
          const auto y = RunActivation(v.fn, x, 1, in_place, &lse, &intact);
          ASSERT_TRUE(intact);
          EXPECT_TRUE(std::isnan(lse)) << "n=" << n << " NaN at " << pos;
          size_t not_nan = 0;
          for (float e : y) not_nan += !std::isnan(e);
          EXPECT_EQ(not_nan, 0u) << "n=" << n << " NaN at " << pos
                                 << " in_place=" << in_place;
        }
      }
    }
  });
}

TEST(Softmax, AnyNaNMakesEverythingNaN) { CheckNaN(kernels::SoftmaxVariants()); }

TEST(LogSoftmax, AnyNaNMakesEverythingNaN) {
  CheckNaN(kernels::LogSoftmaxVariants());
}

TEST(Softmax, MinusInfinityLogitsGetZeroProbability) {
  // Masked logits: exp(-inf) = 0, log-probability -inf; the rest as if the
  // masked entries were absent.
  ForEachSupportedVariant(kernels::SoftmaxVariants(), [&](const auto& v) {
    for (size_t n : {size_t{3}, size_t{16}, size_t{37}}) {
      std::vector<float> x(n, -kInf), y(n);
      x[1] = 0.0f;
      x[n - 1] = float(std::log(3.0));
      const float lse = v.fn(x.data(), y.data(), n);
      EXPECT_TRUE(Near(lse, float(std::log(4.0)), 1.0, 1e-5)) << "n=" << n;
      for (size_t i = 0; i < n; ++i) {
        const float want = i == 1 ? 0.25f : i == n - 1 ? 0.75f : 0.0f;
        EXPECT_TRUE(Near(y[i], want, want, 1e-5, 1e-30)) << "n=" << n;
      }
    }
  });
  ForEachSupportedVariant(kernels::LogSoftmaxVariants(), [&](const auto& v) {
    for (size_t n : {size_t{3}, size_t{16}, size_t{37}}) {
      std::vector<float> x(n, -kInf), y(n);
      x[1] = 0.0f;
      x[n - 1] = float(std::log(3.0));
      const float lse = v.fn(x.data(), y.data(), n);
      EXPECT_TRUE(Near(lse, float(std::log(4.0)), 1.0, 1e-5)) << "n=" << n;
      for (size_t i = 0; i < n; ++i) {
        const float want = i == 1       ? float(std::log(0.25))
                           : i == n - 1 ? float(std::log(0.75))
                                        : -kInf;
        EXPECT_TRUE(Near(y[i], want, 1.0, 1e-5)) << "n=" << n << " i=" << i;
      }
    }
  });
}

}  // namespace
}  // namespace frugal
