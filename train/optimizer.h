// Optimizers as named types: the trainer's phase 3 hands each the rows a
// batch touched; a new optimizer is one new class here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/types.h"
#include "nn/model.h"

namespace frugal::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual const char* name() const = 0;
  // Starts step `step` (1-based, the model's count) at learning rate `lr`.
  virtual void BeginStep(uint64_t step, float lr) = 0;
  // Updates rows[0, n) of `p` from their gradients (p.g) and zeroes those
  // gradients. `bias`: no weight decay. Rows of different calls may run
  // concurrently; one row is never in two calls of a step.
  virtual void UpdateRows(ParamBlock& p, const uint32_t* rows, size_t n,
                          bool bias) const = 0;
  // Every weight of `p` (a one-row block such as layer 0's bias).
  virtual void UpdateAll(ParamBlock& p, bool bias) const = 0;
};

// Adam, or AdamW with weight_decay > 0 (decoupled), with the moments in the
// ParamBlock (m, v); bias correction from the model's step count.
class Adam : public Optimizer {
 public:
  Adam(float beta1, float beta2, float eps, float weight_decay)
      : beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {}
  const char* name() const override { return "adam"; }
  void BeginStep(uint64_t step, float lr) override;
  void UpdateRows(ParamBlock& p, const uint32_t* rows, size_t n,
                  bool bias) const override;
  void UpdateAll(ParamBlock& p, bool bias) const override;

 private:
  float beta1_, beta2_, eps_, weight_decay_;
  AdamParams weights_{}, biases_{};  // this step's
};

}  // namespace frugal::nn
