// Dense dot and row-gather dot, float and bf16 weights: every variant this
// CPU runs against the scalar reference.
//
// Tolerance: |got - ref| <= 1e-5 * sum_i |a_i * b_i|. A float sum of n terms
// in any order is within ~n * 2^-24 of the exact value relative to that
// scale; the vector code sums in (4 x lanes) partial sums, far inside it.
#include <cmath>
#include <limits>

#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::ForEachSupportedVariant;
using test::Guarded;
using test::Near;

constexpr double kRel = 1e-5;

double AbsDot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::fabs(double(a[i]) * b[i]);
  return s;
}

TEST(Dot, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(1);
  ForEachSupportedVariant(kernels::DotVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        Guarded<float> a(n, mis), b(n, mis + 1);
        a.Assign(test::RandomFloats(n, rng));
        b.Assign(test::RandomFloats(n, rng));
        const float want = kernels::DotRef(a.data(), b.data(), n);
        const float got = v.fn(a.data(), b.data(), n);
        EXPECT_TRUE(Near(got, want, AbsDot(a.data(), b.data(), n), kRel))
            << "n=" << n << " misalign=" << mis;
      }
    }
  });
}

TEST(Dot, Bf16MatchesReference) {
  std::mt19937 rng(2);
  ForEachSupportedVariant(kernels::DotBf16Variants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        Guarded<bf16> w(n, mis);
        Guarded<float> h(n, mis + 2);
        w.Assign(test::ToBf16(test::RandomFloats(n, rng)));
        h.Assign(test::RandomFloats(n, rng));
        std::vector<float> wf(n);
        for (size_t i = 0; i < n; ++i) wf[i] = Bf16ToFloat(w[i]);
        const float want = kernels::DotBf16Ref(w.data(), h.data(), n);
        EXPECT_TRUE(Near(v.fn(w.data(), h.data(), n), want,
                         AbsDot(wf.data(), h.data(), n), kRel))
            << "n=" << n << " misalign=" << mis;
      }
    }
  });
}

TEST(Dot, NaNPropagates) {
  ForEachSupportedVariant(kernels::DotVariants(), [&](const auto& v) {
    for (size_t n : {1, 7, 16, 33, 129}) {
      std::vector<float> a(n, 1.0f), b(n, 2.0f);
      a[n - 1] = std::numeric_limits<float>::quiet_NaN();
      EXPECT_TRUE(std::isnan(v.fn(a.data(), b.data(), n))) << "n=" << n;
    }
  });
}

TEST(Dot, ExactOnIntegers) {
  // Small integers are exact in float: every variant must agree exactly.
  ForEachSupportedVariant(kernels::DotVariants(), [&](const auto& v) {
    std::vector<float> a(1000), b(1000);
    double want = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = float(int(i % 7) - 3);
      b[i] = float(int(i % 5) - 2);
      want += double(a[i]) * b[i];
    }
    EXPECT_EQ(v.fn(a.data(), b.data(), a.size()), float(want));
  });
}

template <class TW, class Fn, class Ref>
void CheckRowGatherDot(const std::vector<kernels::Variant<Fn>>& variants,
                       Ref ref, uint32_t seed) {
  std::mt19937 rng(seed);
  ForEachSupportedVariant(variants, [&](const auto& v) {
    for (size_t dim : test::TestLengths()) {
      if (dim > 1024) continue;
      const size_t num_w_rows = 50;
      for (size_t pad : {size_t{0}, size_t{3}}) {
        const size_t stride = dim + pad;
        Guarded<TW> w(num_w_rows * stride, pad);
        const auto wf = test::RandomFloats(w.size(), rng);
        w.Assign(test::FromFloats<TW>(wf));
        Guarded<float> h(dim, 1);
        h.Assign(test::RandomFloats(dim, rng));
        // Repeats, the first and the last row included.
        auto rows = test::RandomIndices(37, num_w_rows, rng);
        rows[0] = 0;
        rows[1] = num_w_rows - 1;
        rows[2] = rows[3];
        Guarded<float> out(rows.size()), want(rows.size());
        v.fn(w.data(), stride, rows.data(), rows.size(), h.data(), dim,
             out.data());
        ref(w.data(), stride, rows.data(), rows.size(), h.data(), dim,
            want.data());
        ASSERT_TRUE(out.Intact()) << "wrote outside out, dim=" << dim;
        for (size_t j = 0; j < rows.size(); ++j) {
          std::vector<float> row(dim);
          for (size_t d = 0; d < dim; ++d) {
            row[d] = test::ToFloat(w[rows[j] * stride + d]);
          }
          EXPECT_TRUE(Near(out[j], want[j], AbsDot(row.data(), h.data(), dim),
                           kRel))
              << "dim=" << dim << " stride=" << stride << " j=" << j;
        }
      }
    }
    // No rows: nothing written.
    float w0 = 1.0f, h0 = 1.0f;
    Guarded<float> out(0);
    v.fn(reinterpret_cast<const TW*>(&w0), 1, nullptr, 0, &h0, 1, out.data());
    EXPECT_TRUE(out.Intact());
  });
}

TEST(RowGatherDot, MatchesReference) {
  CheckRowGatherDot<float>(kernels::RowGatherDotVariants(),
                           kernels::RowGatherDotRef, 3);
}

TEST(RowGatherDot, Bf16MatchesReference) {
  CheckRowGatherDot<bf16>(kernels::RowGatherDotBf16Variants(),
                          kernels::RowGatherDotBf16Ref, 4);
}

TEST(Bf16, RoundTripRoundsToNearestEven) {
  EXPECT_EQ(FloatToBf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f)), 1.0f);
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: to even (1).
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 1.0f / 256)), 1.0f);
  // Just above halfway rounds up.
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 1.0f / 256 + 1.0f / 65536)),
            1.0f + 1.0f / 128);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(
      FloatToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(-3.5f)), -3.5f);
}

}  // namespace
}  // namespace frugal
