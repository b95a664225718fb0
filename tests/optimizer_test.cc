// Optimizer kernels (AdamDense, AdamRows, SgdMomentum): every variant this
// CPU runs against the scalar reference, and AdamParams::ForStep against a
// textbook bias-corrected Adam/AdamW in double.
//
// Tolerances:
//  Kernel vs reference: relative 1e-6 on w, m and v. Both use the same
//    operation order in float; the vector code may fuse a multiply into the
//    following add (one rounding fewer, 2^-24 ~ 6e-8 relative), so results
//    differ by a few ulps. "Relative" is to the magnitude of the terms that
//    are added, e.g. |b1 m| + |(1 - b1) g| for m, so cancellation can not
//    inflate it; w's scale also carries the step's sensitivity to the ulps
//    of m and v.
//  ForStep vs textbook Adam in double: relative 1e-5 on w after 1, 2 and 10
//    float steps (each float step rounds a handful of times; the textbook
//    runs in double), plus 1e-6 * lr per step absolute for the updates.
//  Untouched rows, padding and canaries are compared bit for bit; gradient
//    rows must become exactly +0.0.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::ForEachSupportedVariant;
using test::Guarded;
using test::Near;

constexpr double kRel = 1e-6;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> RandomPositive(size_t n, std::mt19937& rng) {
  return test::RandomFloats(n, rng, 0.0f, 0.5f);
}

// Magnitudes the reference's results are built from, for relative errors.
struct AdamScales {
  double w, m, v;
};
AdamScales AdamScale(float w, float m, float v, float g, const AdamParams& p) {
  AdamScales s;
  s.m = std::fabs(double(p.beta1) * m) + std::fabs((1.0 - p.beta1) * g);
  s.v = std::fabs(double(p.beta2) * v) + (1.0 - p.beta2) * double(g) * g;
  const double m_new = double(p.beta1) * m + (1.0 - p.beta1) * g;
  const double v_new = double(p.beta2) * v + (1.0 - p.beta2) * double(g) * g;
  const double denom = std::sqrt(v_new) + p.eps_t;
  // step = lr_t m / denom: its error from m's and v's rounding is bounded by
  // lr_t (s.m + |m| * s.v / (2 v + tiny)) / denom, absorbed into w's scale.
  const double step_scale =
      std::fabs(double(p.lr_t)) *
      (s.m + std::fabs(m_new) * (s.v / (2 * v_new + 1e-30)) + std::fabs(m_new)) /
      denom;
  s.w = std::fabs(double(w) * (1.0 - p.decay)) + step_scale;
  return s;
}

// Compares one element's (w, m, v) after a kernel step with the reference.
::testing::AssertionResult AdamNear(float w, float m, float v, float rw,
                                    float rm, float rv, const AdamScales& s) {
  if (auto r = Near(m, rm, s.m, kRel); !r) return r << " (m)";
  if (auto r = Near(v, rv, s.v, kRel); !r) return r << " (v)";
  if (auto r = Near(w, rw, s.w, kRel); !r) return r << " (w)";
  return ::testing::AssertionSuccess();
}

AdamParams TestParams(float decay) {
  AdamParams p = AdamParams::ForStep(0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 3);
  p.decay = decay;
  return p;
}

// ---------------------------------------------------------------------------
// AdamDense

