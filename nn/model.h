// The network: a sparse input of dimension D, then fully connected layers,
// each with a width, an activation and a sparsity. The last layer is the
// output (softmax or sigmoid). A layer with sparsity < 1 computes, per
// sample, only the neurons an LSH NeuronIndex picks for its input (the
// SLIDE algorithm); its other neurons count as 0.
//
// Storage: layer 0 reads the sparse input and is feature-major (row f holds
// input feature f's weights into every neuron), so a sample is a sum of
// rows; layers 1.. are neuron-major (row j holds neuron j's weights), so an
// active neuron is one contiguous dot. Rows are padded to 16 floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/types.h"
#include "lsh/neuron_index.h"
#include "data/dataset.h"
#include "nn/label_memory.h"

namespace frugal::nn {

enum class Activation : uint32_t {
  kRelu,     // hidden layers
  kLinear,   // hidden layers (identity)
  kSoftmax,  // output: softmax over the active set; several labels share the
             // target uniformly (multi-class and multi-label)
  kSigmoid,  // output: independent binary cross-entropy per active neuron
};

// "relu", "linear", "softmax", "sigmoid"; nullptr for an unknown value.
const char* ActivationName(Activation a);
// The inverse of ActivationName; std::invalid_argument naming the choices for
// any other name.
Activation ParseActivation(const std::string& name);

struct LayerConfig {
  size_t width = 0;
  Activation activation = Activation::kRelu;
  // Fraction of the neurons computed per training sample; 1 = dense. Layer 0
  // (reading the sparse input) must be dense.
  float sparsity = 1.0f;
  lsh::IndexConfig lsh;  // used when sparsity < 1
};

// A label-sharded output (train/sharded_output.h): the model holds output
// neurons [first, first + output width) of `total`, and output ids (labels,
// predictions) stay global. total == 0: the whole output.
struct OutputShard {
  size_t first = 0;
  size_t total = 0;
  bool sharded() const { return total != 0; }
};

struct ModelConfig {
  size_t input_dim = 0;
  // Hidden layers in order, then the output layer (at least the output).
  std::vector<LayerConfig> layers;
  uint64_t seed = 1;
  // Free-form settings saved with the model (e.g. a featurizer's).
  std::map<std::string, std::string> metadata;
  // Which output neurons this model holds (all by default); the output
  // layer's width is the shard's.
  OutputShard output_shard;

  LayerConfig& output() { return layers.back(); }
  const LayerConfig& output() const { return layers.back(); }
  // Labels of the whole output (of every shard).
  size_t output_dim() const {
    if (output_shard.sharded()) return output_shard.total;
    return layers.empty() ? 0 : layers.back().width;
  }
};

// A sampled (sparsity < 1) layer of `width` neurons computing about `active`
// of them per sample, with an LSH configuration sized to the layer.
LayerConfig SampledLayer(size_t width, size_t active, Activation activation);

// Sensible defaults from the data's shape, as BOLT tunes itself: one ReLU
// hidden layer of `hidden_dim` (none when 0: a linear model) and a softmax
// output. With output_sparsity 0 (automatic): dense output up to 4,096
// labels; beyond, ~0.5% of the labels, 2,000-4,000 active neurons. 1 forces a
// dense output; a value in (0, 1) that fraction of the labels (at least one).
// A sampled output needs a hidden layer. Throws std::invalid_argument for a
// sparsity outside [0, 1].
ModelConfig AutoConfig(size_t input_dim, size_t output_dim,
                       size_t hidden_dim = 128, float output_sparsity = 0);

// A matrix of parameters with its Adam moments and gradient.
struct ParamBlock {
  size_t rows = 0, cols = 0, stride = 0;
  std::vector<float> w, m, v, g;

  // r x c weights ~ N(0, scale^2) from `seed`, as rows [first_row, first_row
  // + r) of a block initialised with first_row 0 (a shard's rows equal the
  // same rows of the whole block); zero moments and gradient. Rows are drawn
  // in blocks of 65,536, each from its own stream (the first from `seed`), so
  // the cost is O((r + 65,536) x c) draws whatever first_row is.
  void Init(size_t r, size_t c, float scale, uint64_t seed, size_t first_row = 0);
  MatrixView<float> W() { return {w.data(), rows, cols, stride}; }
  MatrixView<const float> W() const { return {w.data(), rows, cols, stride}; }
};

// One fully connected layer's parameters. Layer 0: w is [input_dim x width]
// (feature-major) and b is [1 x width]; layer l >= 1: w is [width x
// previous width] (neuron-major) and b is [width x 1].
struct Layer {
  LayerConfig config;
  size_t input_dim = 0;
  ParamBlock w, b;
  std::unique_ptr<lsh::NeuronIndex> index;  // sampled layers only
  size_t active = 0;            // neurons per training sample
  size_t inference_active = 0;  // candidates per LSH prediction
  bool sampled() const { return index != nullptr; }
};

class Model {
 public:
  // Throws std::invalid_argument on an invalid configuration. With
  // initialize == false the weights are zero and the LSH indexes are empty
  // (for loading: fill the weights, then RebuildIndex()).
  explicit Model(const ModelConfig& config, bool initialize = true);

