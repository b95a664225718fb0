#include "dispatch/ops.h"

#include <stdexcept>
#include <string>

#include "dispatch/registry.h"

namespace frugal::ops {
namespace {

[[noreturn]] void Fail(const char* fn, const std::string& what) {
  throw std::invalid_argument(std::string("frugal::ops::") + fn + ": " + what);
}

void RequireEqual(const char* fn, const char* a_name, size_t a,
                  const char* b_name, size_t b) {
  if (a != b) {
    Fail(fn, std::string(a_name) + " (" + std::to_string(a) + ") != " +
                 b_name + " (" + std::to_string(b) + ")");
  }
}

void RequireAtLeast(const char* fn, const char* a_name, size_t a,
                    const char* b_name, size_t b) {
  if (a < b) {
    Fail(fn, std::string(a_name) + " (" + std::to_string(a) + ") < " +
                 b_name + " (" + std::to_string(b) + ")");
  }
}

// a * b, or a failure naming both if it overflows size_t.
size_t CheckedProduct(const char* fn, const char* a_name, size_t a,
                      const char* b_name, size_t b) {
  size_t out;
  if (__builtin_mul_overflow(a, b, &out)) {
    Fail(fn, std::string(a_name) + " (" + std::to_string(a) + ") * " + b_name +
                 " (" + std::to_string(b) + ") overflows");
  }
  return out;
}

template <class T>
void RequireMatrix(const char* fn, const char* name, const MatrixView<T>& m) {
  if (m.stride < m.cols) {
    Fail(fn, std::string(name) + ".stride (" + std::to_string(m.stride) +
                 ") < " + name + ".cols (" + std::to_string(m.cols) + ")");
  }
  if (m.data == nullptr && m.rows != 0 && m.cols != 0) {
    Fail(fn, std::string(name) + ".data is null");
  }
}

// Every index < bound; `mask` strips flag bits before the comparison.
void RequireIndices(const char* fn, const char* name, Span<const uint32_t> idx,
                    size_t bound, const char* bound_name,
                    uint32_t mask = 0xffffffffu) {
  for (size_t i = 0; i < idx.size(); ++i) {
    if ((idx[i] & mask) >= bound) {
      Fail(fn, std::string(name) + "[" + std::to_string(i) + "] = " +
                   std::to_string(idx[i] & mask) + " >= " + bound_name +
                   " (" + std::to_string(bound) + ")");
    }
  }
}

template <class T>
void RequireSameShape(const char* fn, const char* name,
                      const MatrixView<T>& a, const MatrixView<T>& w) {
  RequireMatrix(fn, name, a);
  if (a.rows != w.rows || a.cols != w.cols || a.stride != w.stride) {
    Fail(fn, std::string(name) + " is " + std::to_string(a.rows) + "x" +
                 std::to_string(a.cols) + " stride " +
                 std::to_string(a.stride) + ", w is " +
                 std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                 " stride " + std::to_string(w.stride));
  }
}

template <class TW, class Fn>
void RowGatherDotChecked(Fn fn, MatrixView<const TW> w,
                         Span<const uint32_t> rows, Span<const float> h,
                         Span<float> out) {
  RequireMatrix("RowGatherDot", "w", w);
  RequireEqual("RowGatherDot", "h.size()", h.size(), "w.cols", w.cols);
  RequireEqual("RowGatherDot", "out.size()", out.size(), "rows.size()",
               rows.size());
  RequireIndices("RowGatherDot", "rows", rows, w.rows, "w.rows");
  fn(w.data, w.stride, rows.data(), rows.size(), h.data(), w.cols, out.data());
}

template <class TW, class Fn>
void RowAccumulateChecked(Fn fn, MatrixView<const TW> w,
                          Span<const uint32_t> idx, Span<const float> val,
                          Span<float> out) {
  RequireMatrix("RowAccumulate", "w", w);
  RequireEqual("RowAccumulate", "out.size()", out.size(), "w.cols", w.cols);
  RequireEqual("RowAccumulate", "val.size()", val.size(), "idx.size()",
               idx.size());
  RequireIndices("RowAccumulate", "idx", idx, w.rows, "w.rows");
  fn(w.data, w.stride, idx.data(), val.data(), idx.size(), out.data(), w.cols);
}

}  // namespace

float Dot(Span<const float> a, Span<const float> b) {
  RequireEqual("Dot", "a.size()", a.size(), "b.size()", b.size());
  return dispatch::Dot()(a.data(), b.data(), a.size());
}

float Dot(Span<const bf16> w, Span<const float> h) {
  RequireEqual("Dot", "w.size()", w.size(), "h.size()", h.size());
  return dispatch::DotBf16()(w.data(), h.data(), w.size());
}

void RowGatherDot(MatrixView<const float> w, Span<const uint32_t> rows,
                  Span<const float> h, Span<float> out) {
  RowGatherDotChecked(dispatch::RowGatherDot(), w, rows, h, out);
}

void RowGatherDot(MatrixView<const bf16> w, Span<const uint32_t> rows,
                  Span<const float> h, Span<float> out) {
  RowGatherDotChecked(dispatch::RowGatherDotBf16(), w, rows, h, out);
}

void RowAccumulate(MatrixView<const float> w, Span<const uint32_t> idx,
                   Span<const float> val, Span<float> out) {
  RowAccumulateChecked(dispatch::RowAccumulate(), w, idx, val, out);
}

void RowAccumulate(MatrixView<const bf16> w, Span<const uint32_t> idx,
                   Span<const float> val, Span<float> out) {
  RowAccumulateChecked(dispatch::RowAccumulateBf16(), w, idx, val, out);
}

void ScatterAddRows(MatrixView<float> w, Span<const uint32_t> idx,
                    Span<const float> val, Span<const float> g) {
  RequireMatrix("ScatterAddRows", "w", w);
  RequireEqual("ScatterAddRows", "g.size()", g.size(), "w.cols", w.cols);
  RequireEqual("ScatterAddRows", "val.size()", val.size(), "idx.size()",
               idx.size());
  RequireIndices("ScatterAddRows", "idx", idx, w.rows, "w.rows");
  dispatch::ScatterAddRows()(w.data, w.stride, idx.data(), val.data(),
                             idx.size(), g.data(), w.cols);
}

void Axpy(float a, Span<const float> x, Span<float> y) {
  RequireEqual("Axpy", "x.size()", x.size(), "y.size()", y.size());
  dispatch::Axpy()(a, x.data(), y.data(), x.size());
}

void Scale(float a, Span<float> x) { dispatch::Scale()(a, x.data(), x.size()); }

void SrpHash(Span<const float> x, const SrpProjections& p,
             Span<uint32_t> codes) {
  if (p.k == 0 || p.k > 32) {
    Fail("SrpHash", "k (" + std::to_string(p.k) + ") not in [1, 32]");
  }
  RequireEqual("SrpHash", "x.size()", x.size(), "input_dim", p.input_dim);
  RequireEqual("SrpHash", "codes.size()", codes.size(), "l", p.l);
  const size_t num_proj = CheckedProduct("SrpHash", "k", p.k, "l", p.l);
  RequireEqual("SrpHash", "proj.size()", p.proj.size(), "k * l * nnz_per_proj",
               CheckedProduct("SrpHash", "k * l", num_proj, "nnz_per_proj",
                              p.nnz_per_proj));
  RequireIndices("SrpHash", "proj", p.proj, x.size(), "x.size()",
                 ~kSrpNegative);
  dispatch::SrpHash()(x.data(), p.proj.data(), p.nnz_per_proj, p.k, p.l,
                      codes.data());
}

void DwtaBins(Span<const float> x, Span<const uint32_t> bins, size_t bin_size,
              Span<uint32_t> winners) {
  RequireEqual("DwtaBins", "bins.size()", bins.size(),
               "bin_size * winners.size()",
               CheckedProduct("DwtaBins", "bin_size", bin_size,
                              "winners.size()", winners.size()));
  RequireIndices("DwtaBins", "bins", bins, x.size(), "x.size()");
  dispatch::DwtaBins()(x.data(), bins.data(), bin_size, winners.size(),
                       winners.data());
}

void HashIds(Span<const uint32_t> ids, uint32_t seed, Span<uint32_t> out) {
  RequireEqual("HashIds", "out.size()", out.size(), "ids.size()", ids.size());
  dispatch::HashIds()(ids.data(), ids.size(), seed, out.data());
}

void AdamDense(Span<float> w, Span<float> m, Span<float> v,
               Span<const float> g, const AdamParams& p) {
  RequireEqual("AdamDense", "m.size()", m.size(), "w.size()", w.size());
  RequireEqual("AdamDense", "v.size()", v.size(), "w.size()", w.size());
  RequireEqual("AdamDense", "g.size()", g.size(), "w.size()", w.size());
  dispatch::AdamDense()(w.data(), m.data(), v.data(), g.data(), w.size(), p);
}

void AdamRows(MatrixView<float> w, MatrixView<float> m, MatrixView<float> v,
              MatrixView<float> g, Span<const uint32_t> rows,
              const AdamParams& p) {
  RequireMatrix("AdamRows", "w", w);
  RequireSameShape("AdamRows", "m", m, w);
  RequireSameShape("AdamRows", "v", v, w);
  RequireSameShape("AdamRows", "g", g, w);
  RequireIndices("AdamRows", "rows", rows, w.rows, "w.rows");
  dispatch::AdamRows()(w.data, m.data, v.data, g.data, w.stride, rows.data(),
                       rows.size(), w.cols, p);
}

void SgdMomentum(Span<float> w, Span<float> mom, Span<const float> g,
                 const SgdParams& p) {
  RequireEqual("SgdMomentum", "mom.size()", mom.size(), "w.size()", w.size());
  RequireEqual("SgdMomentum", "g.size()", g.size(), "w.size()", w.size());
  dispatch::SgdMomentum()(w.data(), mom.data(), g.data(), w.size(), p);
}

void Relu(Span<const float> x, Span<float> y) {
  RequireEqual("Relu", "y.size()", y.size(), "x.size()", x.size());
  dispatch::Relu()(x.data(), y.data(), x.size());
}

void Sigmoid(Span<const float> x, Span<float> y) {
  RequireEqual("Sigmoid", "y.size()", y.size(), "x.size()", x.size());
  dispatch::Sigmoid()(x.data(), y.data(), x.size());
}

float Softmax(Span<const float> x, Span<float> y) {
  RequireEqual("Softmax", "y.size()", y.size(), "x.size()", x.size());
  return dispatch::Softmax()(x.data(), y.data(), x.size());
}

float LogSoftmax(Span<const float> x, Span<float> y) {
  RequireEqual("LogSoftmax", "y.size()", y.size(), "x.size()", x.size());
  return dispatch::LogSoftmax()(x.data(), y.data(), x.size());
}

size_t TopK(Span<const float> x, size_t k, Span<uint32_t> idx,
            Span<float> val) {
  const size_t count = k < x.size() ? k : x.size();
  RequireAtLeast("TopK", "idx.size()", idx.size(), "min(k, x.size())", count);
  RequireAtLeast("TopK", "val.size()", val.size(), "min(k, x.size())", count);
  if (x.size() > 0xffffffffu) {
    Fail("TopK", "x.size() (" + std::to_string(x.size()) + ") exceeds 2^32-1");
  }
  return dispatch::TopK()(x.data(), x.size(), k, idx.data(), val.data());
}

}  // namespace frugal::ops
