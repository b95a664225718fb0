// Sparse-row kernels: row accumulate (sparse input times a feature-major
// matrix), scatter-add of a gradient into rows, axpy and scale.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/rows.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

// out[c, c + kVecs * N) += sum_i val[i] * row(idx[i])[c, ...] for kVecs 4
// or 8: the accumulators stay in registers across all rows (separate
// variables: SVE vectors are sizeless and cannot form an array). The block
// at column 0 issues the rows' software prefetches.
template <size_t kVecs, typename TW>
HWY_INLINE void AccumulateColumns(const TW* HWY_RESTRICT w, size_t stride,
                                  const uint32_t* HWY_RESTRICT idx,
                                  const float* HWY_RESTRICT val, size_t nnz,
                                  float* HWY_RESTRICT out, size_t c,
                                  size_t row_bytes) {
  static_assert(kVecs == 4 || kVecs == 8, "four or eight vectors");
  constexpr bool kEight = kVecs == 8;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  float* HWY_RESTRICT o = out + c;
  auto a0 = hn::LoadU(d, o), a1 = hn::LoadU(d, o + N);
  auto a2 = hn::LoadU(d, o + 2 * N), a3 = hn::LoadU(d, o + 3 * N);
  auto a4 = hn::Zero(d), a5 = hn::Zero(d), a6 = hn::Zero(d), a7 = hn::Zero(d);
  if constexpr (kEight) {
    a4 = hn::LoadU(d, o + 4 * N);
    a5 = hn::LoadU(d, o + 5 * N);
    a6 = hn::LoadU(d, o + 6 * N);
    a7 = hn::LoadU(d, o + 7 * N);
  }
  for (size_t i = 0; i < nnz; ++i) {
    if (c == 0) PrefetchRowsFor<0>(i, idx, nnz, stride, row_bytes, w);
    const TW* HWY_RESTRICT row = w + size_t{idx[i]} * stride + c;
    const auto v = hn::Set(d, val[i]);
    a0 = hn::MulAdd(v, LoadF(d, row), a0);
    a1 = hn::MulAdd(v, LoadF(d, row + N), a1);
    a2 = hn::MulAdd(v, LoadF(d, row + 2 * N), a2);
    a3 = hn::MulAdd(v, LoadF(d, row + 3 * N), a3);
    if constexpr (kEight) {
      a4 = hn::MulAdd(v, LoadF(d, row + 4 * N), a4);
      a5 = hn::MulAdd(v, LoadF(d, row + 5 * N), a5);
      a6 = hn::MulAdd(v, LoadF(d, row + 6 * N), a6);
      a7 = hn::MulAdd(v, LoadF(d, row + 7 * N), a7);
    }
  }
  hn::StoreU(a0, d, o);
  hn::StoreU(a1, d, o + N);
  hn::StoreU(a2, d, o + 2 * N);
  hn::StoreU(a3, d, o + 3 * N);
  if constexpr (kEight) {
    hn::StoreU(a4, d, o + 4 * N);
    hn::StoreU(a5, d, o + 5 * N);
    hn::StoreU(a6, d, o + 6 * N);
    hn::StoreU(a7, d, o + 7 * N);
  }
}

// out[0, dim) += sum_i val[i] * row(idx[i]). Columns in blocks of eight,
// then four vectors, so `out` is read and written once per block and a row
// of up to eight vectors (128 floats on AVX-512) is read in one pass.
template <typename TW>
HWY_INLINE void RowAccumulateImpl(const TW* HWY_RESTRICT w, size_t stride,
                                  const uint32_t* HWY_RESTRICT idx,
                                  const float* HWY_RESTRICT val, size_t nnz,
                                  float* HWY_RESTRICT out, size_t dim) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  const size_t row_bytes = dim * sizeof(TW);
  size_t c = 0;
  for (; c + 8 * N <= dim; c += 8 * N) {
    AccumulateColumns<8>(w, stride, idx, val, nnz, out, c, row_bytes);
  }
  for (; c + 4 * N <= dim; c += 4 * N) {
    AccumulateColumns<4>(w, stride, idx, val, nnz, out, c, row_bytes);
  }
  if (c < dim) {  // remaining columns (fewer than four vectors)
    ForEachRowPrefetched<0>(w, stride, idx, nnz, c == 0 ? row_bytes : 0,
                            [&](size_t i, const TW* row) {
                              AxpyImpl(val[i], row + c, out + c, dim - c);
                            });
  }
}

void RowAccumulate(const float* HWY_RESTRICT w, size_t stride,
                   const uint32_t* HWY_RESTRICT idx,
                   const float* HWY_RESTRICT val, size_t nnz,
                   float* HWY_RESTRICT out, size_t dim) {
  RowAccumulateImpl(w, stride, idx, val, nnz, out, dim);
}

void RowAccumulateBf16(const bf16* HWY_RESTRICT w, size_t stride,
                       const uint32_t* HWY_RESTRICT idx,
                       const float* HWY_RESTRICT val, size_t nnz,
                       float* HWY_RESTRICT out, size_t dim) {
  RowAccumulateImpl(reinterpret_cast<const hwy::bfloat16_t*>(w), stride, idx,
                    val, nnz, out, dim);
}

// Rows are updated in order, so repeated indices accumulate.
void ScatterAddRows(float* HWY_RESTRICT w, size_t stride,
                    const uint32_t* HWY_RESTRICT idx,
                    const float* HWY_RESTRICT val, size_t nnz,
                    const float* HWY_RESTRICT g, size_t dim) {
  ForEachRowPrefetched<1>(w, stride, idx, nnz, dim * sizeof(float),
                          [&](size_t i, float* row) {
                            AxpyImpl(val[i], g, row, dim);
                          });
}

void Axpy(float a, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
          size_t n) {
  AxpyImpl(a, x, y, n);
}

void Scale(float a, float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(va, hn::LoadU(d, x + i)), d, x + i);
  }
  if (i < n) StoreTail(hn::Mul(va, LoadTail(d, x + i, n - i)), d, x + i, n - i);
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(RowAccumulate)
FRUGAL_HWY_VARIANTS(RowAccumulateBf16)
FRUGAL_HWY_VARIANTS(ScatterAddRows)
FRUGAL_HWY_VARIANTS(Axpy)
FRUGAL_HWY_VARIANTS(Scale)
}  // namespace frugal::kernels
#endif
