// Scalar references (test oracles) for kernels/hash.cc.
#include <limits>

#include "kernels/hash_id.h"
#include "kernels/variant.h"

namespace frugal::kernels {

void SrpHashRef(const float* x, const uint32_t* proj, size_t nnz_per_proj,
                size_t k, size_t l, uint32_t* codes) {
  const size_t num_proj = k * l;
  for (size_t j = 0; j < l; ++j) codes[j] = 0;
  for (size_t p = 0; p < num_proj; ++p) {
    double sum = 0;
    for (size_t t = 0; t < nnz_per_proj; ++t) {
      const uint32_t e = proj[t * num_proj + p];
      const double v = x[e & ~kSrpNegative];
      sum += (e & kSrpNegative) ? -v : v;
    }
    if (sum > 0) codes[p / k] |= 1u << (p % k);
  }
}

void DwtaBinsRef(const float* x, const uint32_t* bins, size_t bin_size,
                 size_t num_hashes, uint32_t* winners) {
  for (size_t j = 0; j < num_hashes; ++j) {
    float best = -std::numeric_limits<float>::infinity();
    uint32_t arg = kDwtaEmpty;
    for (size_t t = 0; t < bin_size; ++t) {
      const float v = x[bins[t * num_hashes + j]];
      if (v != 0.0f && v > best) {
        best = v;
        arg = static_cast<uint32_t>(t);
      }
    }
    winners[j] = arg;
  }
}

void HashIdsRef(const uint32_t* ids, size_t n, uint32_t seed, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = HashId(ids[i], seed);
}

}  // namespace frugal::kernels
