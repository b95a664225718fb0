// Checked public entry points of the kernels, dispatched to the best variant
// for this CPU (dispatch/registry.h).
//
// Every function validates its arguments first and throws
// std::invalid_argument, naming the function and the sizes, on mismatched
// lengths or an out-of-range index; it never reads or writes out of bounds.
// NaN inputs propagate to the outputs. For hot loops whose arguments are
// already validated, call the raw function pointers of dispatch/registry.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/types.h"

namespace frugal::ops {

// a . b; a.size() == b.size().
float Dot(Span<const float> a, Span<const float> b);
// w . h with bf16 w, fp32 accumulation.
float Dot(Span<const bf16> w, Span<const float> h);

// out[j] = w.row(rows[j]) . h; h.size() == w.cols, out.size() == rows.size(),
// every rows[j] < w.rows.
void RowGatherDot(MatrixView<const float> w, Span<const uint32_t> rows,
                  Span<const float> h, Span<float> out);
void RowGatherDot(MatrixView<const bf16> w, Span<const uint32_t> rows,
                  Span<const float> h, Span<float> out);

// out += sum_i val[i] * w.row(idx[i]); out.size() == w.cols,
// idx.size() == val.size(), every idx[i] < w.rows.
void RowAccumulate(MatrixView<const float> w, Span<const uint32_t> idx,
                   Span<const float> val, Span<float> out);
void RowAccumulate(MatrixView<const bf16> w, Span<const uint32_t> idx,
                   Span<const float> val, Span<float> out);

// w.row(idx[i]) += val[i] * g for each i; g.size() == w.cols.
void ScatterAddRows(MatrixView<float> w, Span<const uint32_t> idx,
                    Span<const float> val, Span<const float> g);

// y += a * x; x.size() == y.size().
void Axpy(float a, Span<const float> x, Span<float> y);
// x *= a.
void Scale(float a, Span<float> x);

// Sparse +/-1 projections for SrpHash: k * l projections of nnz_per_proj
// entries each, term-major (see kernels/kernel_list.h for the layout), over inputs of
// `input_dim` elements.
struct SrpProjections {
  Span<const uint32_t> proj;
  size_t nnz_per_proj = 0;
  size_t k = 0;  // bits per code, 1..32
  size_t l = 0;  // codes (tables)
  size_t input_dim = 0;
};
// codes.size() == p.l; x.size() == p.input_dim.
void SrpHash(Span<const float> x, const SrpProjections& p, Span<uint32_t> codes);

// winners.size() hashes, bins.size() == bin_size * winners.size(), every bin
// index < x.size().
void DwtaBins(Span<const float> x, Span<const uint32_t> bins, size_t bin_size,
              Span<uint32_t> winners);

// out[i] = HashId(ids[i], seed); out.size() == ids.size().
void HashIds(Span<const uint32_t> ids, uint32_t seed, Span<uint32_t> out);

// One Adam/AdamW step over equal-length w, m, v, g.
void AdamDense(Span<float> w, Span<float> m, Span<float> v,
               Span<const float> g, const AdamParams& p);
// One Adam/AdamW step over the listed rows of same-shape w, m, v, g; the
// gradient rows are set to zero. Rows must be distinct and < w.rows.
void AdamRows(MatrixView<float> w, MatrixView<float> m, MatrixView<float> v,
              MatrixView<float> g, Span<const uint32_t> rows,
              const AdamParams& p);
// One SGD-with-momentum step over equal-length w, mom, g.
void SgdMomentum(Span<float> w, Span<float> mom, Span<const float> g,
                 const SgdParams& p);

// Element-wise; x.size() == y.size(); x and y may be the same array.
void Relu(Span<const float> x, Span<float> y);
void Sigmoid(Span<const float> x, Span<float> y);
// Returns log(sum(exp(x))); y may alias x.
float Softmax(Span<const float> x, Span<float> y);
float LogSoftmax(Span<const float> x, Span<float> y);

// The min(k, x.size()) largest values, descending; idx and val must hold
// that many. Returns the count written.
size_t TopK(Span<const float> x, size_t k, Span<uint32_t> idx,
            Span<float> val);

}  // namespace frugal::ops
