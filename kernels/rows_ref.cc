// Scalar references (test oracles) for kernels/rows.cc.
#include "kernels/variant.h"

namespace frugal::kernels {

void RowAccumulateRef(const float* w, size_t stride, const uint32_t* idx,
                      const float* val, size_t nnz, float* out, size_t dim) {
  for (size_t d = 0; d < dim; ++d) {
    double s = out[d];
    for (size_t i = 0; i < nnz; ++i) {
      s += double(val[i]) * w[size_t{idx[i]} * stride + d];
    }
    out[d] = float(s);
  }
}

void RowAccumulateBf16Ref(const bf16* w, size_t stride, const uint32_t* idx,
                          const float* val, size_t nnz, float* out,
                          size_t dim) {
  for (size_t d = 0; d < dim; ++d) {
    double s = out[d];
    for (size_t i = 0; i < nnz; ++i) {
      s += double(val[i]) * Bf16ToFloat(w[size_t{idx[i]} * stride + d]);
    }
    out[d] = float(s);
  }
}

void ScatterAddRowsRef(float* w, size_t stride, const uint32_t* idx,
                       const float* val, size_t nnz, const float* g,
                       size_t dim) {
  for (size_t i = 0; i < nnz; ++i) {
    float* row = w + size_t{idx[i]} * stride;
    for (size_t d = 0; d < dim; ++d) row[d] += val[i] * g[d];
  }
}

void AxpyRef(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void ScaleRef(float a, float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= a;
}

}  // namespace frugal::kernels
