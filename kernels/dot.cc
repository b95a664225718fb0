// Dense dot products and the row-gather dot W[S] . h, float and bf16 weights.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dot.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  return DotImpl(a, b, n);
}

float DotBf16(const bf16* HWY_RESTRICT w, const float* HWY_RESTRICT h,
              size_t n) {
  return DotImpl(reinterpret_cast<const hwy::bfloat16_t*>(w), h, n);
}

template <typename TW>
HWY_INLINE void RowGatherDotImpl(const TW* HWY_RESTRICT w, size_t stride,
                                 const uint32_t* HWY_RESTRICT rows,
                                 size_t num_rows, const float* HWY_RESTRICT h,
                                 size_t dim, float* HWY_RESTRICT out) {
  ForEachRowPrefetched<0>(w, stride, rows, num_rows, dim * sizeof(TW),
                          [&](size_t j, const TW* row) {
                            out[j] = DotImpl(row, h, dim);
                          });
}

void RowGatherDot(const float* HWY_RESTRICT w, size_t stride,
                  const uint32_t* HWY_RESTRICT rows, size_t num_rows,
                  const float* HWY_RESTRICT h, size_t dim,
                  float* HWY_RESTRICT out) {
  RowGatherDotImpl(w, stride, rows, num_rows, h, dim, out);
}

void RowGatherDotBf16(const bf16* HWY_RESTRICT w, size_t stride,
                      const uint32_t* HWY_RESTRICT rows, size_t num_rows,
                      const float* HWY_RESTRICT h, size_t dim,
                      float* HWY_RESTRICT out) {
  RowGatherDotImpl(reinterpret_cast<const hwy::bfloat16_t*>(w), stride, rows,
                   num_rows, h, dim, out);
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(Dot)
FRUGAL_HWY_VARIANTS(DotBf16)
FRUGAL_HWY_VARIANTS(RowGatherDot)
FRUGAL_HWY_VARIANTS(RowGatherDotBf16)
}  // namespace frugal::kernels
#endif
