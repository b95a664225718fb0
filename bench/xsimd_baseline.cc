// xsimd 8.1 baseline for Dot and Axpy: the "second library" the Highway
// kernels are compared with. This is the only file of frugal_bench compiled
// with AVX-512 flags (-mavx512f/vl/bw/dq -mfma), so xsimd's default batch is
// avx512bw (16 floats). It includes nothing but xsimd and defines two plain
// functions; kernels_bench.cc registers them only when dispatch reports
// AVX-512 on this CPU, so no AVX-512 code runs elsewhere.
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace frugal::bench {

// sum_i a[i] * b[i] with four accumulators, as the Highway kernel does.
float XsimdDot(const float* a, const float* b, size_t n) {
  using B = xsimd::batch<float>;
  constexpr size_t N = B::size;
  B s0(0.0f), s1(0.0f), s2(0.0f), s3(0.0f);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), s0);
    s1 = xsimd::fma(B::load_unaligned(a + i + N), B::load_unaligned(b + i + N),
                    s1);
    s2 = xsimd::fma(B::load_unaligned(a + i + 2 * N),
                    B::load_unaligned(b + i + 2 * N), s2);
    s3 = xsimd::fma(B::load_unaligned(a + i + 3 * N),
                    B::load_unaligned(b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) {
    s0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), s0);
  }
  float sum = xsimd::hadd((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y[i] += a * x[i], two vectors per step.
void XsimdAxpy(float a, const float* x, float* y, size_t n) {
  using B = xsimd::batch<float>;
  constexpr size_t N = B::size;
  const B va(a);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const B y0 = xsimd::fma(va, B::load_unaligned(x + i), B::load_unaligned(y + i));
    const B y1 = xsimd::fma(va, B::load_unaligned(x + i + N),
                            B::load_unaligned(y + i + N));
    y0.store_unaligned(y + i);
    y1.store_unaligned(y + i + N);
  }
  for (; i + N <= n; i += N) {
    xsimd::fma(va, B::load_unaligned(x + i), B::load_unaligned(y + i))
        .store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// The architecture xsimd compiled this file for, e.g. "avx512bw".
const char* XsimdArchName() { return xsimd::default_arch::name(); }

}  // namespace frugal::bench
