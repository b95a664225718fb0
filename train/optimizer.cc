#include "train/optimizer.h"

#include <algorithm>

#include "dispatch/registry.h"

namespace frugal::nn {

void Adam::BeginStep(uint64_t step, float lr) {
  weights_ = AdamParams::ForStep(lr, beta1_, beta2_, eps_, weight_decay_, step);
  biases_ = weights_;
  biases_.decay = 0.0f;  // no weight decay on biases
}

void Adam::UpdateRows(ParamBlock& p, const uint32_t* rows, size_t n,
                      bool bias) const {
  dispatch::AdamRows()(p.w.data(), p.m.data(), p.v.data(), p.g.data(), p.stride,
                       rows, n, p.cols, bias ? biases_ : weights_);
}

void Adam::UpdateAll(ParamBlock& p, bool bias) const {
  dispatch::AdamDense()(p.w.data(), p.m.data(), p.v.data(), p.g.data(),
                        p.rows == 1 ? p.cols : p.rows * p.stride,
                        bias ? biases_ : weights_);
  std::fill(p.g.begin(), p.g.end(), 0.0f);
}

}  // namespace frugal::nn
