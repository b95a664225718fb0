// Top-k selection: a vector pass skips every block with no value above the
// current k-th best; the few candidates go through a small binary heap.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/topk.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "kernels/topk_order.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

size_t TopK(const float* HWY_RESTRICT x, size_t n, size_t k,
            uint32_t* HWY_RESTRICT idx, float* HWY_RESTRICT val) {
  const size_t count = k < n ? k : n;
  if (count == 0) return 0;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  // idx/val double as the heap storage: a min-heap of the `count` best so
  // far, worst at the root.
  TopKHeap heap(idx, val, count);
  size_t i = 0;
  for (; i < n && !heap.full(); ++i) heap.Offer(x[i], static_cast<uint32_t>(i));
  // Align the vector pass to whole blocks; the scalar Offer handles the rest.
  for (; i < n && (i % N) != 0; ++i) {
    heap.Offer(x[i], static_cast<uint32_t>(i));
  }
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    // Candidates: v > worst, or NaN (Le is false for both).
    const auto candidate = hn::Not(hn::Le(v, hn::Set(d, heap.worst())));
    if (HWY_LIKELY(hn::AllFalse(d, candidate))) continue;
    for (size_t j = 0; j < N; ++j) {
      heap.Offer(x[i + j], static_cast<uint32_t>(i + j));
    }
  }
  for (; i < n; ++i) heap.Offer(x[i], static_cast<uint32_t>(i));
  heap.SortDescending();
  return count;
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(TopK)
}  // namespace frugal::kernels
#endif
