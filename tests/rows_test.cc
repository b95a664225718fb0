// Sparse-row kernels (RowAccumulate, RowAccumulateBf16, ScatterAddRows, Axpy,
// Scale): every variant this CPU runs against the scalar reference.
//
// Tolerances:
//  RowAccumulate(Bf16): |got - ref| <= 1e-5 * (|out0[d]| + sum_i |val_i *
//    w(idx_i, d)|) per column. The reference sums in double; the vector code
//    does nnz fused multiply-adds in float, each rounding by at most 2^-24 of
//    that scale, so 76 terms stay below 76 * 2^-24 ~ 4.5e-6 of it.
//  ScatterAddRows: the same bound per element, the scale being |w0| plus the
//    |val_i * g[d]| of every update of that row (float in both, but the
//    vector code fuses the multiply-add: one rounding fewer per update).
//  Axpy: 1e-6 * (|y0| + |a * x|): one FMA against a rounded multiply and add,
//    i.e. at most one extra rounding of 2^-24 of that scale.
//  Scale: exact (bit for bit): one correctly rounded IEEE multiply each.
//  Rows, columns and bytes the contract does not write are compared bit for
//  bit, and every output sits in a Guarded buffer whose canaries must hold.
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
using test::FromFloats;
using test::Near;
using test::ToFloat;

constexpr double kRel = 1e-5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

