// Learnable synthetic extreme-classification data sets with the shape of
// Amazon-670K (135,909 features, 670,091 labels, ~76 non-zeros and ~5.45
// labels per row). Two label models:
//
// Steep (SyntheticConfig, GenerateSynthetic; `frugal generate --tail steep`,
// the default): label frequencies follow a power law, 1 / (rank + offset),
// over a fixed random order of the labels. Labels come in groups of
// `group_size` related labels; a row's first label is drawn by frequency,
// each further label is from the same group with probability
// `label_correlation`, else by frequency. Every label owns `topic_size`
// features and each group a shared topic of as many (a hash picks them,
// Zipf-skewed towards common features); a row takes (1 - noise) of its
// distinct non-zeros from its labels' topics (the group's with probability
// shared_topic) and the rest uniformly at random; every value is 1. Its head
// is steep: the most frequent labels take most of the label mass.
//
// Realistic (RealisticConfig, RealisticGenerator; `--tail realistic`):
// modelled on the published Amazon-670K statistics (5.45 labels per row,
// 3.99 training rows per label on average over 490,449 rows, most labels
// seen 1-5 times, a few frequent; 75.7 non-zeros per row).
//   Labels. Each label has a weight w = (r + 1)^-label_exponent, r a random
//   rank in [0, L). Labels are partitioned into clusters (related products)
//   of sizes uniform in [cluster_min, cluster_max]. A row draws an anchor
//   label by weight (so its cluster with probability proportional to the
//   cluster's total weight), then Poisson(mean_labels - 1) more distinct
//   labels of the same cluster by weight (capped at the cluster's size).
//   Features. A background Zipf law 1 / (rank + 10) over a random order of
//   the features stands for common words. Every label owns
//   `label_features` features (uniform over the vocabulary, so mostly rare
//   words) and every cluster a vocabulary of `cluster_features` features
//   (moderately common words: ranks ~ 1 / (rank + 200); Zipf-weighted
//   inside the cluster). A row has n ~ LogNormal(mean mean_nonzeros, sigma
//   nonzeros_sigma) distinct features: label_share of them from its labels'
//   own features, cluster_share from its cluster's vocabulary, the rest
//   (noise) from the background law; a pool that runs dry hands its
//   remainder to the next. Values are tf-idf, (1 + ln tf) *
//   (1 + ln(1 + background_rank / 50)) with tf counting repeated draws of a
//   feature, L2-normalised per row: background words weigh least.
//   Measured with the defaults at 490,449 rows: 5.44 labels and 75.7
//   non-zeros (median 67, 5-95% 29-152) per row; 3.98 rows per label, 94%
//   of the labels seen, 78% of those in 1-5 rows, 21% in 6-20, 101 labels
//   in over 100 rows (the most frequent in 867). An exact 10-NN cosine vote
//   trained on 200K rows reaches P@1 ~0.5 (bench/RESULTS.md), as on the
//   real data; the defaults were tuned for that.
//
// Both: row i depends only on (seed, i), so any range of rows can be made
// on its own, and train and test sets are disjoint ranges of one stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// Rows [first, first + count) of the steep stream defined by config.
SparseDataset GenerateSynthetic(const SyntheticConfig& config, size_t first,
                                size_t count);

struct RealisticConfig {
  size_t num_features = 135909;  // < 2^31
  size_t num_labels = 670091;    // < 2^31
  double mean_labels = 5.45;     // >= 1
  double mean_nonzeros = 75.7;   // >= 1
  double nonzeros_sigma = 0.5;   // sigma of ln(non-zeros)
  double label_exponent = 0.6;   // label weight (rank + 1)^-label_exponent
  size_t cluster_min = 8;        // labels per cluster, 1 <= min <= max
  size_t cluster_max = 40;
  size_t label_features = 30;    // features owned by each label, >= 1
  size_t cluster_features = 80;  // vocabulary of each cluster, >= 1
  double label_share = 0.10;     // shares of a row's non-zeros, each in [0, 1],
  double cluster_share = 0.20;   // label_share + cluster_share <= 1; the
                                 // rest (0.7) is background noise
  uint64_t seed = 1;
};

// One generated row; buffers are reused from call to call.
struct GeneratedRow {
  std::vector<uint32_t> labels;  // distinct, in draw order (anchor first)
  std::vector<uint32_t> idx;     // distinct, ascending
  std::vector<float> val;        // same length as idx, L2 norm 1
};

// The realistic model. Construction builds O(num_labels + num_features)
// tables (~25 bytes per label); Row() is then const and thread-safe.
class RealisticGenerator {
 public:
  // Throws std::invalid_argument on settings outside the documented ranges.
  explicit RealisticGenerator(const RealisticConfig& config);

  const RealisticConfig& config() const { return c_; }
  // Row i of the stream (depends only on config and i).
  void Row(size_t i, GeneratedRow& row) const;
  // Rows [first, first + count) in memory.
  SparseDataset Generate(size_t first, size_t count) const;

 private:
  size_t ClusterOf(size_t position) const;

  RealisticConfig c_;
  std::vector<uint32_t> label_at_;         // position -> label id
  std::vector<double> cum_weight_;         // prefix sums of weights by position
  std::vector<uint32_t> cluster_start_;    // first position of each cluster,
                                           // plus num_labels at the end
  std::vector<uint32_t> feature_at_rank_;  // background rank -> feature
  std::vector<float> idf_;                 // feature -> idf weight
};

// Throughput of a streaming write.
struct WriteStats {
  size_t rows = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

// Writes rows [first, first + count) in XC format (header "count D L", then
// "l1,l2 f:v ..."; values with 6 significant digits, as WriteXcFile's %g)
// while they are generated: row_fn(i, row) must fill row i and be safe to
// call from several threads at once. Memory is bounded (blocks of rows
// formatted in parallel, written through a buffer of a few MB) whatever the
// count. Throws DataError if the file cannot be written.
WriteStats WriteGeneratedXc(
    const std::string& path, size_t num_features, size_t num_labels,
    size_t first, size_t count,
    const std::function<void(size_t, GeneratedRow&)>& row_fn);

// Row i of the steep stream (what GenerateSynthetic(config, i, 1) holds).
void SteepRow(const SyntheticConfig& config, size_t i, GeneratedRow& row);

}  // namespace frugal::nn
