#include "nn/model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "dispatch/registry.h"

namespace frugal::nn {
namespace {

// Rows padded to 64 bytes; a single column (a bias) is not padded.
size_t PaddedStride(size_t cols) { return cols == 1 ? 1 : (cols + 15) / 16 * 16; }

// Row length limit of the layers' storage (a layer's width feeds the next
// layer's rows; layer 0's rows are its width).
constexpr size_t kMaxRowLength = 65536;
constexpr size_t kMaxDim = size_t{1} << 31;
// Parameters of a whole model (each also has an Adam m, v and a gradient).
constexpr size_t kMaxParameters = size_t{1} << 32;

// ParamBlock::Init draws rows in blocks of this many, each block from the
// stream InitBlockSeed(seed, block): block 0's is `seed` itself (a block of
// at most this many rows is drawn as one stream from `seed`).
constexpr size_t kInitBlockRows = 65536;

uint64_t InitBlockSeed(uint64_t seed, size_t block) {
  if (block == 0) return seed;
  // The SplitMix64 finalizer of (seed, block).
  uint64_t x = seed ^ (uint64_t(block) * 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool IsOutputActivation(Activation a) {
  return a == Activation::kSoftmax || a == Activation::kSigmoid;
}

void ValidateConfig(const ModelConfig& c) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("ModelConfig: " + what);
  };
  if (c.input_dim == 0 || c.input_dim > kMaxDim) {
    fail("input_dim must be in [1, 2^31], got " + std::to_string(c.input_dim));
  }
  if (c.layers.empty()) fail("at least an output layer is needed");
  size_t params = 0, in = c.input_dim;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const LayerConfig& lc = c.layers[l];
    const std::string name = "layer " + std::to_string(l);
    const bool last = l + 1 == c.layers.size();
    const size_t max_width = (l == 0 || !last) ? kMaxRowLength : kMaxDim;
    if (lc.width == 0 || lc.width > max_width) {
      fail(name + " width must be in [1, " + std::to_string(max_width) +
           "], got " + std::to_string(lc.width));
    }
    if (ActivationName(lc.activation) == nullptr ||
        IsOutputActivation(lc.activation) != last) {
      fail(name + (last ? " (the output) needs a softmax or sigmoid activation"
                        : " (hidden) needs a relu or linear activation"));
    }
    if (!(lc.sparsity > 0.0f && lc.sparsity <= 1.0f)) {
      fail(name + " sparsity must be in (0, 1]");
    }
    if (l == 0 && lc.sparsity < 1.0f) {
      fail("layer 0 reads the sparse input and must be dense (sparsity 1)");
    }
    if (lc.width > (kMaxParameters - params) / (in + 1)) {
      fail("more than 2^32 parameters");
    }
    params += lc.width * (in + 1);
    in = lc.width;
  }
  const OutputShard& sh = c.output_shard;
  if (sh.sharded() && (sh.total > kMaxDim || sh.first >= sh.total ||
                       c.layers.back().width > sh.total - sh.first)) {
    fail("output shard [" + std::to_string(sh.first) + ", +" +
         std::to_string(c.layers.back().width) + ") is outside the " +
         std::to_string(sh.total) + " outputs");
  }
}

}  // namespace

const char* ActivationName(Activation a) {
  switch (a) {
    case Activation::kRelu: return "relu";
    case Activation::kLinear: return "linear";
    case Activation::kSoftmax: return "softmax";
    case Activation::kSigmoid: return "sigmoid";
  }
  return nullptr;
}

Activation ParseActivation(const std::string& name) {
  for (Activation a : {Activation::kRelu, Activation::kLinear,
                       Activation::kSoftmax, Activation::kSigmoid}) {
    if (name == ActivationName(a)) return a;
  }
  throw std::invalid_argument("unknown activation '" + name +
                              "' (relu, linear, softmax, sigmoid)");
}

LayerConfig SampledLayer(size_t width, size_t active, Activation activation) {
  LayerConfig c;
  c.width = width;
  c.activation = activation;
  active = std::clamp<size_t>(active, 1, width);
  c.sparsity = float(double(active) / double(width));
  c.lsh.hash.kind = lsh::HashKind::kDwta;
  c.lsh.hash.bin_size = 8;
  // ~160 neurons per bucket: 4 winners x 3 bits for 670K, fewer bits below.
  c.lsh.hash.k = width >= 300000 ? 4 : 3;
  c.lsh.hash.l = 40;
  c.lsh.range_bits = 16;
  c.lsh.bucket_capacity = 256;
  c.lsh.selection = lsh::Selection::kFrequency;
  c.lsh.max_active = active;
  c.lsh.min_active = active;
  // Rehash every 10 batches at first, then less often (SLIDE rebuilds every
  // ~25 batches of 256); training touches most rows between rehashes.
  c.lsh.rehash_every = 10;
  c.lsh.rehash_growth = 1.1f;
  c.lsh.rehash_max_interval = 50;
  return c;
}

