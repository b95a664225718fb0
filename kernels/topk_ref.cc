// Scalar reference (test oracle) for kernels/topk.cc: a full stable sort.
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/topk_order.h"
#include "kernels/variant.h"

namespace frugal::kernels {

size_t TopKRef(const float* x, size_t n, size_t k, uint32_t* idx, float* val) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [x](uint32_t a, uint32_t b) {
    return RanksBefore(x[a], a, x[b], b);
  });
  const size_t count = std::min(k, n);
  for (size_t j = 0; j < count; ++j) {
    idx[j] = order[j];
    val[j] = x[order[j]];
  }
  return count;
}

}  // namespace frugal::kernels