TEST(AdamDense, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(31);
  ForEachSupportedVariant(kernels::AdamDenseVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (float decay : {0.0f, 1e-3f}) {
          const AdamParams p = TestParams(decay);
          const auto w0 = test::RandomFloats(n, rng, -2.0f, 2.0f);
          const auto m0 = test::RandomFloats(n, rng, -0.1f, 0.1f);
          const auto v0 = RandomPositive(n, rng);
          auto g0 = test::RandomFloats(n, rng);
          if (n > 2) g0[1] = 0.0f;  // a zero gradient still moves w
          Guarded<float> w(n, mis), m(n, (mis + 1) % 4), vv(n, (mis + 2) % 4),
              g(n, mis);
          w.Assign(w0);
          m.Assign(m0);
          vv.Assign(v0);
          g.Assign(g0);
          std::vector<float> rw = w0, rm = m0, rv = v0;
          kernels::AdamDenseRef(rw.data(), rm.data(), rv.data(), g0.data(), n,
                                p);
          v.fn(w.data(), m.data(), vv.data(), g.data(), n, p);
          ASSERT_TRUE(w.Intact() && m.Intact() && vv.Intact())
              << "wrote outside w/m/v, n=" << n << " misalign=" << mis;
          EXPECT_TRUE(g.Intact());
          EXPECT_EQ(g.ToVector(), g0) << "AdamDense must not modify g";
          size_t bad = 0;
          for (size_t i = 0; i < n; ++i) {
            const auto r = AdamNear(w[i], m[i], vv[i], rw[i], rm[i], rv[i],
                                    AdamScale(w0[i], m0[i], v0[i], g0[i], p));
            if (!r && bad++ == 0) {
              ADD_FAILURE() << "n=" << n << " decay=" << decay << " i=" << i
                            << ": " << r.message();
            }
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis;
        }
      }
    }
  });
}

TEST(AdamDense, WeightDecayShrinksWeightsWithZeroGradient) {
  // g = 0, m = 0: m, v stay 0 (v decays), step = 0, w *= 1 - decay exactly
  // up to one rounding.
  ForEachSupportedVariant(kernels::AdamDenseVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{17}, size_t{64}}) {
      std::vector<float> w(n, 2.0f), m(n, 0.0f), vv(n, 0.25f), g(n, 0.0f);
      AdamParams p = TestParams(0.125f);
      v.fn(w.data(), m.data(), vv.data(), g.data(), n, p);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(w[i], 1.75f) << "n=" << n;
        EXPECT_EQ(m[i], 0.0f);
        EXPECT_FLOAT_EQ(vv[i], 0.25f * p.beta2);
      }
    }
  });
}