ModelConfig AutoConfig(size_t input_dim, size_t output_dim, size_t hidden_dim,
                       float output_sparsity) {
  if (!(output_sparsity >= 0.0f && output_sparsity <= 1.0f)) {
    throw std::invalid_argument("AutoConfig: output_sparsity must be in [0, 1]");
  }
  ModelConfig c;
  c.input_dim = input_dim;
  if (hidden_dim > 0) c.layers.push_back({hidden_dim, Activation::kRelu, 1.0f, {}});
  LayerConfig dense_output{output_dim, Activation::kSoftmax, 1.0f, {}};
  size_t active = output_dim;
  if (output_sparsity == 0.0f) {
    // ~0.5% of the layer, at least 2,000 and at most 4,000 neurons.
    if (output_dim > 4096 && hidden_dim > 0) {
      active = size_t(std::clamp(0.005 * double(output_dim), 2000.0, 4000.0));
    }
  } else if (output_sparsity < 1.0f) {
    if (hidden_dim == 0) {
      throw std::invalid_argument(
          "AutoConfig: a sampled output needs a hidden layer");
    }
    active = std::max<size_t>(
        1, size_t(double(output_sparsity) * double(output_dim)));
  }
  c.layers.push_back(active < output_dim
                         ? SampledLayer(output_dim, active, Activation::kSoftmax)
                         : dense_output);
  return c;
}

void ParamBlock::Init(size_t r, size_t c, float scale, uint64_t seed,
                      size_t first_row) {
  rows = r;
  cols = c;
  stride = PaddedStride(c);
  w.assign(rows * stride, 0.0f);
  m.assign(rows * stride, 0.0f);
  v.assign(rows * stride, 0.0f);
  g.assign(rows * stride, 0.0f);
  if (scale > 0) {
    // Block k of kInitBlockRows rows draws from its own stream, so a shard
    // starting deep in a huge output skips fewer than kInitBlockRows rows
    // of draws, not first_row of them.
    const size_t end = first_row + rows;
    for (size_t k = first_row / kInitBlockRows; k * kInitBlockRows < end; ++k) {
      const size_t begin = k * kInitBlockRows;
      const size_t stop = std::min(end, begin + kInitBlockRows);
      std::mt19937_64 rng(InitBlockSeed(seed, k));
      std::normal_distribution<float> dist(0.0f, scale);
      for (size_t i = begin; i < first_row; ++i) {  // the block's earlier rows
        for (size_t j = 0; j < cols; ++j) dist(rng);
      }
      for (size_t i = std::max(begin, first_row); i < stop; ++i) {
        float* row = w.data() + (i - first_row) * stride;
        for (size_t j = 0; j < cols; ++j) row[j] = dist(rng);
      }
    }
  }
}

Model::Model(const ModelConfig& config, bool initialize) : config_(config) {
  ValidateConfig(config);
  layers_.resize(config.layers.size());
  size_t in = config.input_dim, max_width = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    L.config = config.layers[l];
    L.input_dim = in;
    const size_t n = L.config.width;
    // A sharded output scales as the whole layer.
    const size_t fan_out = l + 1 == layers_.size() ? config.output_dim() : n;
    const float scale =
        initialize ? std::sqrt(2.0f / float(in + fan_out)) : 0.0f;
    const uint64_t seed =
        l == 0 ? config.seed : config.seed * 0x9e3779b97f4a7c15ull + l;
    if (l == 0) {
      L.w.Init(in, n, scale, seed);
      L.b.Init(1, n, 0.0f, 0);
    } else if (l + 1 == layers_.size()) {
      L.w.Init(n, in, scale, seed, config.output_shard.first);
      L.b.Init(n, 1, 0.0f, 0);
    } else {
      L.w.Init(n, in, scale, seed);
      L.b.Init(n, 1, 0.0f, 0);
    }
    L.active = L.inference_active = n;
    if (L.config.sparsity < 1.0f) {
      L.active = std::max<size_t>(
          1, size_t(std::lround(double(L.config.sparsity) * double(n))));
      lsh::IndexConfig& ic = L.config.lsh;
      if (ic.max_active == 0) ic.max_active = L.active;
      if (ic.min_active == 0) ic.min_active = L.active;
      config_.layers[l].lsh = ic;
      L.index = std::make_unique<lsh::NeuronIndex>(ic, n, in);
      L.inference_active = std::min(n, 2 * ic.max_active);
    }
    max_width = std::max(max_width, n);
    in = n;
  }
  all_neurons_.resize(max_width);
  std::iota(all_neurons_.begin(), all_neurons_.end(), 0u);
  if (initialize) RebuildIndex();
}

void Model::RebuildIndex() {
  for (Layer& L : layers_) {
    if (L.index) L.index->Build(L.w.W());
  }
}

