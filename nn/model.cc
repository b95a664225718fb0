#include "nn/model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "dispatch/registry.h"

namespace frugal::nn {
namespace {

// Rows padded to 64 bytes; a single column (a bias) is not padded.
size_t PaddedStride(size_t cols) { return cols == 1 ? 1 : (cols + 15) / 16 * 16; }

}  // namespace

ModelConfig AutoConfig(size_t input_dim, size_t output_dim, size_t hidden_dim,
                       float output_sparsity) {
  if (!(output_sparsity >= 0.0f && output_sparsity <= 1.0f)) {
    throw std::invalid_argument("AutoConfig: output_sparsity must be in [0, 1]");
  }
  ModelConfig c;
  c.input_dim = input_dim;
  c.output_dim = output_dim;
  c.hidden_dim = hidden_dim;
  size_t active;
  if (output_sparsity == 0.0f) {
    if (output_dim <= 4096) return c;  // dense output
    // ~0.5% of the layer, at least 2,000 and at most 4,000 neurons.
    active = size_t(std::clamp(0.005 * double(output_dim), 2000.0, 4000.0));
  } else if (output_sparsity == 1.0f) {
    return c;
  } else {
    active = std::max<size_t>(
        1, size_t(double(output_sparsity) * double(output_dim)));
  }
  c.output_sparsity = float(double(active) / double(output_dim));
  c.lsh.hash.kind = lsh::HashKind::kDwta;
  c.lsh.hash.bin_size = 8;
  // ~160 neurons per bucket: 4 winners x 3 bits for 670K, fewer bits below.
  c.lsh.hash.k = output_dim >= 300000 ? 4 : 3;
  c.lsh.hash.l = 40;
  c.lsh.range_bits = 16;
  c.lsh.bucket_capacity = 256;
  c.lsh.selection = lsh::Selection::kFrequency;
  c.lsh.max_active = active;
  c.lsh.min_active = active;
  // Rehash every 10 batches at first, then less often (SLIDE rebuilds every
  // ~25 batches of 256); training touches most output rows between rehashes.
  c.lsh.rehash_every = 10;
  c.lsh.rehash_growth = 1.1f;
  c.lsh.rehash_max_interval = 50;
  return c;
}

void ParamBlock::Init(size_t r, size_t c, float scale, uint64_t seed) {
  rows = r;
  cols = c;
  stride = PaddedStride(c);
  w.assign(rows * stride, 0.0f);
  m.assign(rows * stride, 0.0f);
  v.assign(rows * stride, 0.0f);
  g.assign(rows * stride, 0.0f);
  if (scale > 0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    for (size_t i = 0; i < rows; ++i) {
      for (size_t j = 0; j < cols; ++j) w[i * stride + j] = dist(rng);
    }
  }
}

Model::Model(const ModelConfig& config, bool initialize) : config_(config) {
  if (config.input_dim == 0 || config.hidden_dim == 0 ||
      config.output_dim == 0) {
    throw std::invalid_argument(
        "ModelConfig: input_dim, hidden_dim and output_dim must be positive");
  }
  if (config.input_dim > (size_t{1} << 31) ||
      config.output_dim > (size_t{1} << 31) || config.hidden_dim > 65536) {
    throw std::invalid_argument("ModelConfig: dimensions too large");
  }
  if (!(config.output_sparsity > 0.0f && config.output_sparsity <= 1.0f)) {
    throw std::invalid_argument("ModelConfig: output_sparsity must be in (0, 1]");
  }
  const size_t h = config.hidden_dim;
  const float in_scale =
      initialize ? std::sqrt(2.0f / float(config.input_dim + h)) : 0.0f;
  const float out_scale =
      initialize ? std::sqrt(2.0f / float(config.output_dim + h)) : 0.0f;
  w_in_.Init(config.input_dim, h, in_scale, config.seed);
  b_in_.Init(1, h, 0.0f, 0);
  w_out_.Init(config.output_dim, h, out_scale,
              config.seed * 0x9e3779b97f4a7c15ull + 1);
  b_out_.Init(config.output_dim, 1, 0.0f, 0);
  if (sparse_output()) {
    lsh::IndexConfig ic = config.lsh;
    if (ic.max_active == 0) ic.max_active = active_size();
    if (ic.min_active == 0) ic.min_active = active_size();
    config_.lsh = ic;
    index_ = std::make_unique<lsh::NeuronIndex>(ic, config.output_dim, h);
    inference_active_ = std::min(config.output_dim, 2 * ic.max_active);
    if (initialize) RebuildIndex();
  }
}

size_t Model::active_size() const {
  if (!sparse_output()) return config_.output_dim;
  // Rounded, so a sparsity of n / output_dim gives back exactly n.
  return std::max<size_t>(1, size_t(std::lround(double(config_.output_sparsity) *
                                                double(config_.output_dim))));
}

void Model::RebuildIndex() {
  if (index_) index_->Build(w_out_.W());
}

void Model::Hidden(const SparseRow& x, float* hidden, float* pre) const {
  const size_t h = config_.hidden_dim;
  float* acc = pre ? pre : hidden;
  std::copy_n(b_in_.w.data(), h, acc);
  dispatch::RowAccumulate()(w_in_.w.data(), w_in_.stride, x.idx.data(),
                            x.val.data(), x.idx.size(), acc, h);
  dispatch::Relu()(acc, hidden, h);
}

void Model::Predict(const SparseRow& x, size_t k, bool exact, Scratch& s,
                    std::vector<uint32_t>& labels,
                    std::vector<float>& scores) const {
  const size_t h = config_.hidden_dim, n = config_.output_dim;
  s.hidden.resize(h);
  Hidden(x, s.hidden.data());
  if (exact || !index_) {
    s.active.resize(n);
    std::iota(s.active.begin(), s.active.end(), 0u);
  } else {
    const lsh::NeuronIndex::Limits limits{inference_active_, 0};
    index_->Query(s.hidden.data(), {}, 0, s.query, s.active, &limits);
    if (s.active.size() < k) {
      s.active.resize(n);
      std::iota(s.active.begin(), s.active.end(), 0u);
    }
  }
  const size_t m = s.active.size();
  s.logits.resize(m);
  dispatch::RowGatherDot()(w_out_.w.data(), w_out_.stride, s.active.data(), m,
                           s.hidden.data(), h, s.logits.data());
  for (size_t j = 0; j < m; ++j) s.logits[j] += b_out_.w[s.active[j]];
  const size_t kk = std::min(k, m);
  labels.resize(kk);
  scores.resize(kk);
  dispatch::TopK()(s.logits.data(), m, kk, labels.data(), scores.data());
  for (auto& l : labels) l = s.active[l];
}

}  // namespace frugal::nn
