// Vocabulary types shared by the kernels' signatures and the checked API.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace frugal {

// A view of `size` contiguous elements (std::span is C++20).
template <class T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T* data, size_t size) : data_(data), size_(size) {}
  template <class A>
  Span(std::vector<std::remove_const_t<T>, A>& v)  // NOLINT: implicit
      : data_(v.data()), size_(v.size()) {}
  template <class A, class U = T,
            class = std::enable_if_t<std::is_const_v<U>>>
  Span(const std::vector<std::remove_const_t<T>, A>& v)  // NOLINT: implicit
      : data_(v.data()), size_(v.size()) {}
  template <class U,
            class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
  constexpr Span(Span<U> other)  // NOLINT: implicit const conversion
      : data_(other.data()), size_(other.size()) {}

  constexpr T* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](size_t i) const { return data_[i]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

// A row-major matrix view: `rows` rows of `cols` used elements, row r at
// data + r * stride (stride >= cols, in elements).
template <class T>
struct MatrixView {
  T* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
  size_t stride = 0;

  constexpr MatrixView() = default;
  constexpr MatrixView(T* d, size_t r, size_t c, size_t s)
      : data(d), rows(r), cols(c), stride(s) {}
  constexpr MatrixView(T* d, size_t r, size_t c) : MatrixView(d, r, c, c) {}
  template <class U,
            class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
  constexpr MatrixView(MatrixView<U> o)  // NOLINT: implicit const conversion
      : data(o.data), rows(o.rows), cols(o.cols), stride(o.stride) {}

  constexpr T* row(size_t r) const { return data + r * stride; }
};

// bfloat16: the upper 16 bits of an IEEE binary32. Layout-compatible with
// hwy::bfloat16_t.
struct bf16 {
  uint16_t bits;
};

// Round to nearest even; NaN stays NaN (quiet).
inline bf16 FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{uint16_t((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{uint16_t(u >> 16)};
}

inline float Bf16ToFloat(bf16 b) {
  const uint32_t u = uint32_t(b.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Adam / AdamW hyper-parameters for one step. Bias correction is folded in by
// the caller: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), and
// eps_t = eps * sqrt(1 - beta2^t), so that the update is
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   w -= lr_t * m / (sqrt(v) + eps_t) + lr * weight_decay * w   (AdamW).
struct AdamParams {
  float lr_t = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps_t = 1e-8f;
  float decay = 0.0f;  // lr * weight_decay (decoupled); 0 for plain Adam

  // Parameters for step `t` (1-based) of Adam with the given settings.
  static AdamParams ForStep(float lr, float beta1, float beta2, float eps,
                            float weight_decay, uint64_t t) {
    const double c1 = 1.0 - std::pow(double(beta1), double(t));
    const double c2 = std::sqrt(1.0 - std::pow(double(beta2), double(t)));
    AdamParams p;
    p.lr_t = float(lr * c2 / c1);
    p.beta1 = beta1;
    p.beta2 = beta2;
    p.eps_t = float(eps * c2);
    p.decay = lr * weight_decay;
    return p;
  }
};

// SGD with momentum: mom = momentum * mom + g + weight_decay * w;
// w -= lr * mom.
struct SgdParams {
  float lr = 0.01f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
};

}  // namespace frugal
