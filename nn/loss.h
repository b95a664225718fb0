// Output losses as named types: a new loss is one new class here, chosen by
// the output layer's activation (LossFor), not edits inside the trainer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nn/model.h"

namespace frugal::nn {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual const char* name() const = 0;
  // One sample's loss over the m active output neurons with logits z[0, m):
  // label_pos[0, num_labels) are the (distinct) positions of its labels in
  // z. Writes d loss / d z into dz[0, m) (dz may not alias z).
  virtual double Gradient(const float* z, size_t m, const uint32_t* label_pos,
                          size_t num_labels, float* dz) const = 0;
};

// Cross-entropy of the softmax over the active set against the uniform
// distribution over the labels (multi-class and multi-label).
class SoftmaxCrossEntropy : public Loss {
 public:
  const char* name() const override { return "softmax"; }
  double Gradient(const float* z, size_t m, const uint32_t* label_pos,
                  size_t num_labels, float* dz) const override;
};

// Independent binary cross-entropy per active neuron: target 1 for the
// labels, 0 for the other active neurons (one-vs-all).
class SigmoidBinaryCrossEntropy : public Loss {
 public:
  const char* name() const override { return "sigmoid"; }
  double Gradient(const float* z, size_t m, const uint32_t* label_pos,
                  size_t num_labels, float* dz) const override;
};

// The loss an output layer of activation `a` trains with (softmax or
// sigmoid); std::invalid_argument for a hidden-layer activation.
const Loss& LossFor(Activation a);

}  // namespace frugal::nn
