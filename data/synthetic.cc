#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/hash_id.h"

namespace frugal::nn {
namespace {

// A power-law rank in [0, n): P(r) ~ 1 / (r + offset), by inverting the CDF
// of the continuous distribution. offset > 0 flattens the head.
size_t PowerLawRank(double u, size_t n, double offset) {
  const double r = offset * std::exp(u * std::log((double(n) + offset) / offset)) -
                   offset;
  return std::min(n - 1, size_t(r));
}

// A fixed permutation of [0, n): x -> (a x + b) mod n with gcd(a, n) = 1.
struct Permutation {
  // n < 2^31, so a * x fits in 64 bits.
  explicit Permutation(size_t size, uint64_t seed) : n(size) {
    a = (seed * 0x9e3779b97f4a7c15ull) % n | 1;
    while (std::gcd(a, uint64_t(n)) != 1) a += 2;
    b = (seed * 0xc2b2ae3d27d4eb4full) % n;
  }
  size_t operator()(size_t x) const { return size_t((a * x % n + b) % n); }
  size_t n;
  uint64_t a, b;
};

}  // namespace

SparseDataset GenerateSynthetic(const SyntheticConfig& c, size_t first,
                                size_t count) {
  if (c.num_features == 0 || c.num_labels == 0 || c.topic_size == 0 ||
      c.group_size == 0 || c.mean_labels < 1 || c.mean_nonzeros < 1 ||
      c.noise < 0 || c.noise > 1 || !(c.label_offset > 0) ||
      c.shared_topic < 0 || c.shared_topic > 1 || c.label_correlation < 0 ||
      c.label_correlation > 1 || c.num_features >= (size_t{1} << 31) ||
      c.num_labels >= (size_t{1} << 31)) {
    throw std::invalid_argument("SyntheticConfig: invalid settings");
  }
  const Permutation label_order(c.num_labels, c.seed + 1);
  const Permutation feature_order(c.num_features, c.seed + 2);
  SparseDataset data(c.num_features, c.num_labels);
  std::vector<uint32_t> labels, idx;
  std::vector<float> val;
  std::vector<uint32_t> feats;
  for (size_t s = first; s < first + count; ++s) {
    std::mt19937_64 rng(HashId(uint32_t(s), uint32_t(c.seed)) ^
                        (uint64_t(s) << 32) ^ c.seed);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    std::poisson_distribution<int> extra_labels(c.mean_labels - 1);
    std::poisson_distribution<int> nnz_dist(c.mean_nonzeros);

    labels.clear();
    const size_t num_labels = 1 + size_t(extra_labels(rng));
    const size_t anchor = label_order(PowerLawRank(uni(rng), c.num_labels, c.label_offset));
    labels.push_back(uint32_t(anchor));
    // Distinct labels: draw until num_labels are in (bounded).
    for (size_t draws = 0; labels.size() < num_labels && draws < 8 * num_labels;
         ++draws) {
      size_t l;
      if (uni(rng) < c.label_correlation) {
        const size_t group = anchor / c.group_size;
        l = std::min(c.num_labels - 1,
                     group * c.group_size + size_t(rng() % c.group_size));
      } else {
        l = label_order(PowerLawRank(uni(rng), c.num_labels, c.label_offset));
      }
      if (std::find(labels.begin(), labels.end(), uint32_t(l)) == labels.end()) {
        labels.push_back(uint32_t(l));
      }
    }

    // Distinct non-zeros: draw until `nnz` different features are in.
    feats.clear();
    const size_t nnz = std::max<size_t>(1, size_t(nnz_dist(rng)));
    for (size_t draws = 0; feats.size() < nnz && draws < 8 * nnz; ++draws) {
      uint32_t f;
      if (uni(rng) < c.noise) {
        f = uint32_t(rng() % c.num_features);
      } else {
        // A topic feature of one of the sample's labels: of the label's own
        // topic, or of the topic its group shares.
        const uint32_t l = labels[rng() % labels.size()];
        const bool shared = uni(rng) < c.shared_topic;
        const uint32_t owner =
            shared ? uint32_t(c.num_labels + l / c.group_size) : l;
        const uint32_t t = uint32_t(rng() % c.topic_size);
        const uint32_t h = HashId(owner * uint32_t(c.topic_size) + t,
                                  uint32_t(c.seed) ^ 0x5bd1e995u);
        f = uint32_t(feature_order(
            PowerLawRank(double(h) / 4294967296.0, c.num_features, 1.0)));
      }
      if (std::find(feats.begin(), feats.end(), f) == feats.end()) {
        feats.push_back(f);
      }
    }
    std::sort(feats.begin(), feats.end());
    idx.assign(feats.begin(), feats.end());
    val.assign(feats.size(), 1.0f);
    data.Add(idx, val, labels);
  }
  return data;
}

}  // namespace frugal::nn