TEST(AdamDense, NaNGradientPropagates) {
  ForEachSupportedVariant(kernels::AdamDenseVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{9}, size_t{33}}) {
      std::vector<float> w(n, 1.0f), m(n, 0.0f), vv(n, 0.0f), g(n, 0.5f);
      g[n - 1] = kNaN;
      v.fn(w.data(), m.data(), vv.data(), g.data(), n, TestParams(0.0f));
      EXPECT_TRUE(std::isnan(w[n - 1]) && std::isnan(m[n - 1]) &&
                  std::isnan(vv[n - 1]))
          << "n=" << n;
      for (size_t i = 0; i + 1 < n; ++i) {
        EXPECT_FALSE(std::isnan(w[i])) << "n=" << n << " i=" << i;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// AdamRows

TEST(AdamRows, MatchesReferenceAndTouchesOnlyListedRows) {
  std::mt19937 rng(32);
  const size_t num_w_rows = 20;
  ForEachSupportedVariant(kernels::AdamRowsVariants(), [&](const auto& v) {
    for (size_t dim : test::TestLengths()) {
      if (dim > 1024) continue;
      for (size_t pad : {size_t{0}, size_t{3}}) {
        const size_t stride = dim + pad;
        const size_t total = num_w_rows * stride;
        for (size_t mis : test::TestMisalignments()) {
          for (float decay : {0.0f, 1e-3f}) {
            for (size_t num_rows : {size_t{0}, size_t{1}, size_t{7}}) {
              const AdamParams p = TestParams(decay);
              // Distinct rows in random order, the first and last included.
              std::vector<uint32_t> all(num_w_rows);
              std::iota(all.begin(), all.end(), 0u);
              std::shuffle(all.begin() + 1, all.end() - 1, rng);
              std::swap(all[1], all.back());
              std::vector<uint32_t> rows_v(all.begin(),
                                           all.begin() + num_rows);
              std::shuffle(rows_v.begin(), rows_v.end(), rng);
              const auto w0 = test::RandomFloats(total, rng, -2.0f, 2.0f);
              const auto m0 = test::RandomFloats(total, rng, -0.1f, 0.1f);
              const auto v0 = RandomPositive(total, rng);
              const auto g0 = test::RandomFloats(total, rng);
              Guarded<float> w(total, mis), m(total, (mis + 1) % 4),
                  vv(total, (mis + 2) % 4), g(total, mis);
              w.Assign(w0);
              m.Assign(m0);
              vv.Assign(v0);
              g.Assign(g0);
              Guarded<uint32_t> rows(num_rows, mis);
              rows.Assign(rows_v);
              std::vector<float> rw = w0, rm = m0, rv = v0, rg = g0;
              kernels::AdamRowsRef(rw.data(), rm.data(), rv.data(), rg.data(),
                                   stride, rows.data(), num_rows, dim, p);
              v.fn(w.data(), m.data(), vv.data(), g.data(), stride,
                   rows.data(), num_rows, dim, p);
              ASSERT_TRUE(w.Intact() && m.Intact() && vv.Intact() &&
                          g.Intact())
                  << "wrote outside w/m/v/g, dim=" << dim
                  << " stride=" << stride << " misalign=" << mis;
              std::vector<bool> listed(num_w_rows, false);
              for (uint32_t r : rows_v) listed[r] = true;
              size_t bad = 0;
              for (size_t r = 0; r < num_w_rows; ++r) {
                const size_t off = r * stride;
                // Unlisted rows, and the padding of every row: bit for bit.
                const size_t from = listed[r] ? dim : 0;
                const size_t bytes = (stride - from) * 4;
                EXPECT_TRUE(test::SameBytes(w.data() + off + from,
                                            w0.data() + off + from, bytes))
                    << "w row " << r << " (listed " << listed[r]
                    << ") changed outside [0, dim), dim=" << dim;
                EXPECT_TRUE(test::SameBytes(m.data() + off + from,
                                            m0.data() + off + from, bytes))
                    << "m row " << r << ", dim=" << dim;
                EXPECT_TRUE(test::SameBytes(vv.data() + off + from,
                                            v0.data() + off + from, bytes))
                    << "v row " << r << ", dim=" << dim;
                EXPECT_TRUE(test::SameBytes(g.data() + off + from,
                                            g0.data() + off + from, bytes))
                    << "g row " << r << ", dim=" << dim;
                if (!listed[r]) continue;
                for (size_t i = 0; i < dim; ++i) {
                  const size_t e = off + i;
                  const float zero = 0.0f;
                  if (std::memcmp(&g[e], &zero, 4) != 0 && bad++ == 0) {
                    ADD_FAILURE() << "gradient not zeroed: row " << r
                                  << " i=" << i << " g=" << g[e];
                  }
                  const auto res =
                      AdamNear(w[e], m[e], vv[e], rw[e], rm[e], rv[e],
                               AdamScale(w0[e], m0[e], v0[e], g0[e], p));
                  if (!res && bad++ == 0) {
                    ADD_FAILURE() << "dim=" << dim << " stride=" << stride
                                  << " decay=" << decay << " row " << r
                                  << " i=" << i << ": " << res.message();
                  }
                }
              }
              EXPECT_EQ(bad, 0u) << "dim=" << dim << " stride=" << stride
                                 << " misalign=" << mis
                                 << " num_rows=" << num_rows;
            }
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------
// SgdMomentum

TEST(SgdMomentum, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(34);
  ForEachSupportedVariant(kernels::SgdMomentumVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (float wd : {0.0f, 5e-4f}) {
          SgdParams p;
          p.lr = 0.05f;
          p.momentum = 0.9f;
          p.weight_decay = wd;
          const auto w0 = test::RandomFloats(n, rng, -2.0f, 2.0f);
          const auto mom0 = test::RandomFloats(n, rng, -0.5f, 0.5f);
          const auto g0 = test::RandomFloats(n, rng);
          Guarded<float> w(n, mis), mom(n, (mis + 1) % 4), g(n, (mis + 2) % 4);
          w.Assign(w0);
          mom.Assign(mom0);
          g.Assign(g0);
          std::vector<float> rw = w0, rmom = mom0;
          kernels::SgdMomentumRef(rw.data(), rmom.data(), g0.data(), n, p);
          v.fn(w.data(), mom.data(), g.data(), n, p);
          ASSERT_TRUE(w.Intact() && mom.Intact())
              << "wrote outside w/mom, n=" << n;
          EXPECT_TRUE(g.Intact());
          EXPECT_EQ(g.ToVector(), g0);
          size_t bad = 0;
          for (size_t i = 0; i < n; ++i) {
            const double s_mom = std::fabs(double(p.momentum) * mom0[i]) +
                                 std::fabs(g0[i]) +
                                 std::fabs(double(wd) * w0[i]);
            const double s_w = std::fabs(w0[i]) + std::fabs(p.lr * s_mom);
            const auto r1 = Near(mom[i], rmom[i], s_mom, kRel);
            const auto r2 = Near(w[i], rw[i], s_w, kRel);
            if ((!r1 || !r2) && bad++ == 0) {
              ADD_FAILURE() << "n=" << n << " wd=" << wd << " i=" << i
                            << ": mom " << r1.message() << "; w "
                            << r2.message();
            }
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis;
        }
      }
    }
  });
}

TEST(SgdMomentum, KnownAnswer) {
  // mom = 0.5 * 2 + (1 + 0.25 * 4) = 3; w = 4 - 0.125 * 3 = 3.625.
  ForEachSupportedVariant(kernels::SgdMomentumVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{8}, size_t{19}}) {
      std::vector<float> w(n, 4.0f), mom(n, 2.0f), g(n, 1.0f);
      SgdParams p;
      p.lr = 0.125f;
      p.momentum = 0.5f;
      p.weight_decay = 0.25f;
      v.fn(w.data(), mom.data(), g.data(), n, p);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(mom[i], 3.0f) << "n=" << n;
        EXPECT_EQ(w[i], 3.625f) << "n=" << n;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// AdamParams::ForStep against textbook Adam / AdamW

TEST(AdamParams, ForStepFoldsBiasCorrection) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  for (uint64_t t : {1u, 2u, 10u, 1000u}) {
    const AdamParams p = AdamParams::ForStep(float(lr), float(b1), float(b2),
                                             float(eps), float(wd), t);
    const double c1 = 1 - std::pow(double(float(b1)), double(t));
    const double c2 = std::sqrt(1 - std::pow(double(float(b2)), double(t)));
    EXPECT_TRUE(Near(p.lr_t, float(lr) * c2 / c1, std::fabs(lr * c2 / c1),
                     1e-6))
        << "t=" << t;
    EXPECT_TRUE(Near(p.eps_t, float(eps) * c2, eps * c2, 1e-6)) << "t=" << t;
    EXPECT_EQ(p.beta1, float(b1));
    EXPECT_EQ(p.beta2, float(b2));
    EXPECT_FLOAT_EQ(p.decay, float(lr) * float(wd));
  }
}

// Runs `steps` steps of textbook AdamW in double:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   mhat = m / (1 - b1^t);  vhat = v / (1 - b2^t);
//   w = w - lr * (mhat / (sqrt(vhat) + eps) + wd * w).
void TextbookAdam(std::vector<double>& w, std::vector<double>& m,
                  std::vector<double>& v, const std::vector<float>& g,
                  double lr, double b1, double b2, double eps, double wd,
                  uint64_t t) {
  for (size_t i = 0; i < w.size(); ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
    const double mhat = m[i] / (1 - std::pow(b1, double(t)));
    const double vhat = v[i] / (1 - std::pow(b2, double(t)));
    w[i] = w[i] - lr * (mhat / (std::sqrt(vhat) + eps) + wd * w[i]);
  }
}

TEST(AdamParams, KernelStepsMatchTextbookAdam) {
  std::mt19937 rng(35);
  const size_t n = 21;
  for (double wd : {0.0, 0.05}) {
    ForEachSupportedVariant(kernels::AdamDenseVariants(), [&](const auto& v) {
      const float lr = 0.05f, b1 = 0.9f, b2 = 0.999f, eps = 1e-6f;
      const auto w_init = test::RandomFloats(n, rng, -1.0f, 1.0f);
      std::vector<float> w = w_init, m(n, 0.0f), vv(n, 0.0f);
      std::vector<double> dw(w.begin(), w.end()), dm(n, 0.0), dv(n, 0.0);
      std::vector<double> m_scale(n, 0.0);  // the m recurrence on |g|
      double max_update = 0;
      for (uint64_t t = 1; t <= 10; ++t) {
        auto g = test::RandomFloats(n, rng, -1.0f, 1.0f);
        // Gradients near eps, where eps_t's folding matters, and a spike.
        g[0] = 1e-6f * (t % 2 ? 1.0f : -2.0f);
        g[1] = 3e-7f;
        g[2] = 0.0f;
        g[3] = t == 1 ? 5.0f : 0.0f;
        const AdamParams p =
            AdamParams::ForStep(lr, b1, b2, eps, float(wd), t);
        v.fn(w.data(), m.data(), vv.data(), g.data(), n, p);
        TextbookAdam(dw, dm, dv, g, lr, b1, b2, eps, wd, t);
        for (size_t i = 0; i < n; ++i) {
          m_scale[i] = b1 * m_scale[i] + (1 - b1) * std::fabs(g[i]);
        }
        max_update += lr * (1 + wd);
        if (t != 1 && t != 2 && t != 10) continue;
        for (size_t i = 0; i < n; ++i) {
          EXPECT_TRUE(Near(w[i], float(dw[i]),
                           std::fabs(dw[i]) + std::fabs(w_init[i]) + max_update,
                           1e-5))
              << "step " << t << " weight " << i << " wd=" << wd;
          EXPECT_TRUE(Near(m[i], float(dm[i]), m_scale[i], 1e-5))
              << "step " << t << " m " << i;
          EXPECT_TRUE(Near(vv[i], float(dv[i]), dv[i], 1e-5))
              << "step " << t << " v " << i;
        }
      }
      // A missing bias correction moves step-1 weights by ~3.2 lr instead of
      // lr, and unfolded eps moves the g ~ eps weights by a fraction of that:
      // both far outside the tolerance above.
      EXPECT_NE(w, w_init);
    });
  }
}

TEST(AdamParams, FirstStepMovesByLearningRate) {
  // Bias-corrected step 1: mhat = g, vhat = g^2, so w -= lr * g / (|g| + eps)
  // ~ lr * sign(g), whatever |g| (well above eps).
  ForEachSupportedVariant(kernels::AdamDenseVariants(), [&](const auto& v) {
    std::vector<float> g = {1e-3f, -0.5f, 40.0f, -7.0f};
    std::vector<float> w(g.size(), 1.0f), m(g.size(), 0.0f), vv(g.size(), 0.0f);
    const AdamParams p = AdamParams::ForStep(0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    v.fn(w.data(), m.data(), vv.data(), g.data(), g.size(), p);
    for (size_t i = 0; i < g.size(); ++i) {
      const float want = g[i] > 0 ? 0.9f : 1.1f;
      EXPECT_TRUE(Near(w[i], want, 1.0, 1e-5)) << "i=" << i;
    }
  });
}

}  // namespace
}  // namespace frugal
