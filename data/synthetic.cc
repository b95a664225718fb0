#include "data/synthetic.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/hash_id.h"

namespace frugal::nn {
namespace {

// A power-law rank in [0, n): P(r) ~ 1 / (r + offset), by inverting the CDF
// of the continuous distribution; u in [0, 1). offset > 0 flattens the head.
size_t PowerLawRank(double u, size_t n, double offset) {
  const double r =
      offset * std::exp(u * std::log((double(n) + offset) / offset)) - offset;
  return std::min(n - 1, size_t(r));
}

// PowerLawRank(u, n, offset) with the logarithm computed once (the same
// results, bit for bit).
class PowerLaw {
 public:
  PowerLaw(size_t n, double offset)
      : n_(n), offset_(offset), log_(std::log((double(n) + offset) / offset)) {}
  size_t operator()(double u) const {
    const double r = offset_ * std::exp(u * log_) - offset_;
    return std::min(n_ - 1, size_t(r));
  }

 private:
  size_t n_;
  double offset_, log_;
};

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

// The SplitMix64 finalizer: a bijection on 64 bits.
constexpr uint64_t Mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// SplitMix64: a small, fast generator whose output is the same on every
// platform (unlike std:: distributions, all sampling below is our own).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ull); }
  // Uniform in [0, 1).
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n >= 1 (the modulo bias is below 2^-32 for n < 2^32).
  size_t Below(size_t n) { return size_t(Next() % n); }
  // Poisson(mean) by multiplying uniforms (Knuth); for small means only.
  size_t Poisson(double mean) {
    const double limit = std::exp(-mean);
    double p = 1;
    size_t k = 0;
    while ((p *= Uniform()) > limit && k < 1000) ++k;
    return k;
  }
  // A standard normal (Box-Muller).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// A uniformly random permutation of [0, n) (Fisher-Yates).
std::vector<uint32_t> RandomPermutation(size_t n, Rng& rng) {
  std::vector<uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.Below(i)]);
  return p;
}

// A row's distinct features with their draw counts (tf), in first-draw
// order, with an open-addressing index for the membership test.
class FeatureCounter {
 public:
  // Empties the counter for a row of at most max_distinct features.
  void Reset(size_t max_distinct) {
    items.clear();
    size_t cap = 64;
    bits_ = 6;
    while (cap < 2 * max_distinct + 2) {
      cap *= 2;
      ++bits_;
    }
    slots_.assign(cap, 0);
  }
  // Counts one draw of f; true if f is new.
  bool Add(uint32_t f) {
    const size_t mask = slots_.size() - 1;
    for (size_t s = (f * 0x9e3779b1u) >> (32 - bits_);; s = (s + 1) & mask) {
      const uint32_t j = slots_[s];
      if (j == 0) {
        items.emplace_back(f, 1);
        slots_[s] = uint32_t(items.size());
        return true;
      }
      if (items[j - 1].first == f) {
        ++items[j - 1].second;
        return false;
      }
    }
  }
  size_t size() const { return items.size(); }

  std::vector<std::pair<uint32_t, uint32_t>> items;  // (feature, count)

 private:
  std::vector<uint32_t> slots_;  // 1 + index into items, 0 = empty
  int bits_ = 6;
};

}  // namespace

