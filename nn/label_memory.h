// A memory of every label's training rows in the input space, for labels
// seen too few times for an output neuron to learn them (extreme
// classification: most of Amazon-670K's labels have 1-5 training rows).
//
// A label's entry is the centroid of its rows' L2-normalised feature
// vectors (as PECOS's PIFA label embeddings), truncated to its `top_k`
// largest values and scaled to unit length. Query scores every label that
// shares a feature with x by the cosine of x and its entry, through a
// feature-major (inverted) copy: the work is the summed posting lengths of
// x's features. Model::Predict blends these cosines with the network's
// probabilities (model.h, LabelMemory::blend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace frugal::nn {

class LabelMemory {
 public:
  // Per-thread working memory of Query: a score per label and the labels
  // touched since the last TopTouched (scores and marks are zero between
  // queries).
  struct Scratch {
    std::vector<float> score;
    std::vector<uint8_t> mark;
    std::vector<uint32_t> touched;
    // Sizes the scratch for `labels` labels (no-op once sized).
    void Reserve(size_t labels) {
      if (score.size() < labels) {
        score.resize(labels, 0.0f);
        mark.resize(labels, 0);
      }
    }
    // Adds v to the label's score. Precondition: Reserve(> label).
    void Add(uint32_t label, float v) {
      if (!mark[label]) {
        mark[label] = 1;
        touched.push_back(label);
      }
      score[label] += v;
    }
    // The k best touched labels, best first; resets the scratch.
    void TopTouched(size_t k, std::vector<uint32_t>& labels, std::vector<float>& out);
  };

  LabelMemory() = default;
  // From `rows` (labels < num_labels, features < input_dim), keeping each
  // label's top_k >= 1 largest centroid values, then each feature's
  // max_postings >= 1 largest entries (a query's cost is bounded by its
  // features x max_postings; the entries dropped are the small weights of
  // words common to many labels); threads 0: all cores. Labels without
  // rows have no entry.
  static LabelMemory Build(const SparseDataset& rows, size_t num_labels, size_t input_dim,
                           size_t top_k, size_t max_postings, size_t threads);
  // From stored arrays (model files): ptr has input_dim + 1 non-decreasing
  // offsets ending at labels.size() == weights.size(), labels <
  // num_labels, weights finite. Throws std::invalid_argument otherwise.
  static LabelMemory FromArrays(size_t num_labels, uint32_t top_k, float blend,
                                std::vector<uint64_t> ptr, std::vector<uint32_t> labels,
                                std::vector<float> weights);

  bool empty() const { return labels_.empty(); }
  size_t num_labels() const { return num_labels_; }
  size_t input_dim() const { return ptr_.empty() ? 0 : ptr_.size() - 1; }
  uint32_t top_k() const { return top_k_; }
  size_t entries() const { return labels_.size(); }
  size_t bytes() const {
    return ptr_.size() * sizeof(uint64_t) + labels_.size() * (sizeof(uint32_t) + sizeof(float));
  }
  // The weight of the memory's cosine in a prediction's score, in [0, 1]:
  // score = (1 - blend) x network probability + blend x cosine.
  float blend() const { return blend_; }
  void set_blend(float b) { blend_ = b; }

  // Adds scale x (x's cosine) for every label sharing a feature with x to
  // s (Scratch::Add). Ids of x at or above input_dim are ignored.
  void Accumulate(const SparseRow& x, float scale, Scratch& s) const;
  // The k labels of highest cosine with x, best first (fewer when fewer
  // labels share a feature with x). Leaves s cleared.
  void Query(const SparseRow& x, size_t k, Scratch& s, std::vector<uint32_t>& labels,
             std::vector<float>& scores) const;

  const std::vector<uint64_t>& ptr() const { return ptr_; }
  const std::vector<uint32_t>& labels() const { return labels_; }
  const std::vector<float>& weights() const { return weights_; }

 private:
  size_t num_labels_ = 0;
  uint32_t top_k_ = 0;
  float blend_ = 0;
  std::vector<uint64_t> ptr_;      // per feature, its first entry
  std::vector<uint32_t> labels_;   // per entry, feature-major
  std::vector<float> weights_;     // per entry: the centroid's value
};

}  // namespace frugal::nn
