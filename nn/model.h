// The extreme-classification network: a sparse input of dimension D, one
// fully connected hidden layer (ReLU), and a wide output layer whose active
// neurons an LSH NeuronIndex picks per sample (or all of them when dense).
//
// Storage: the input layer is feature-major (row f holds feature f's weights
// into every hidden unit), the output layer neuron-major (row j holds neuron
// j's weights); rows are padded to 16 floats (64 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/types.h"
#include "lsh/neuron_index.h"
#include "nn/dataset.h"

namespace frugal::nn {

enum class OutputLoss {
  kSoftmax,  // softmax over the active set; several labels share the target
  kSigmoid,  // independent binary cross-entropy per active neuron
};

struct ModelConfig {
  size_t input_dim = 0;
  size_t hidden_dim = 128;
  size_t output_dim = 0;
  OutputLoss loss = OutputLoss::kSoftmax;
  // Fraction of output neurons computed per training sample; 1 = dense.
  float output_sparsity = 1.0f;
  lsh::IndexConfig lsh;  // used when output_sparsity < 1
  uint64_t seed = 1;
};

// Sensible defaults from the data's shape, as BOLT tunes itself. With
// output_sparsity 0 (automatic): dense output up to 4,096 labels; beyond,
// sparsity giving ~2,000-4,000 active neurons. 1 forces a dense output; a
// value in (0, 1) that fraction of the labels (at least one). A sparse output
// gets an LSH configuration sized to the layer. Throws std::invalid_argument
// for a sparsity outside [0, 1].
ModelConfig AutoConfig(size_t input_dim, size_t output_dim,
                       size_t hidden_dim = 128, float output_sparsity = 0);

// A matrix of parameters with its Adam moments and gradient.
struct ParamBlock {
  size_t rows = 0, cols = 0, stride = 0;
  std::vector<float> w, m, v, g;

  void Init(size_t r, size_t c, float scale, uint64_t seed);
  MatrixView<float> W() { return {w.data(), rows, cols, stride}; }
  MatrixView<const float> W() const { return {w.data(), rows, cols, stride}; }
  MatrixView<float> M() { return {m.data(), rows, cols, stride}; }
  MatrixView<float> V() { return {v.data(), rows, cols, stride}; }
  MatrixView<float> G() { return {g.data(), rows, cols, stride}; }
};

class Model {
 public:
  // Throws std::invalid_argument on an invalid configuration. With
  // initialize == false the weights are zero and the LSH index is empty
  // (for loading: fill the weights, then RebuildIndex()).
  explicit Model(const ModelConfig& config, bool initialize = true);

  const ModelConfig& config() const { return config_; }
  bool sparse_output() const { return config_.output_sparsity < 1.0f; }
  // Active neurons per training sample.
  size_t active_size() const;

  // Parameters: input layer [input_dim x hidden] + bias (1 x hidden),
  // output layer [output_dim x hidden] + bias (output_dim x 1).
  ParamBlock& w_in() { return w_in_; }
  ParamBlock& b_in() { return b_in_; }
  ParamBlock& w_out() { return w_out_; }
  ParamBlock& b_out() { return b_out_; }
  const ParamBlock& w_in() const { return w_in_; }
  const ParamBlock& b_in() const { return b_in_; }
  const ParamBlock& w_out() const { return w_out_; }
  const ParamBlock& b_out() const { return b_out_; }

  // The LSH index over the output layer (null when dense).
  lsh::NeuronIndex* index() { return index_.get(); }
  const lsh::NeuronIndex* index() const { return index_.get(); }
  // Rebuilds the index from the current output weights.
  void RebuildIndex();

  // hidden[0, hidden_dim) = relu(b_in + sum_i val_i W_in[idx_i]); returns
  // the pre-activation through `pre` when not null. Ids must be valid.
  void Hidden(const SparseRow& x, float* hidden, float* pre = nullptr) const;

  // The k highest-scoring labels of x, best first. Exact scores every output
  // neuron; otherwise only the LSH-selected ones, at most
  // inference_active() of them, unpadded (falls back to exact when the index
  // returns fewer than k). Thread-safe.
  struct Scratch;
  void Predict(const SparseRow& x, size_t k, bool exact, Scratch& scratch,
               std::vector<uint32_t>& labels, std::vector<float>& scores) const;

  // Candidates scored per LSH prediction (default: 2 x the training active
  // set); a serving knob, not stored in model files.
  size_t inference_active() const { return inference_active_; }
  void set_inference_active(size_t n) { inference_active_ = n; }

  // Per-thread buffers for Predict (no allocation once warmed up).
  struct Scratch {
    std::vector<float> hidden, logits;
    std::vector<uint32_t> active;
    lsh::QueryScratch query;
  };

 private:
  ModelConfig config_;
  ParamBlock w_in_, b_in_, w_out_, b_out_;
  std::unique_ptr<lsh::NeuronIndex> index_;
  size_t inference_active_ = 0;
};

}  // namespace frugal::nn
