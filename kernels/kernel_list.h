// The one list of kernel families. Every declaration, dispatch table entry,
// `frugal info` line and benchmark registration is generated from it, so a
// new kernel is one line here plus its implementation and reference.
//
// X(Name, ReturnType, (parameters))
//
// Contracts (all lengths and strides in elements; pointers need only natural
// alignment; inputs and outputs must not overlap unless stated):
//  Dot               sum_i a[i] * b[i].
//  DotBf16           sum_i w[i] * h[i], w in bf16, fp32 accumulation.
//  RowGatherDot      out[j] = row(rows[j]) . h over `dim` elements, for j in
//                    [0, num_rows); rows[j] < number of rows of w.
//  RowGatherDotBf16  the same with bf16 rows.
//  RowAccumulate     out[d] += sum_i val[i] * row(idx[i])[d], d < dim.
//  RowAccumulateBf16 the same with bf16 rows.
//  ScatterAddRows    row(idx[i])[d] += val[i] * g[d] for each i in order
//                    (repeated indices accumulate), d < dim.
//  Axpy              y[i] += a * x[i].
//  Scale             x[i] *= a.
//  SrpHash           signed random projections: projection p = l * k + b has
//                    nnz_per_proj entries proj[t * (k * l) + p] (term-major,
//                    so lanes run over projections), each a feature index
//                    (bits 0..30) with bit 31 (kSrpNegative) set for weight
//                    -1. Bit b of codes[l] is 1 iff sum_t (+/-) x[index] > 0.
//                    1 <= k <= 32.
//  DwtaBins          winner-take-all: hash j's bin has bin_size feature
//                    indices bins[t * num_hashes + j] (bin-major); winners[j]
//                    is the position t of the largest non-zero x (first on
//                    ties; NaN and -inf never win), or kDwtaEmpty when the
//                    bin has none (zeros are absent features, so a ReLU
//                    output's all-zero bin is empty, while weights' negative
//                    values still compete).
//  HashIds           out[i] = HashId(ids[i], seed) (see hash_id.h).
//  AdamDense         one Adam/AdamW step over n contiguous weights.
//  AdamRows          the same over the rows listed in `rows` (dim elements
//                    each, stride apart in w, m, v and g); the gradient rows
//                    are consumed (set to zero). Rows must be distinct.
//  SgdMomentum       one SGD-with-momentum step over n weights.
//  Relu              y[i] = x[i] > 0 ? x[i] : 0, NaN kept; x == y allowed.
//  Sigmoid           y[i] = 1 / (1 + exp(-x[i])); x == y allowed.
//  Softmax           y = exp(x - max) / sum; returns log(sum(exp(x)));
//                    x == y allowed. n == 0 returns -inf.
//  LogSoftmax        y = x - log(sum(exp(x))); returns that log-sum-exp.
//  TopK              the min(k, n) largest values, descending, their indices
//                    ascending on ties, NaN ranked above everything; returns
//                    the count written to idx/val.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/types.h"

#define FRUGAL_KERNEL_LIST(X)                                                 \
  X(Dot, float, (const float* a, const float* b, size_t n))                   \
  X(DotBf16, float, (const bf16* w, const float* h, size_t n))                \
  X(RowGatherDot, void,                                                       \
    (const float* w, size_t stride, const uint32_t* rows, size_t num_rows,    \
     const float* h, size_t dim, float* out))                                 \
  X(RowGatherDotBf16, void,                                                   \
    (const bf16* w, size_t stride, const uint32_t* rows, size_t num_rows,     \
     const float* h, size_t dim, float* out))                                 \
  X(RowAccumulate, void,                                                      \
    (const float* w, size_t stride, const uint32_t* idx, const float* val,    \
     size_t nnz, float* out, size_t dim))                                     \
  X(RowAccumulateBf16, void,                                                  \
    (const bf16* w, size_t stride, const uint32_t* idx, const float* val,     \
     size_t nnz, float* out, size_t dim))                                     \
  X(ScatterAddRows, void,                                                     \
    (float* w, size_t stride, const uint32_t* idx, const float* val,          \
     size_t nnz, const float* g, size_t dim))                                 \
  X(Axpy, void, (float a, const float* x, float* y, size_t n))                \
  X(Scale, void, (float a, float* x, size_t n))                               \
  X(SrpHash, void,                                                            \
    (const float* x, const uint32_t* proj, size_t nnz_per_proj, size_t k,     \
     size_t l, uint32_t* codes))                                              \
  X(DwtaBins, void,                                                           \
    (const float* x, const uint32_t* bins, size_t bin_size,                   \
     size_t num_hashes, uint32_t* winners))                                   \
  X(HashIds, void, (const uint32_t* ids, size_t n, uint32_t seed,             \
                    uint32_t* out))                                           \
  X(AdamDense, void,                                                          \
    (float* w, float* m, float* v, const float* g, size_t n,                  \
     const AdamParams& p))                                                    \
  X(AdamRows, void,                                                           \
    (float* w, float* m, float* v, float* g, size_t stride,                   \
     const uint32_t* rows, size_t num_rows, size_t dim, const AdamParams& p)) \
  X(SgdMomentum, void,                                                        \
    (float* w, float* mom, const float* g, size_t n, const SgdParams& p))     \
  X(Relu, void, (const float* x, float* y, size_t n))                         \
  X(Sigmoid, void, (const float* x, float* y, size_t n))                      \
  X(Softmax, float, (const float* x, float* y, size_t n))                     \
  X(LogSoftmax, float, (const float* x, float* y, size_t n))                  \
  X(TopK, size_t,                                                             \
    (const float* x, size_t n, size_t k, uint32_t* idx, float* val))

namespace frugal {

inline constexpr uint32_t kDwtaEmpty = 0xffffffffu;
inline constexpr uint32_t kSrpNegative = 0x80000000u;

}  // namespace frugal
