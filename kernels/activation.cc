// Activations: ReLU, sigmoid, softmax and log-softmax over a gathered set.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

// y[i] = f(x[i]) for a vector function f; x == y allowed.
template <class F>
HWY_INLINE void Map(const float* x, float* y, size_t n, const F& f) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTail(f(d, LoadTail(d, x + i, n - i)), d, y + i, n - i);
}

void Relu(const float* x, float* y, size_t n) {
  // Zero where x < 0: NaN compares false and is kept.
  Map(x, y, n, [](auto d, auto v) {
    return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v);
  });
}

void Sigmoid(const float* x, float* y, size_t n) {
  Map(x, y, n, [](auto d, auto v) {
    const auto one = hn::Set(d, 1.0f);
    // e = exp(-|x|) in (0, 1]: Exp is only valid for arguments <= 104, and
    // underflows to 0 below -104, which saturates the result correctly.
    const auto e = hn::Exp(d, hn::Neg(hn::Abs(v)));
    const auto r = hn::Div(one, hn::Add(one, e));  // sigmoid(|x|)
    const auto s = hn::IfThenElse(hn::Lt(v, hn::Zero(d)), hn::Sub(one, r), r);
    return hn::IfThenElse(hn::IsNaN(v), v, s);  // Exp maps NaN to 0
  });
}

// Max over x[0, n) and whether any element is NaN. n > 0.
HWY_INLINE float MaxOf(const float* HWY_RESTRICT x, size_t n, bool* any_nan) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto lowest = hn::Set(d, -std::numeric_limits<float>::infinity());
  auto m = lowest;
  auto nan = hn::FirstN(d, 0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    m = hn::Max(m, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  if (i < n) {
    const auto valid = hn::FirstN(d, n - i);
    const auto v = hn::IfThenElse(valid, LoadTail(d, x + i, n - i), lowest);
    m = hn::Max(m, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  *any_nan = !hn::AllFalse(d, nan);
  return hn::GetLane(hn::MaxOfLanes(d, m));
}

// Writes y[i] = exp(x[i] - shift) when store, and returns their sum.
HWY_INLINE float ExpShiftSum(const float* x, float* y, size_t n, float shift,
                             bool store) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto s = hn::Set(d, shift);
  auto sum = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), s));
    if (store) hn::StoreU(e, d, y + i);
    sum = hn::Add(sum, e);
  }
  if (i < n) {
    const auto valid = hn::FirstN(d, n - i);
    const auto e = hn::IfThenElseZero(
        valid, hn::Exp(d, hn::Sub(LoadTail(d, x + i, n - i), s)));
    if (store) StoreTail(e, d, y + i, n - i);
    sum = hn::Add(sum, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

// The shift for a stable exp: max(x). When x has a NaN, fills y with NaN
// and returns false. n > 0.
HWY_INLINE bool MaxOrFillNaN(const float* x, float* y, size_t n, float* max) {
  bool any_nan;
  *max = MaxOf(x, n, &any_nan);
  if (!any_nan) return true;
  *max = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 0; i < n; ++i) y[i] = *max;
  return false;
}

float Softmax(const float* x, float* y, size_t n) {
  if (n == 0) return -std::numeric_limits<float>::infinity();
  float max;
  if (!MaxOrFillNaN(x, y, n, &max)) return max;
  const float sum = ExpShiftSum(x, y, n, max, /*store=*/true);
  const float inv = 1.0f / sum;
  Map(y, y, n, [inv](auto d, auto v) { return hn::Mul(v, hn::Set(d, inv)); });
  return max + std::log(sum);
}

float LogSoftmax(const float* x, float* y, size_t n) {
  if (n == 0) return -std::numeric_limits<float>::infinity();
  float max;
  if (!MaxOrFillNaN(x, y, n, &max)) return max;
  const float lse = max + std::log(ExpShiftSum(x, y, n, max, false));
  Map(x, y, n, [lse](auto d, auto v) { return hn::Sub(v, hn::Set(d, lse)); });
  return lse;
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(Relu)
FRUGAL_HWY_VARIANTS(Sigmoid)
FRUGAL_HWY_VARIANTS(Softmax)
FRUGAL_HWY_VARIANTS(LogSoftmax)
}  // namespace frugal::kernels
#endif
