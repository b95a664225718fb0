// Scalar references (test oracles) for kernels/optimizer.cc, in the same
// operation order as the vector code.
#include <cmath>

#include "kernels/variant.h"

namespace frugal::kernels {
namespace {

void AdamOne(float& w, float& m, float& v, float g, const AdamParams& p) {
  m = p.beta1 * m + (1.0f - p.beta1) * g;
  v = p.beta2 * v + (1.0f - p.beta2) * (g * g);
  const float step = (p.lr_t * m) / (std::sqrt(v) + p.eps_t);
  w = w * (1.0f - p.decay) - step;
}

}  // namespace

void AdamDenseRef(float* w, float* m, float* v, const float* g, size_t n,
                  const AdamParams& p) {
  for (size_t i = 0; i < n; ++i) AdamOne(w[i], m[i], v[i], g[i], p);
}

void AdamRowsRef(float* w, float* m, float* v, float* g, size_t stride,
                 const uint32_t* rows, size_t num_rows, size_t dim,
                 const AdamParams& p) {
  for (size_t j = 0; j < num_rows; ++j) {
    const size_t off = size_t{rows[j]} * stride;
    for (size_t i = 0; i < dim; ++i) {
      AdamOne(w[off + i], m[off + i], v[off + i], g[off + i], p);
      g[off + i] = 0.0f;
    }
  }
}

void SgdMomentumRef(float* w, float* mom, const float* g, size_t n,
                    const SgdParams& p) {
  for (size_t i = 0; i < n; ++i) {
    mom[i] = p.momentum * mom[i] + (g[i] + p.weight_decay * w[i]);
    w[i] -= p.lr * mom[i];
  }
}

}  // namespace frugal::kernels