  const ModelConfig& config() const { return config_; }
  // The metadata saved with the model (ModelConfig::metadata), for writers
  // of settings and state (e.g. train/fit.h's FitState).
  std::map<std::string, std::string>& metadata() { return config_.metadata; }
  size_t num_layers() const { return layers_.size(); }
  Layer& layer(size_t l) { return layers_[l]; }
  const Layer& layer(size_t l) const { return layers_[l]; }
  Layer& output() { return layers_.back(); }
  const Layer& output() const { return layers_.back(); }
  size_t input_dim() const { return config_.input_dim; }
  size_t output_dim() const { return config_.output_dim(); }
  bool sparse_output() const { return output().sampled(); }
  // Active output neurons per training sample.
  size_t active_size() const { return output().active; }
  // 0, 1, ..., max layer width - 1: the active set of a dense layer.
  const uint32_t* all_neurons() const { return all_neurons_.data(); }

  // Adam steps taken so far (saved with the optimizer state).
  uint64_t step() const { return step_; }
  void set_step(uint64_t s) { step_ = s; }

  // Rebuilds every LSH index from the current weights.
  void RebuildIndex();

  // One sample's forward pass, layer by layer. For layer l: `active` the
  // neurons computed (all of them for a dense layer), `pre` their
  // pre-activations (for the output: the logits), `out` the layer's output
  // as a dense vector of its width (0 for inactive neurons; not filled for
  // the output layer), `delta` room for training's d loss / d pre.
  struct LayerState {
    std::vector<uint32_t> active_ids;  // storage for a sampled layer
    const uint32_t* active = nullptr;
    size_t m = 0;
    std::vector<float> pre, out, delta;
  };
  // Per layer, the working memory of a sampled layer's LSH query (2 bytes a
  // neuron): needed only during a forward pass, so one per thread can serve
  // the Activations of many samples.
  using QueryScratches = std::vector<lsh::QueryScratch>;
  struct Activations {
    std::vector<LayerState> layers;
    QueryScratches query;  // what Forward(x, mode, pad_seed, a) uses
    LabelMemory::Scratch memory;  // Predict's blend with the label memory
  };
  enum class Mode {
    kTrain,      // sampled layers: training active sizes, labels forced in
    kInference,  // sampled layers: inference_active candidates, unpadded
    kExact,      // every neuron of every layer
  };
  // Ids of x must be valid. `labels` are forced into a sampled output's
  // active set first (kTrain only); pad_seed drives random padding.
  void Forward(const SparseRow& x, Mode mode, uint64_t pad_seed,
               Activations& a) const;
  // The same with the query scratch given apart from the activations (e.g.
  // one per thread while a batch keeps every sample's activations).
  void Forward(const SparseRow& x, Mode mode, uint64_t pad_seed,
               Activations& a, QueryScratches& query) const;
  // Layers [0, num_layers) only (a.layers gets every layer's state; the
  // others are left as they were): e.g. the hidden layers under a sharded
  // output.
  void ForwardLayers(const SparseRow& x, Mode mode, uint64_t pad_seed,
                     Activations& a, QueryScratches& query,
                     size_t num_layers) const;

  // The k highest-scoring labels of x, best first. Exact scores every
  // neuron; otherwise sampled layers compute only LSH-selected neurons, at
  // most inference_active of them (falls back to every output neuron when
  // the output index returns fewer than k). Scores are the output's logits;
  // with a label memory of blend b > 0 they are (1 - b) x the network's
  // probability (softmax over the computed neurons, or sigmoid) + b x the
  // memory's cosine, over the union of both candidate sets (b = 1: the
  // memory alone, the network not computed: a.layers is left empty).
  // Thread-safe;
  // allocates nothing once `a` and the outputs have warmed up. A sharded
  // output ranks its own neurons only (global ids).
  void Predict(const SparseRow& x, size_t k, bool exact, Activations& a,
               std::vector<uint32_t>& labels, std::vector<float>& scores) const;

  // Output candidates scored per LSH prediction (default: 2 x the training
  // active set); a serving knob, not stored in model files.
  size_t inference_active() const { return output().inference_active; }
  void set_inference_active(size_t n) { output().inference_active = n; }

  // The label memory Predict blends in (empty: none). Saved in model files.
  const LabelMemory& label_memory() const { return memory_; }
  LabelMemory& label_memory() { return memory_; }
  // Precondition: m is empty or has this model's input_dim and output_dim.
  void set_label_memory(LabelMemory m);

 private:
  void ComputeLayer(size_t l, const SparseRow& x, Mode mode, uint64_t pad_seed,
                    Activations& a, lsh::QueryScratch& query) const;

  ModelConfig config_;
  std::vector<Layer> layers_;
  std::vector<uint32_t> all_neurons_;
  uint64_t step_ = 0;
  LabelMemory memory_;
};

}  // namespace frugal::nn