bool SameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Every got[i] Near want[i] with scale[i]; reports the first mismatch and how
// many there were, so a broken kernel does not print thousands of lines.
::testing::AssertionResult AllNear(const float* got, const float* want,
                                   const std::vector<double>& scale,
                                   double rel, size_t n) {
  size_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < n; ++i) {
    const auto r = Near(got[i], want[i], scale[i], rel);
    if (!r) {
      if (bad == 0) first << "element " << i << ": " << r.message();
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << n << " elements differ; first: " << first.str();
}

// ---------------------------------------------------------------------------
// RowAccumulate / RowAccumulateBf16

template <class TW, class Fn, class Ref>
void CheckRowAccumulate(const std::vector<kernels::Variant<Fn>>& variants,
                        Ref ref, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t num_w_rows = 40;
  ForEachSupportedVariant(variants, [&](const auto& v) {
    for (size_t dim : test::TestLengths()) {
      if (dim > 1024) continue;
      for (size_t pad : {size_t{0}, size_t{3}}) {
        const size_t stride = dim + pad;
        for (size_t mis : test::TestMisalignments()) {
          Guarded<TW> w(num_w_rows * stride, mis);
          w.Assign(FromFloats<TW>(test::RandomFloats(w.size(), rng)));
          const auto w_before = w.ToVector();
          for (size_t nnz : {size_t{0}, size_t{1}, size_t{5}, size_t{76}}) {
            auto idx_v = test::RandomIndices(nnz, num_w_rows, rng);
            if (nnz >= 5) {  // first and last row, and a repeated index
              idx_v[0] = 0;
              idx_v[1] = num_w_rows - 1;
              idx_v[2] = idx_v[4];
            }
            Guarded<uint32_t> idx(nnz, mis);
            idx.Assign(idx_v);
            Guarded<float> val(nnz, (mis + 1) % 4);
            val.Assign(test::RandomFloats(nnz, rng, -2.0f, 2.0f));
            const auto out0 = test::RandomFloats(dim, rng, -3.0f, 3.0f);
            Guarded<float> out(dim, (mis + 2) % 4);
            out.Assign(out0);
            std::vector<float> want = out0;
            ref(w.data(), stride, idx.data(), val.data(), nnz, want.data(),
                dim);
            v.fn(w.data(), stride, idx.data(), val.data(), nnz, out.data(),
                 dim);
            ASSERT_TRUE(out.Intact())
                << "wrote outside out, dim=" << dim << " stride=" << stride
                << " nnz=" << nnz << " misalign=" << mis;
            std::vector<double> scale(dim);
            for (size_t d = 0; d < dim; ++d) {
              double s = std::fabs(out0[d]);
              for (size_t i = 0; i < nnz; ++i) {
                s += std::fabs(double(val[i]) *
                               ToFloat(w[size_t{idx[i]} * stride + d]));
              }
              scale[d] = s;
            }
            EXPECT_TRUE(AllNear(out.data(), want.data(), scale, kRel, dim))
                << "dim=" << dim << " stride=" << stride << " nnz=" << nnz
                << " misalign=" << mis;
            if (nnz == 0) {  // nothing to add: out is unchanged, bit for bit
              EXPECT_TRUE(test::SameBytes(out.data(), out0.data(), dim * 4))
                  << "dim=" << dim;
            }
          }
          // Inputs are read-only.
          EXPECT_TRUE(w.Intact());
          EXPECT_TRUE(test::SameBytes(w.data(), w_before.data(),
                                      w.size() * sizeof(TW)));
        }
      }
    }
  });
}

TEST(RowAccumulate, MatchesReference) {
  CheckRowAccumulate<float>(kernels::RowAccumulateVariants(),
                            kernels::RowAccumulateRef, 11);
}

TEST(RowAccumulate, Bf16MatchesReference) {
  CheckRowAccumulate<bf16>(kernels::RowAccumulateBf16Variants(),
                           kernels::RowAccumulateBf16Ref, 12);
}

// Small integers times small powers of two are exact in float and bf16: every
// variant must give exactly the hand-computed sums.
template <class TW, class Fn>
void CheckRowAccumulateExact(const std::vector<kernels::Variant<Fn>>& variants) {
  ForEachSupportedVariant(variants, [&](const auto& v) {
    for (size_t dim : {size_t{3}, size_t{16}, size_t{67}, size_t{130}}) {
      const size_t stride = dim + 1, rows = 6;
      std::vector<float> wf(rows * stride, 1000.0f);  // padding: never read
      for (size_t r = 0; r < rows; ++r) {
        for (size_t d = 0; d < dim; ++d) {
          wf[r * stride + d] = float(int((r * 7 + d * 3) % 11) - 5);
        }
      }
      const auto w = FromFloats<TW>(wf);
      const std::vector<uint32_t> idx = {5, 0, 3, 0, 2};
      const std::vector<float> val = {0.5f, -2.0f, 1.0f, 0.25f, -1.0f};
      Guarded<float> out(dim, 1);
      std::vector<float> want(dim);
      for (size_t d = 0; d < dim; ++d) {
        out[d] = float(d % 4);
        double s = out[d];
        for (size_t i = 0; i < idx.size(); ++i) {
          s += double(val[i]) * wf[idx[i] * stride + d];
        }
        want[d] = float(s);
      }
      v.fn(w.data(), stride, idx.data(), val.data(), idx.size(), out.data(),
           dim);
      ASSERT_TRUE(out.Intact());
      for (size_t d = 0; d < dim; ++d) {
        EXPECT_EQ(out[d], want[d]) << "dim=" << dim << " d=" << d;
      }
    }
  });
}

TEST(RowAccumulate, ExactOnSmallIntegers) {
  CheckRowAccumulateExact<float>(kernels::RowAccumulateVariants());
}

TEST(RowAccumulate, Bf16ExactOnSmallIntegers) {
  CheckRowAccumulateExact<bf16>(kernels::RowAccumulateBf16Variants());
}

// A NaN weight poisons its column only; a NaN coefficient poisons every
// column.
template <class TW, class Fn>
void CheckRowAccumulateNaN(const std::vector<kernels::Variant<Fn>>& variants) {
  ForEachSupportedVariant(variants, [&](const auto& v) {
    for (size_t dim : {size_t{1}, size_t{7}, size_t{16}, size_t{33},
                       size_t{129}}) {
      const size_t rows = 4;
      std::vector<float> wf(rows * dim, 1.0f);
      const size_t nan_col = dim - 1;
      wf[2 * dim + nan_col] = kNaN;  // row 2, last column
      const auto w = FromFloats<TW>(wf);
      const std::vector<uint32_t> idx = {1, 2, 3};
      {
        const std::vector<float> val = {1.0f, 0.0f, 2.0f};  // 0 * NaN = NaN
        std::vector<float> out(dim, 0.5f);
        v.fn(w.data(), dim, idx.data(), val.data(), idx.size(), out.data(),
             dim);
        for (size_t d = 0; d < dim; ++d) {
          if (d == nan_col) {
            EXPECT_TRUE(std::isnan(out[d])) << "dim=" << dim;
          } else {
            EXPECT_EQ(out[d], 3.5f) << "dim=" << dim << " d=" << d;
          }
        }
      }
      {
        const std::vector<uint32_t> idx01 = {0, 1};
        const std::vector<float> val = {kNaN, 1.0f};
        std::vector<float> out(dim, 0.5f);
        v.fn(w.data(), dim, idx01.data(), val.data(), idx01.size(),
             out.data(), dim);
        for (size_t d = 0; d < dim; ++d) {
          EXPECT_TRUE(std::isnan(out[d])) << "dim=" << dim << " d=" << d;
        }
      }
      {
        std::vector<float> out(dim, 0.5f);
        out[0] = kNaN;  // a NaN already in out stays NaN
        const std::vector<float> val = {1.0f};
        v.fn(w.data(), dim, idx.data(), val.data(), 1, out.data(), dim);
        EXPECT_TRUE(std::isnan(out[0])) << "dim=" << dim;
      }
    }
  });
}

TEST(RowAccumulate, NaNPropagates) {
  CheckRowAccumulateNaN<float>(kernels::RowAccumulateVariants());
}

TEST(RowAccumulate, Bf16NaNPropagates) {
  CheckRowAccumulateNaN<bf16>(kernels::RowAccumulateBf16Variants());
}

// ---------------------------------------------------------------------------
// ScatterAddRows

TEST(ScatterAddRows, MatchesReference) {
  std::mt19937 rng(13);
  const size_t num_w_rows = 30;
  ForEachSupportedVariant(kernels::ScatterAddRowsVariants(), [&](const auto& v) {
    for (size_t dim : test::TestLengths()) {
      if (dim > 1024) continue;
      for (size_t pad : {size_t{0}, size_t{3}}) {
        const size_t stride = dim + pad;
        for (size_t mis : test::TestMisalignments()) {
          for (size_t nnz : {size_t{0}, size_t{1}, size_t{5}, size_t{76}}) {
            auto idx_v = test::RandomIndices(nnz, num_w_rows, rng);
            if (nnz >= 5) {
              idx_v[0] = 0;
              idx_v[1] = num_w_rows - 1;
              idx_v[2] = idx_v[0];  // repeated: must accumulate
              idx_v[3] = idx_v[0];
            }
            Guarded<uint32_t> idx(nnz, mis);
            idx.Assign(idx_v);
            Guarded<float> val(nnz, (mis + 1) % 4);
            val.Assign(test::RandomFloats(nnz, rng, -2.0f, 2.0f));
            Guarded<float> g(dim, (mis + 2) % 4);
            g.Assign(test::RandomFloats(dim, rng));
            const auto w0 = test::RandomFloats(num_w_rows * stride, rng);
            Guarded<float> w(w0.size(), mis);
            w.Assign(w0);
            std::vector<float> want = w0;
            kernels::ScatterAddRowsRef(want.data(), stride, idx.data(),
                                       val.data(), nnz, g.data(), dim);
            v.fn(w.data(), stride, idx.data(), val.data(), nnz, g.data(), dim);
            ASSERT_TRUE(w.Intact()) << "wrote outside w, dim=" << dim
                                    << " stride=" << stride << " nnz=" << nnz;
            std::vector<bool> listed(num_w_rows, false);
            for (uint32_t r : idx_v) listed[r] = true;
            for (size_t r = 0; r < num_w_rows; ++r) {
              const float* got = w.data() + r * stride;
              const float* before = w0.data() + r * stride;
              if (!listed[r]) {
                EXPECT_TRUE(test::SameBytes(got, before, stride * 4))
                    << "unlisted row " << r << " changed, dim=" << dim
                    << " stride=" << stride << " nnz=" << nnz;
                continue;
              }
              // Padding columns of listed rows are not ours to touch either.
              EXPECT_TRUE(test::SameBytes(got + dim, before + dim, pad * 4))
                  << "padding of row " << r << " changed, dim=" << dim;
              std::vector<double> scale(dim);
              for (size_t d = 0; d < dim; ++d) {
                double s = std::fabs(before[d]);
                for (size_t i = 0; i < nnz; ++i) {
                  if (idx_v[i] == r) s += std::fabs(double(val[i]) * g[d]);
                }
                scale[d] = s;
              }
              EXPECT_TRUE(AllNear(got, want.data() + r * stride, scale, kRel,
                                  dim))
                  << "row " << r << " dim=" << dim << " stride=" << stride
                  << " nnz=" << nnz << " misalign=" << mis;
            }
          }
        }
      }
    }
  });
}

TEST(ScatterAddRows, RepeatedIndicesAccumulateExactly) {
  ForEachSupportedVariant(kernels::ScatterAddRowsVariants(), [&](const auto& v) {
    for (size_t dim : {size_t{1}, size_t{5}, size_t{16}, size_t{35}}) {
      const size_t rows = 3;
      std::vector<float> w(rows * dim, 1.0f);
      std::vector<float> g(dim);
      for (size_t d = 0; d < dim; ++d) g[d] = float(d % 5);
      const std::vector<uint32_t> idx = {1, 1, 2, 1};
      const std::vector<float> val = {1.0f, 2.0f, -0.5f, 0.25f};
      v.fn(w.data(), dim, idx.data(), val.data(), idx.size(), g.data(), dim);
      for (size_t d = 0; d < dim; ++d) {
        EXPECT_EQ(w[d], 1.0f) << "row 0 untouched, d=" << d;
        EXPECT_EQ(w[dim + d], 1.0f + 3.25f * g[d]) << "dim=" << dim;
        EXPECT_EQ(w[2 * dim + d], 1.0f - 0.5f * g[d]) << "dim=" << dim;
      }
    }
  });
}

TEST(ScatterAddRows, NaNPropagatesToListedRowsOnly) {
  ForEachSupportedVariant(kernels::ScatterAddRowsVariants(), [&](const auto& v) {
    for (size_t dim : {size_t{1}, size_t{9}, size_t{16}, size_t{67}}) {
      std::vector<float> w(3 * dim, 1.0f), g(dim, 1.0f);
      g[dim / 2] = kNaN;
      const std::vector<uint32_t> idx = {2};
      const std::vector<float> val = {0.0f};  // 0 * NaN = NaN
      v.fn(w.data(), dim, idx.data(), val.data(), 1, g.data(), dim);
      for (size_t d = 0; d < dim; ++d) {
        EXPECT_EQ(w[d], 1.0f);
        EXPECT_EQ(w[dim + d], 1.0f);
        if (d == dim / 2) {
          EXPECT_TRUE(std::isnan(w[2 * dim + d])) << "dim=" << dim;
        } else {
          EXPECT_EQ(w[2 * dim + d], 1.0f) << "dim=" << dim << " d=" << d;
        }
      }
      const std::vector<float> nan_val = {kNaN};
      v.fn(w.data(), dim, idx.data(), nan_val.data(), 1, g.data(), dim);
      for (size_t d = 0; d < dim; ++d) {
        EXPECT_TRUE(std::isnan(w[2 * dim + d])) << "dim=" << dim;
        EXPECT_EQ(w[dim + d], 1.0f);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Axpy

TEST(Axpy, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(14);
  ForEachSupportedVariant(kernels::AxpyVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (float a : {0.0f, 1.0f, -0.75f, 3.5e3f}) {
          Guarded<float> x(n, mis), y(n, (mis + 1) % 4);
          x.Assign(test::RandomFloats(n, rng));
          const auto y0 = test::RandomFloats(n, rng, -10.0f, 10.0f);
          y.Assign(y0);
          const auto x_before = x.ToVector();
          std::vector<float> want = y0;
          kernels::AxpyRef(a, x.data(), want.data(), n);
          v.fn(a, x.data(), y.data(), n);
          ASSERT_TRUE(y.Intact()) << "wrote outside y, n=" << n;
          EXPECT_TRUE(x.Intact());
          EXPECT_EQ(x.ToVector(), x_before);
          std::vector<double> scale(n);
          for (size_t i = 0; i < n; ++i) {
            scale[i] = std::fabs(y0[i]) + std::fabs(double(a) * x[i]);
          }
          EXPECT_TRUE(AllNear(y.data(), want.data(), scale, 1e-6, n))
              << "n=" << n << " misalign=" << mis << " a=" << a;
          if (a == 0.0f) {  // y + 0 * x == y exactly
            EXPECT_EQ(y.ToVector(), y0) << "n=" << n;
          }
        }
      }
    }
  });
}

TEST(Axpy, NaNPropagates) {
  ForEachSupportedVariant(kernels::AxpyVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{16}, size_t{33},
                     size_t{129}}) {
      std::vector<float> x(n, 1.0f), y(n, 2.0f);
      x[n - 1] = kNaN;
      v.fn(0.5f, x.data(), y.data(), n);
      for (size_t i = 0; i + 1 < n; ++i) EXPECT_EQ(y[i], 2.5f) << "n=" << n;
      EXPECT_TRUE(std::isnan(y[n - 1])) << "n=" << n;
      std::vector<float> y2(n, 2.0f);
      v.fn(kNaN, x.data(), y2.data(), n);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_TRUE(std::isnan(y2[i])) << "n=" << n << " i=" << i;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Scale

TEST(Scale, BitExactAtEveryLengthAndAlignment) {
  std::mt19937 rng(15);
  ForEachSupportedVariant(kernels::ScaleVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (float a : {0.0f, -0.0f, 1.0f, -3.0f, 0.1f, 1e30f}) {
          const auto x0 = test::RandomFloats(n, rng, -100.0f, 100.0f);
          Guarded<float> x(n, mis);
          x.Assign(x0);
          std::vector<float> want = x0;
          kernels::ScaleRef(a, want.data(), n);
          v.fn(a, x.data(), n);
          ASSERT_TRUE(x.Intact()) << "wrote outside x, n=" << n;
          size_t bad = 0;
          for (size_t i = 0; i < n; ++i) {
            if (!SameBits(x[i], want[i])) {
              if (bad++ == 0) {
                ADD_FAILURE() << "n=" << n << " a=" << a << " i=" << i
                              << ": got " << x[i] << ", want " << want[i];
              }
            }
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis;
        }
      }
    }
  });
}

TEST(Scale, NaNPropagates) {
  ForEachSupportedVariant(kernels::ScaleVariants(), [&](const auto& v) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{16}, size_t{33}}) {
      std::vector<float> x(n, 2.0f);
      x[n - 1] = kNaN;
      v.fn(3.0f, x.data(), n);
      for (size_t i = 0; i + 1 < n; ++i) EXPECT_EQ(x[i], 6.0f);
      EXPECT_TRUE(std::isnan(x[n - 1])) << "n=" << n;
      v.fn(kNaN, x.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_TRUE(std::isnan(x[i])) << "n=" << n;
    }
  });
}

}  // namespace
}  // namespace frugal
