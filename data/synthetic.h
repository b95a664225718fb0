// A learnable synthetic extreme-classification data set with the shape of
// Amazon-670K (135,909 features, 670,091 labels, ~76 non-zeros and ~5.4
// labels per sample, power-law label frequencies).
//
// Generator: label frequencies follow a power law, 1 / (rank + offset), over
// a fixed random order of the labels. Labels come in groups of `group_size` related labels; a
// sample's first label is drawn by frequency, each further label is from the
// same group with probability `label_correlation`, else by frequency. Every
// label owns `topic_size` features and each group a shared topic of as many
// (a hash picks them, Zipf-skewed towards common features); a sample takes
// (1 - noise) of its distinct non-zeros from its labels' topics (the group's
// with probability shared_topic) and the rest uniformly at random. So a
// model can learn labels from features, up to the noise and the overlap of
// topics: realistic precision, not 0.99.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace frugal::nn {

struct SyntheticConfig {
  size_t num_features = 135909;
  size_t num_labels = 670091;
  double mean_nonzeros = 76;
  double mean_labels = 5.4;
  size_t topic_size = 24;
  size_t group_size = 8;
  double label_correlation = 0.5;
  double noise = 0.35;
  double label_offset = 100;  // label frequency ~ 1 / (rank + label_offset)
  double shared_topic = 0.5;  // share of topic features from the group's topic
  uint64_t seed = 1;
};

// Samples [first, first + count) of the stream defined by config (each
// sample depends only on its index and the seed, so train and test sets are
// disjoint ranges of one stream).
SparseDataset GenerateSynthetic(const SyntheticConfig& config, size_t first,
                                size_t count);

}  // namespace frugal::nn