void SteepRow(const SyntheticConfig& c, size_t s, GeneratedRow& row) {
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
  std::vector<uint32_t>& labels = row.labels;
  std::vector<uint32_t>& feats = row.idx;
  std::mt19937_64 rng(HashId(uint32_t(s), uint32_t(c.seed)) ^
                      (uint64_t(s) << 32) ^ c.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::poisson_distribution<int> extra_labels(c.mean_labels - 1);
  std::poisson_distribution<int> nnz_dist(c.mean_nonzeros);

  labels.clear();
  const size_t num_labels = 1 + size_t(extra_labels(rng));
  const size_t anchor =
      label_order(PowerLawRank(uni(rng), c.num_labels, c.label_offset));
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
      // A topic feature of one of the row's labels: of the label's own
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
  row.val.assign(feats.size(), 1.0f);
}

SparseDataset GenerateSynthetic(const SyntheticConfig& c, size_t first,
                                size_t count) {
  SparseDataset data(c.num_features, c.num_labels);
  GeneratedRow row;
  for (size_t s = first; s < first + count; ++s) {
    SteepRow(c, s, row);
    data.Add(row.idx, row.val, row.labels);
  }
  return data;
}

// ---------------------------------------------------------------------------
// The realistic model (see synthetic.h).

RealisticGenerator::RealisticGenerator(const RealisticConfig& c) : c_(c) {
  auto share_ok = [](double x) { return x >= 0 && x <= 1; };
  if (c.num_features == 0 || c.num_labels == 0 ||
      c.num_features >= (size_t{1} << 31) ||
      c.num_labels >= (size_t{1} << 31) || !(c.mean_labels >= 1) ||
      !(c.mean_labels < 100) || !(c.mean_nonzeros >= 1) ||
      !(c.nonzeros_sigma >= 0) || !(c.label_exponent >= 0) ||
      c.cluster_min == 0 || c.cluster_max < c.cluster_min ||
      c.label_features == 0 || c.cluster_features == 0 ||
      !share_ok(c.label_share) || !share_ok(c.cluster_share) ||
      c.label_share + c.cluster_share > 1 + 1e-9) {
    throw std::invalid_argument("RealisticConfig: invalid settings");
  }
  Rng rng(Mix64(c.seed ^ 0x6a09e667f3bcc909ull));
  const size_t L = c.num_labels, F = c.num_features;
  // Positions group the labels by cluster; which label sits at a position,
  // and how frequent it is, are independent random draws.
  label_at_ = RandomPermutation(L, rng);
  const std::vector<uint32_t> rank = RandomPermutation(L, rng);
  cum_weight_.resize(L);
  double sum = 0;
  for (size_t p = 0; p < L; ++p) {
    sum += std::pow(double(rank[p]) + 1.0, -c.label_exponent);
    cum_weight_[p] = sum;
  }
  for (size_t p = 0; p < L;) {
    cluster_start_.push_back(uint32_t(p));
    p += c.cluster_min + rng.Below(c.cluster_max - c.cluster_min + 1);
  }
  cluster_start_.push_back(uint32_t(L));
  feature_at_rank_ = RandomPermutation(F, rng);
  idf_.resize(F);
  for (size_t r = 0; r < F; ++r) {
    idf_[feature_at_rank_[r]] = float(1.0 + std::log1p(double(r) / 50.0));
  }
}

size_t RealisticGenerator::ClusterOf(size_t position) const {
  return size_t(std::upper_bound(cluster_start_.begin(), cluster_start_.end(),
                                 uint32_t(position)) -
                cluster_start_.begin()) -
         1;
}

void RealisticGenerator::Row(size_t i, GeneratedRow& row) const {
  const RealisticConfig& c = c_;
  Rng rng(Mix64(Mix64(c.seed) ^ (uint64_t(i) * 0x9e3779b97f4a7c15ull + 1)));

  // Labels: an anchor by weight, then more of its cluster by weight.
  auto position_for = [&](double target, size_t lo, size_t hi) {
    const size_t p = size_t(std::upper_bound(cum_weight_.begin() + lo,
                                             cum_weight_.begin() + hi, target) -
                            cum_weight_.begin());
    return std::min(p, hi - 1);
  };
  const size_t anchor =
      position_for(rng.Uniform() * cum_weight_.back(), 0, c.num_labels);
  const size_t cluster = ClusterOf(anchor);
  const size_t lo = cluster_start_[cluster], hi = cluster_start_[cluster + 1];
  const size_t k = std::min(hi - lo, 1 + rng.Poisson(c.mean_labels - 1));
  const double w_lo = lo ? cum_weight_[lo - 1] : 0.0;
  const double w_hi = cum_weight_[hi - 1];
  row.labels.assign(1, label_at_[anchor]);
  for (size_t draws = 0; row.labels.size() < k && draws < 32 * k; ++draws) {
    const uint32_t l =
        label_at_[position_for(w_lo + rng.Uniform() * (w_hi - w_lo), lo, hi)];
    if (std::find(row.labels.begin(), row.labels.end(), l) ==
        row.labels.end()) {
      row.labels.push_back(l);
    }
  }

  // Features: label_share from the labels' own, cluster_share from the
  // cluster's vocabulary, the rest background; a pool that runs dry hands
  // its remainder on.
  const double sigma = c.nonzeros_sigma;
  const double mu = std::log(c.mean_nonzeros) - 0.5 * sigma * sigma;
  const size_t n = std::clamp<size_t>(
      size_t(std::exp(mu + sigma * rng.Normal()) + 0.5), 1, c.num_features);
  const size_t n_label = size_t(c.label_share * double(n) + 0.5);
  const size_t n_cluster =
      std::min(n - n_label, size_t(c.cluster_share * double(n) + 0.5));
  // A word of the cluster's vocabulary, Zipf-weighted within it; the
  // vocabulary's words are moderately common background words.
  const PowerLaw word_in_cluster(c.cluster_features, 3.0);
  const PowerLaw vocabulary_rank(c.num_features, 200.0);
  const PowerLaw background_rank(c.num_features, 10.0);
  auto cluster_word = [&](double u) {
    const size_t t = word_in_cluster(u);
    const uint64_t h =
        Mix64((uint64_t(cluster) << 20 ^ t) + c.seed * 0x100000001b3ull);
    return feature_at_rank_[vocabulary_rank(double(h >> 11) * 0x1.0p-53)];
  };
  thread_local FeatureCounter feats;
  feats.Reset(n);
  size_t want = n_label;
  for (size_t got = 0, draws = 0; got < want && draws < 4 * want + 8; ++draws) {
    const uint64_t l = row.labels[rng.Below(row.labels.size())];
    const uint64_t t = rng.Below(c.label_features);
    const uint64_t h = Mix64(l * 0x10000ull + t + (c.seed << 40));
    got += feats.Add(uint32_t(h % c.num_features));
  }
  want = std::min(n, n_label + n_cluster);
  for (size_t draws = 0; feats.size() < want && draws < 4 * n_cluster + 8;
       ++draws) {
    feats.Add(cluster_word(rng.Uniform()));
  }
  for (size_t draws = 0; feats.size() < n && draws < 16 * n + 16; ++draws) {
    feats.Add(feature_at_rank_[background_rank(rng.Uniform())]);
  }

  // tf-idf values, L2-normalised.
  std::sort(feats.items.begin(), feats.items.end());
  row.idx.resize(feats.size());
  row.val.resize(feats.size());
  double norm = 0;
  for (size_t j = 0; j < feats.size(); ++j) {
    const auto [f, tf] = feats.items[j];
    const double v = (1.0 + std::log(double(tf))) * double(idf_[f]);
    row.idx[j] = f;
    row.val[j] = float(v);
    norm += v * v;
  }
  const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (float& v : row.val) v = float(double(v) * scale);
}

SparseDataset RealisticGenerator::Generate(size_t first, size_t count) const {
  SparseDataset data(c_.num_features, c_.num_labels);
  GeneratedRow row;
  for (size_t i = first; i < first + count; ++i) {
    Row(i, row);
    data.Add(row.idx, row.val, row.labels);
  }
  return data;
}

// ---------------------------------------------------------------------------
// Streaming writer.

namespace {

// Appends row in XC format ("l1,l2 f:v f:v\n", values as %g) to out.
void AppendXcRow(const GeneratedRow& row, std::string& out) {
  char buf[64];
  for (size_t j = 0; j < row.labels.size(); ++j) {
    char* p = buf;
    if (j) *p++ = ',';
    p = std::to_chars(p, buf + sizeof(buf), row.labels[j]).ptr;
    out.append(buf, p);
  }
  for (size_t j = 0; j < row.idx.size(); ++j) {
    char* p = buf;
    *p++ = ' ';
    p = std::to_chars(p, buf + sizeof(buf), row.idx[j]).ptr;
    *p++ = ':';
    // %g: 6 significant digits, the shorter of fixed and scientific.
    p = std::to_chars(p, buf + sizeof(buf), row.val[j],
                      std::chars_format::general, 6)
            .ptr;
    out.append(buf, p);
  }
  out.push_back('\n');
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

WriteStats WriteGeneratedXc(
    const std::string& path, size_t num_features, size_t num_labels,
    size_t first, size_t count,
    const std::function<void(size_t, GeneratedRow&)>& row_fn) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "wb"));
  if (!f) throw DataError(path + ": cannot create: " + std::strerror(errno));
  auto fail = [&]() {
    throw DataError(path + ": write failed: " + std::strerror(errno));
  };
  WriteStats stats;
  const std::string header = std::to_string(count) + " " +
                             std::to_string(num_features) + " " +
                             std::to_string(num_labels) + "\n";
  if (std::fwrite(header.data(), 1, header.size(), f.get()) != header.size()) {
    fail();
  }
  stats.bytes = header.size();
  // Blocks of kChunks x kChunkRows rows: each chunk is generated and
  // formatted by one task into its own string (~0.8 MB at Amazon-670K's
  // shape), then the chunks go to the file in order.
  constexpr size_t kChunkRows = 1024, kChunks = 16;
  std::vector<std::string> chunks(kChunks);
  for (size_t block = 0; block < count; block += kChunkRows * kChunks) {
    const size_t rows = std::min(count - block, kChunkRows * kChunks);
    const size_t used = (rows + kChunkRows - 1) / kChunkRows;
    tbb::parallel_for(size_t{0}, used, [&](size_t ch) {
      GeneratedRow row;
      std::string& out = chunks[ch];
      out.clear();
      const size_t a = block + ch * kChunkRows;
      const size_t b = std::min(block + rows, a + kChunkRows);
      for (size_t r = a; r < b; ++r) {
        row_fn(first + r, row);
        AppendXcRow(row, out);
      }
    });
    for (size_t ch = 0; ch < used; ++ch) {
      if (std::fwrite(chunks[ch].data(), 1, chunks[ch].size(), f.get()) !=
          chunks[ch].size()) {
        fail();
      }
      stats.bytes += chunks[ch].size();
    }
    stats.rows += rows;
  }
  if (std::fflush(f.get()) != 0 || std::ferror(f.get())) fail();
  if (std::fclose(f.release()) != 0) fail();
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return stats;
}

}  // namespace frugal::nn
