// Scalar references (test oracles) for kernels/dot.cc: plain loops, double
// accumulation so they are the more accurate side of every comparison.
#include "kernels/variant.h"

namespace frugal::kernels {

float DotRef(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return float(s);
}

float DotBf16Ref(const bf16* w, const float* h, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(Bf16ToFloat(w[i])) * h[i];
  return float(s);
}

void RowGatherDotRef(const float* w, size_t stride, const uint32_t* rows,
                     size_t num_rows, const float* h, size_t dim, float* out) {
  for (size_t j = 0; j < num_rows; ++j) {
    out[j] = DotRef(w + size_t{rows[j]} * stride, h, dim);
  }
}

void RowGatherDotBf16Ref(const bf16* w, size_t stride, const uint32_t* rows,
                         size_t num_rows, const float* h, size_t dim,
                         float* out) {
  for (size_t j = 0; j < num_rows; ++j) {
    out[j] = DotBf16Ref(w + size_t{rows[j]} * stride, h, dim);
  }
}

}  // namespace frugal::kernels
