// Scalar references (test oracles) for kernels/activation.cc.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/variant.h"

namespace frugal::kernels {

void ReluRef(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void SigmoidRef(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    y[i] = float(1.0 / (1.0 + std::exp(-double(x[i]))));
  }
}

namespace {

// log(sum(exp(x))) in double; NaN if any x is NaN.
double LogSumExp(const float* x, size_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return std::numeric_limits<double>::quiet_NaN();
    max = std::max(max, double(x[i]));
  }
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - max);
  return max + std::log(sum);
}

}  // namespace

float SoftmaxRef(const float* x, float* y, size_t n) {
  if (n == 0) return -std::numeric_limits<float>::infinity();
  const double lse = LogSumExp(x, n);
  for (size_t i = 0; i < n; ++i) y[i] = float(std::exp(double(x[i]) - lse));
  return float(lse);
}

float LogSoftmaxRef(const float* x, float* y, size_t n) {
  if (n == 0) return -std::numeric_limits<float>::infinity();
  const double lse = LogSumExp(x, n);
  for (size_t i = 0; i < n; ++i) y[i] = float(double(x[i]) - lse);
  return float(lse);
}

}  // namespace frugal::kernels
