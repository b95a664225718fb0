#include "nn/loss.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "dispatch/registry.h"

namespace frugal::nn {
namespace {

float Softplus(float z) {  // log(1 + exp(z)), stable
  return std::max(z, 0.0f) + std::log1p(std::exp(-std::fabs(z)));
}

}  // namespace

double SoftmaxCrossEntropy::Gradient(const float* z, size_t m,
                                     const uint32_t* label_pos,
                                     size_t num_labels, float* dz) const {
  if (num_labels == 0) {
    std::fill(dz, dz + m, 0.0f);
    return 0;
  }
  double label_logits = 0;
  for (size_t i = 0; i < num_labels; ++i) label_logits += z[label_pos[i]];
  const float lse = dispatch::Softmax()(z, dz, m);
  const float t = 1.0f / float(num_labels);
  for (size_t i = 0; i < num_labels; ++i) dz[label_pos[i]] -= t;
  return double(lse) - label_logits / double(num_labels);
}

double SigmoidBinaryCrossEntropy::Gradient(const float* z, size_t m,
                                           const uint32_t* label_pos,
                                           size_t num_labels, float* dz) const {
  double loss = 0;
  for (size_t j = 0; j < m; ++j) loss += Softplus(z[j]);
  for (size_t i = 0; i < num_labels; ++i) loss -= z[label_pos[i]];
  dispatch::Sigmoid()(z, dz, m);
  for (size_t i = 0; i < num_labels; ++i) dz[label_pos[i]] -= 1.0f;
  return loss;
}

const Loss& LossFor(Activation a) {
  static const SoftmaxCrossEntropy softmax;
  static const SigmoidBinaryCrossEntropy sigmoid;
  switch (a) {
    case Activation::kSoftmax:
      return softmax;
    case Activation::kSigmoid:
      return sigmoid;
    default:
      throw std::invalid_argument(std::string("no loss for an output of activation ") +
                                  ActivationName(a));
  }
}

}  // namespace frugal::nn
