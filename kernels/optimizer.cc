// Optimizer updates: Adam/AdamW over a dense block and over touched rows,
// SGD with momentum.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/optimizer.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

// One Adam step on vectors; returns the new (w, m, v) through references.
// The constants are broadcast here (loop-invariant once inlined): SVE vectors
// are sizeless and cannot be struct members.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE void AdamStep(D d, const AdamParams& p, V g, V& w, V& m, V& v) {
  m = hn::MulAdd(hn::Set(d, p.beta1), m,
                 hn::Mul(hn::Set(d, 1.0f - p.beta1), g));
  v = hn::MulAdd(hn::Set(d, p.beta2), v,
                 hn::Mul(hn::Set(d, 1.0f - p.beta2), hn::Mul(g, g)));
  const V step = hn::Div(hn::Mul(hn::Set(d, p.lr_t), m),
                         hn::Add(hn::Sqrt(v), hn::Set(d, p.eps_t)));
  // AdamW: w * (1 - lr * weight_decay) - step; decay == 0 for plain Adam.
  w = hn::MulSub(w, hn::Set(d, 1.0f - p.decay), step);
}

// Adam over n contiguous elements with gradient g_in; when g is not null
// (it may alias g_in), g is set to zero afterwards.
HWY_INLINE void AdamSpan(float* HWY_RESTRICT w, float* HWY_RESTRICT m,
                         float* HWY_RESTRICT v, float* g, const float* g_in,
                         size_t n, const AdamParams& p) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    auto vw = hn::LoadU(d, w + i), vm = hn::LoadU(d, m + i);
    auto vv = hn::LoadU(d, v + i);
    AdamStep(d, p, hn::LoadU(d, g_in + i), vw, vm, vv);
    hn::StoreU(vw, d, w + i);
    hn::StoreU(vm, d, m + i);
    hn::StoreU(vv, d, v + i);
    if (g != nullptr) hn::StoreU(hn::Zero(d), d, g + i);
  }
  if (i < n) {
    const size_t r = n - i;
    auto vw = LoadTail(d, w + i, r), vm = LoadTail(d, m + i, r);
    auto vv = LoadTail(d, v + i, r);
    AdamStep(d, p, LoadTail(d, g_in + i, r), vw, vm, vv);
    StoreTail(vw, d, w + i, r);
    StoreTail(vm, d, m + i, r);
    StoreTail(vv, d, v + i, r);
    if (g != nullptr) StoreTail(hn::Zero(d), d, g + i, r);
  }
}

void AdamDense(float* HWY_RESTRICT w, float* HWY_RESTRICT m,
               float* HWY_RESTRICT v, const float* HWY_RESTRICT g, size_t n,
               const AdamParams& p) {
  AdamSpan(w, m, v, nullptr, g, n, p);
}

void AdamRows(float* HWY_RESTRICT w, float* HWY_RESTRICT m,
              float* HWY_RESTRICT v, float* HWY_RESTRICT g, size_t stride,
              const uint32_t* HWY_RESTRICT rows, size_t num_rows, size_t dim,
              const AdamParams& p) {
  const size_t row_bytes = dim * sizeof(float);
  for (size_t j = 0; j < num_rows; ++j) {
    PrefetchRowsFor<1>(j, rows, num_rows, stride, row_bytes, w, m, v, g);
    const size_t off = size_t{rows[j]} * stride;
    AdamSpan(w + off, m + off, v + off, g + off, g + off, dim, p);
  }
}

void SgdMomentum(float* HWY_RESTRICT w, float* HWY_RESTRICT mom,
                 const float* HWY_RESTRICT g, size_t n, const SgdParams& p) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto lr = hn::Set(d, p.lr), mu = hn::Set(d, p.momentum);
  const auto wd = hn::Set(d, p.weight_decay);
  // Updates vw and vm in place (SVE vectors cannot live in a std::pair).
  auto step = [&](auto& vw, auto& vm, auto vg) {
    vm = hn::MulAdd(mu, vm, hn::MulAdd(wd, vw, vg));
    vw = hn::NegMulAdd(lr, vm, vw);
  };
  size_t i = 0;
  for (; i + N <= n; i += N) {
    auto vw = hn::LoadU(d, w + i), vm = hn::LoadU(d, mom + i);
    step(vw, vm, hn::LoadU(d, g + i));
    hn::StoreU(vw, d, w + i);
    hn::StoreU(vm, d, mom + i);
  }
  if (i < n) {
    const size_t c = n - i;
    auto vw = LoadTail(d, w + i, c), vm = LoadTail(d, mom + i, c);
    step(vw, vm, LoadTail(d, g + i, c));
    StoreTail(vw, d, w + i, c);
    StoreTail(vm, d, mom + i, c);
  }
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(AdamDense)
FRUGAL_HWY_VARIANTS(AdamRows)
FRUGAL_HWY_VARIANTS(SgdMomentum)
}  // namespace frugal::kernels
#endif
