// The synthetic clustered benchmark shared by tests/lsh_test.cc and
// bench/lsh_bench.cc, and its recall measure.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "dispatch/ops.h"
#include "kernels/types.h"
#include "lsh/neuron_index.h"

namespace frugal::lsh {

inline std::vector<float> Gaussian(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

inline void Normalize(std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  const float inv = float(1.0 / std::sqrt(s));
  for (float& x : v) x *= inv;
}

// The synthetic clustered benchmark. Generator: `clusters` centres drawn
// N(0, I) in `dim` dimensions and normalised; each neuron is a centre plus
// N(0, noise^2 / dim) per coordinate, normalised (so inner product = cosine);
// each query is a random centre plus the same noise. Ground truth: exact top
// 10 inner products over all neurons.
struct Clustered {
  size_t n, dim;
  std::vector<float> w;  // n x dim
  std::vector<std::vector<float>> queries;

  Clustered(size_t n_, size_t dim_, size_t clusters, float noise,
            size_t num_queries, uint32_t seed)
      : n(n_), dim(dim_), w(n_ * dim_) {
    std::mt19937 rng(seed);
    std::vector<std::vector<float>> centres(clusters);
    for (auto& c : centres) {
      c = Gaussian(dim, rng);
      Normalize(c);
    }
    std::normal_distribution<float> g(0.0f, noise / std::sqrt(float(dim)));
    std::uniform_int_distribution<size_t> pick(0, clusters - 1);
    auto sample = [&](const std::vector<float>& c) {
      std::vector<float> v(dim);
      for (size_t d = 0; d < dim; ++d) v[d] = c[d] + g(rng);
      Normalize(v);
      return v;
    };
    for (size_t i = 0; i < n; ++i) {
      const auto v = sample(centres[i % clusters]);
      std::copy(v.begin(), v.end(), w.begin() + i * dim);
    }
    for (size_t q = 0; q < num_queries; ++q) {
      queries.push_back(sample(centres[pick(rng)]));
    }
  }

  MatrixView<const float> view() const {
    return MatrixView<const float>(w.data(), n, dim);
  }

  std::vector<uint32_t> TopExact(const std::vector<float>& q, size_t k) const {
    std::vector<std::pair<float, uint32_t>> s(n);
    for (size_t i = 0; i < n; ++i) {
      const float dot = ops::Dot(Span<const float>(w.data() + i * dim, dim),
                                 Span<const float>(q.data(), dim));
      s[i] = {-dot, uint32_t(i)};
    }
    std::partial_sort(s.begin(), s.begin() + k, s.end());
    std::vector<uint32_t> out(k);
    for (size_t j = 0; j < k; ++j) out[j] = s[j].second;
    return out;
  }
};

// Fraction of the exact top-10 neurons of each query found in its active
// set; *max_active_seen gets the largest active set.
inline double Recall(const NeuronIndex& index, const Clustered& data,
                     size_t* max_active_seen) {
  QueryScratch scratch(data.n);
  std::vector<uint32_t> active;
  size_t found = 0, wanted = 0;
  *max_active_seen = 0;
  for (const auto& q : data.queries) {
    index.Query(q.data(), {}, 0, scratch, active);
    *max_active_seen = std::max(*max_active_seen, active.size());
    std::set<uint32_t> got(active.begin(), active.end());
    for (uint32_t id : data.TopExact(q, 10)) {
      found += got.count(id);
      ++wanted;
    }
  }
  return double(found) / double(wanted);
}

}  // namespace frugal::lsh