void Model::ComputeLayer(size_t l, const SparseRow& x, Mode mode,
                         uint64_t pad_seed, Activations& a,
                         lsh::QueryScratch& query) const {
  const Layer& L = layers_[l];
  LayerState& s = a.layers[l];
  const size_t n = L.config.width;
  const bool last = l + 1 == layers_.size();
  if (l == 0) {
    s.active = all_neurons_.data();
    s.m = n;
    s.pre.resize(n);
    std::copy_n(L.b.w.data(), n, s.pre.data());
    dispatch::RowAccumulate()(L.w.w.data(), L.w.stride, x.idx.data(),
                              x.val.data(), x.idx.size(), s.pre.data(), n);
  } else {
    const float* h = a.layers[l - 1].out.data();
    if (L.sampled() && mode != Mode::kExact) {
      if (mode == Mode::kTrain) {
        L.index->Query(h, last ? x.labels : Span<const uint32_t>(), pad_seed,
                       query, s.active_ids);
      } else {
        const lsh::NeuronIndex::Limits limits{L.inference_active, 0};
        L.index->Query(h, {}, 0, query, s.active_ids, &limits);
      }
      s.active = s.active_ids.data();
      s.m = s.active_ids.size();
    } else {
      s.active = all_neurons_.data();
      s.m = n;
    }
    s.pre.resize(s.m);
    dispatch::RowGatherDot()(L.w.w.data(), L.w.stride, s.active, s.m, h,
                             L.input_dim, s.pre.data());
    const float* bias = L.b.w.data();
    for (size_t j = 0; j < s.m; ++j) s.pre[j] += bias[s.active[j]];
  }
  if (last) return;
  // A hidden layer's output as a dense vector for the next layer.
  const bool relu = L.config.activation == Activation::kRelu;
  if (s.active == all_neurons_.data()) {  // dense: active is 0..n-1
    s.out.resize(n);
    if (relu) {
      dispatch::Relu()(s.pre.data(), s.out.data(), n);
    } else {
      std::copy_n(s.pre.data(), n, s.out.data());
    }
  } else {
    s.out.assign(n, 0.0f);
    for (size_t j = 0; j < s.m; ++j) {
      s.out[s.active[j]] = relu ? std::max(s.pre[j], 0.0f) : s.pre[j];
    }
  }
}

void Model::Forward(const SparseRow& x, Mode mode, uint64_t pad_seed,
                    Activations& a) const {
  Forward(x, mode, pad_seed, a, a.query);
}

void Model::Forward(const SparseRow& x, Mode mode, uint64_t pad_seed,
                    Activations& a, QueryScratches& query) const {
  ForwardLayers(x, mode, pad_seed, a, query, layers_.size());
}

void Model::ForwardLayers(const SparseRow& x, Mode mode, uint64_t pad_seed,
                          Activations& a, QueryScratches& query,
                          size_t num_layers) const {
  a.layers.resize(layers_.size());
  query.resize(layers_.size());
  for (size_t l = 0; l < std::min(num_layers, layers_.size()); ++l) {
    ComputeLayer(l, x, mode, pad_seed, a, query[l]);
  }
}

void Model::Predict(const SparseRow& x, size_t k, bool exact, Activations& a,
                    std::vector<uint32_t>& labels,
                    std::vector<float>& scores) const {
  if (!memory_.empty() && memory_.blend() >= 1.0f) {  // the memory alone
    a.layers.clear();  // no layer computed
    memory_.Query(x, k, a.memory, labels, scores);
    return;
  }
  Forward(x, exact ? Mode::kExact : Mode::kInference, 0, a);
  LayerState& o = a.layers.back();
  if (o.m < k && o.m < output().config.width) {
    ComputeLayer(layers_.size() - 1, x, Mode::kExact, 0, a, a.query.back());
  }
  const uint32_t first = uint32_t(config_.output_shard.first);
  const float blend = memory_.empty() ? 0.0f : memory_.blend();
  if (blend > 0) {
    LabelMemory::Scratch& s = a.memory;
    s.Reserve(output_dim());
    if (blend < 1) {
      const bool softmax = output().config.activation == Activation::kSoftmax;
      const float top = o.m ? *std::max_element(o.pre.begin(), o.pre.begin() + o.m) : 0.0f;
      double z = 0;
      for (size_t j = 0; j < o.m && softmax; ++j) z += std::exp(double(o.pre[j] - top));
      const float w = 1.0f - blend;
      for (size_t j = 0; j < o.m; ++j) {
        const float p = softmax ? float(std::exp(double(o.pre[j] - top)) / z)
                                : 1.0f / (1.0f + std::exp(-o.pre[j]));
        s.Add(o.active[j] + first, w * p);
      }
    }
    memory_.Accumulate(x, blend, s);
    s.TopTouched(k, labels, scores);
    return;
  }
  const size_t kk = std::min(k, o.m);
  labels.resize(kk);
  scores.resize(kk);
  dispatch::TopK()(o.pre.data(), o.m, kk, labels.data(), scores.data());
  for (auto& l : labels) l = o.active[l] + first;
}

void Model::set_label_memory(LabelMemory m) {
  if (!m.empty() && (m.input_dim() != input_dim() || m.num_labels() != output_dim())) {
    throw std::invalid_argument("label memory of " + std::to_string(m.input_dim()) + " x " +
                                std::to_string(m.num_labels()) + " for a model of " +
                                std::to_string(input_dim()) + " x " +
                                std::to_string(output_dim()));
  }
  memory_ = std::move(m);
}

}  // namespace frugal::nn
