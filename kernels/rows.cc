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

// out[0, dim) += sum_i val[i] * row(idx[i]). Columns are processed in blocks
// of four vectors held in registers across all rows, so `out` is read and
// written once per block.
template <typename TW>
HWY_INLINE void RowAccumulateImpl(const TW* HWY_RESTRICT w, size_t stride,
                                  const uint32_t* HWY_RESTRICT idx,
                                  const float* HWY_RESTRICT val, size_t nnz,
                                  float* HWY_RESTRICT out, size_t dim) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t row_bytes = dim * sizeof(TW);
  size_t c = 0;
  for (; c + 4 * N <= dim; c += 4 * N) {
    auto a0 = hn::LoadU(d, out + c), a1 = hn::LoadU(d, out + c + N);
    auto a2 = hn::LoadU(d, out + c + 2 * N), a3 = hn::LoadU(d, out + c + 3 * N);
    const bool first_block = c == 0;
    for (size_t i = 0; i < nnz; ++i) {
      if (first_block) PrefetchRowsFor<0>(i, idx, nnz, stride, row_bytes, w);
      const TW* HWY_RESTRICT row = w + size_t{idx[i]} * stride + c;
      const auto v = hn::Set(d, val[i]);
      a0 = hn::MulAdd(v, LoadF(d, row), a0);
      a1 = hn::MulAdd(v, LoadF(d, row + N), a1);
      a2 = hn::MulAdd(v, LoadF(d, row + 2 * N), a2);
      a3 = hn::MulAdd(v, LoadF(d, row + 3 * N), a3);
    }
    hn::StoreU(a0, d, out + c);
    hn::StoreU(a1, d, out + c + N);
    hn::StoreU(a2, d, out + c + 2 * N);
    hn::StoreU(a3, d, out + c + 3 * N);
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
