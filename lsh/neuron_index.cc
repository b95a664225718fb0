#include "lsh/neuron_index.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/hash_id.h"

namespace frugal::lsh {
namespace {

uint32_t BucketBits(const IndexConfig& c, const HashFamily& f) {
  return std::min(f.code_bits(), c.range_bits);
}

void CheckIndexConfig(const IndexConfig& c) {
  if (c.range_bits == 0 || c.range_bits > 24) {
    throw std::invalid_argument("IndexConfig: range_bits " +
                                std::to_string(c.range_bits) +
                                " not in [1, 24]");
  }
  if (c.hash.l > 0xffff) {
    throw std::invalid_argument("IndexConfig: more than 65535 tables");
  }
}

std::unique_ptr<HashFamily> MakeFamily(const IndexConfig& c, size_t dim) {
  CheckIndexConfig(c);
  return MakeHashFamily(c.hash, dim);
}

}  // namespace

size_t IndexBytes(const IndexConfig& config, size_t num_neurons, size_t dim) {
  CheckIndexConfig(config);
  const uint32_t bits =
      std::min(CheckHashConfig(config.hash, dim), config.range_bits);
  // Tables: ids plus two counters per bucket; per neuron: its bucket in
  // every table and a changed bit. In double: the product of stored fields
  // can exceed 2^64.
  const double buckets = double(config.hash.l) * double(uint64_t{1} << bits);
  const double bytes =
      double(HashFamilyBytes(config.hash, dim)) +
      buckets * (double(config.bucket_capacity) + 2) * sizeof(uint32_t) +
      double(num_neurons) * (double(config.hash.l) * sizeof(uint32_t) + 1);
  return bytes >= 0x1p63 ? size_t{1} << 63 : size_t(bytes);
}

void QueryScratch::Resize(size_t num_neurons) {
  if (mark_.size() == num_neurons) return;
  mark_.assign(num_neurons, 0);
  epoch_ = 0;
}

NeuronIndex::NeuronIndex(const IndexConfig& config, size_t num_neurons,
                         size_t dim)
    : config_(config),
      num_neurons_(num_neurons),
      dim_(dim),
      family_(MakeFamily(config, dim)),
      bucket_bits_(BucketBits(config, *family_)),
      tables_(config.hash.l, bucket_bits_, config.bucket_capacity,
              config.replacement, config.hash.seed) {
  if (num_neurons == 0 || num_neurons > 0x7fffffffu) {
    throw std::invalid_argument("NeuronIndex: num_neurons " +
                                std::to_string(num_neurons) +
                                " not in [1, 2^31)");
  }
  if (config.rehash_every == 0 || !(config.rehash_growth >= 1.0f)) {
    throw std::invalid_argument(
        "IndexConfig: rehash_every must be > 0 and rehash_growth >= 1");
  }
  buckets_.assign(size_t{config.hash.l} * num_neurons, 0);
  changed_words_ = (num_neurons + 63) / 64;
  changed_.reset(new std::atomic<uint64_t>[changed_words_]);
  for (size_t i = 0; i < changed_words_; ++i) changed_[i].store(0);
  rehash_interval_ = config.rehash_every;
  next_rehash_ = config.rehash_every;
}

NeuronIndex::~NeuronIndex() = default;

uint32_t NeuronIndex::BucketOf(uint32_t table, uint32_t code) const {
  if (family_->code_bits() <= bucket_bits_) return code;
  return HashId(code, 0x9e3779b9u * (table + 1)) >> (32 - bucket_bits_);
}

void NeuronIndex::CheckWeights(MatrixView<const float> w) const {
  if (w.rows != num_neurons_ || w.cols != dim_ || w.stride < w.cols ||
      w.data == nullptr) {
    throw std::invalid_argument(
        "NeuronIndex: weights are " + std::to_string(w.rows) + "x" +
        std::to_string(w.cols) + " (stride " + std::to_string(w.stride) +
        "), index is for " + std::to_string(num_neurons_) + "x" +
        std::to_string(dim_));
  }
}

// buckets_out[t * count + j] = bucket of neuron ids[j] in table t.
void NeuronIndex::HashRows(MatrixView<const float> w, const uint32_t* ids,
                           size_t count, uint32_t* buckets_out) const {
  const uint32_t l = config_.hash.l;
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, count, 256),
      [&](const tbb::blocked_range<size_t>& r) {
        std::vector<uint32_t> codes(l);
        for (size_t j = r.begin(); j < r.end(); ++j) {
          const uint32_t id = ids ? ids[j] : uint32_t(j);
          family_->HashDense(w.row(id), codes.data());
          for (uint32_t t = 0; t < l; ++t) {
            buckets_out[size_t{t} * count + j] = BucketOf(t, codes[t]);
          }
        }
      });
}

void NeuronIndex::Build(MatrixView<const float> w) {
  CheckWeights(w);
  HashRows(w, nullptr, num_neurons_, buckets_.data());
  const size_t n = num_neurons_;
  tbb::parallel_for(uint32_t{0}, config_.hash.l, [&](uint32_t t) {
    tables_.ClearTable(t);
    const uint32_t* b = buckets_.data() + size_t{t} * n;
    for (size_t i = 0; i < n; ++i) tables_.Insert(t, b[i], uint32_t(i));
  });
  for (size_t i = 0; i < changed_words_; ++i) {
    changed_[i].store(0, std::memory_order_relaxed);
  }
}

void NeuronIndex::Query(const float* h, Span<const uint32_t> forced,
                        uint64_t pad_seed, QueryScratch& s,
                        std::vector<uint32_t>& active,
                        const Limits* limits) const {
  const size_t max_active = limits ? limits->max_active : config_.max_active;
  const size_t min_active = limits ? limits->min_active : config_.min_active;
  s.Resize(num_neurons_);
  const uint32_t l = config_.hash.l;
  if (s.codes_.size() < l) s.codes_.resize(l);
  if (++s.epoch_ > QueryScratch::kMaxEpoch) {  // wrapped: forget every mark
    std::fill(s.mark_.begin(), s.mark_.end(), uint16_t{0});
    s.epoch_ = 1;
  }
  constexpr uint32_t kBits = QueryScratch::kCountBits;
  const uint32_t epoch = s.epoch_;
  uint16_t* mark = s.mark_.data();
  auto seen = [&](uint32_t id) { return (mark[id] >> kBits) == epoch; };
  active.clear();
  const size_t cap = max_active ? max_active : num_neurons_;

  for (uint32_t id : forced) {
    if (id >= num_neurons_) {
      throw std::invalid_argument("NeuronIndex::Query: forced id " +
                                  std::to_string(id) + " >= num_neurons " +
                                  std::to_string(num_neurons_));
    }
    if (!seen(id)) {
      mark[id] = uint16_t(epoch << kBits);  // count 0: never a candidate
      active.push_back(id);
    }
  }

  family_->HashDense(h, s.codes_.data());
  s.candidates_.clear();
  s.forced_found_ = 0;
  constexpr size_t kAhead = 16;  // ids ahead whose marks are prefetched
  for (uint32_t t = 0; t < l; ++t) {
    const auto bucket = tables_.Bucket(t, BucketOf(t, s.codes_[t]));
    const size_t size = bucket.size();
    for (size_t j = 0; j < size; ++j) {
      if (j + kAhead < size) __builtin_prefetch(mark + bucket[j + kAhead], 1);
      const uint32_t id = bucket[j];
      const uint32_t m = mark[id];
      if ((m >> kBits) != epoch) {
        mark[id] = uint16_t((epoch << kBits) | 1u);
        s.candidates_.push_back(id);
      } else if ((m & QueryScratch::kMaxCount) == 0) {
        // A forced id (never a candidate) found: counted once, then marked
        // saturated so other tables do not count it again.
        mark[id] = uint16_t((epoch << kBits) | QueryScratch::kMaxCount);
        ++s.forced_found_;
      } else if ((m & QueryScratch::kMaxCount) != QueryScratch::kMaxCount) {
        mark[id] = uint16_t(m + 1);
      }
    }
    if (config_.selection == Selection::kUnion &&
        active.size() + s.candidates_.size() >= cap) {
      break;
    }
  }

  const size_t room = cap > active.size() ? cap - active.size() : 0;
  if (s.candidates_.size() <= room) {
    active.insert(active.end(), s.candidates_.begin(), s.candidates_.end());
  } else if (config_.selection == Selection::kUnion) {
    active.insert(active.end(), s.candidates_.begin(),
                  s.candidates_.begin() + room);
  } else {
    // Counting sort by table count, highest first, stable in encounter
    // order; take the first `room`.
    const uint32_t max_count = std::min<uint32_t>(l, QueryScratch::kMaxCount);
    auto count = [&](uint32_t id) { return mark[id] & QueryScratch::kMaxCount; };
    s.histogram_.assign(size_t{max_count} + 1, 0);
    for (uint32_t id : s.candidates_) ++s.histogram_[count(id)];
    // cut: the lowest count taken; only `need_at_cut` ids of that count fit.
    uint32_t cut = 1;
    size_t need_at_cut = room;
    size_t acc = 0;
    for (uint32_t c = max_count; c >= 1; --c) {
      if (acc + s.histogram_[c] >= room) {
        cut = c;
        need_at_cut = room - acc;
        break;
      }
      acc += s.histogram_[c];
    }
    for (uint32_t id : s.candidates_) {
      const uint32_t c = count(id);
      if (c > cut) {
        active.push_back(id);
      } else if (c == cut && need_at_cut > 0) {
        active.push_back(id);
        --need_at_cut;
      }
    }
  }

  // Random padding up to min_active with neurons not already present.
  const size_t target = std::min(min_active, num_neurons_);
  uint32_t draw = 0;
  const uint32_t seed = uint32_t(pad_seed) ^ uint32_t(pad_seed >> 32);
  while (active.size() < target) {
    const uint32_t id = uint32_t(
        (uint64_t{HashId(draw++, seed)} * num_neurons_) >> 32);
    if (!seen(id)) {
      mark[id] = uint16_t(epoch << kBits);
      active.push_back(id);
    }
  }
}

void NeuronIndex::MarkChanged(Span<const uint32_t> ids) {
  for (uint32_t id : ids) {
    if (id >= num_neurons_) {
      throw std::invalid_argument("NeuronIndex::MarkChanged: id " +
                                  std::to_string(id) + " >= num_neurons " +
                                  std::to_string(num_neurons_));
    }
    const uint64_t bit = uint64_t{1} << (id & 63);
    // Skip the atomic RMW when already set (common for hot neurons).
    if ((changed_[id >> 6].load(std::memory_order_relaxed) & bit) == 0) {
      changed_[id >> 6].fetch_or(bit, std::memory_order_relaxed);
    }
  }
}

void NeuronIndex::MarkAllChanged() {
  for (size_t i = 0; i < changed_words_; ++i) {
    changed_[i].store(~uint64_t{0}, std::memory_order_relaxed);
  }
  if (num_neurons_ % 64) {
    changed_[changed_words_ - 1].store((uint64_t{1} << (num_neurons_ % 64)) - 1,
                                       std::memory_order_relaxed);
  }
}

size_t NeuronIndex::ChangedCount() const {
  size_t n = 0;
  for (size_t i = 0; i < changed_words_; ++i) {
    n += size_t(__builtin_popcountll(changed_[i].load(std::memory_order_relaxed)));
  }
  return n;
}

size_t NeuronIndex::RehashChanged(MatrixView<const float> w) {
  CheckWeights(w);
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < changed_words_; ++i) {
    uint64_t bits = changed_[i].exchange(0, std::memory_order_relaxed);
    while (bits) {
      ids.push_back(uint32_t(i * 64 + size_t(__builtin_ctzll(bits))));
      bits &= bits - 1;
    }
  }
  if (ids.empty()) return 0;
  const size_t count = ids.size();
  // Moving most neurons one by one (a bucket scan per removal) costs more
  // than re-inserting every neuron: rebuild instead.
  if (count >= num_neurons_ / 4) {
    Build(w);
    return count;
  }
  std::vector<uint32_t> fresh(size_t{config_.hash.l} * count);
  HashRows(w, ids.data(), count, fresh.data());
  const size_t n = num_neurons_;
  tbb::parallel_for(uint32_t{0}, config_.hash.l, [&](uint32_t t) {
    uint32_t* current = buckets_.data() + size_t{t} * n;
    const uint32_t* next = fresh.data() + size_t{t} * count;
    for (size_t j = 0; j < count; ++j) {
      const uint32_t id = ids[j];
      if (current[id] == next[j]) continue;
      tables_.Remove(t, current[id], id);
      tables_.Insert(t, next[j], id);
      current[id] = next[j];
    }
  });
  return count;
}

void NeuronIndex::Redraw(MatrixView<const float> w, uint64_t seed) {
  IndexConfig c = config_;
  c.hash.seed = seed;
  auto family = MakeFamily(c, dim_);
  if (BucketBits(c, *family) != bucket_bits_) {
    throw std::logic_error("NeuronIndex::Redraw: bucket bits changed");
  }
  family_ = std::move(family);
  config_ = c;
  Build(w);
}

bool NeuronIndex::OnBatchEnd(MatrixView<const float> w) {
  ++batches_;
  if (config_.redraw_every && batches_ % config_.redraw_every == 0) {
    ++redraws_;
    Redraw(w, config_.hash.seed + 0x9e3779b97f4a7c15ull * redraws_);
    return true;
  }
  if (batches_ < next_rehash_) return false;
  RehashChanged(w);
  rehash_interval_ = std::min<double>(rehash_interval_ * config_.rehash_growth,
                                      config_.rehash_max_interval);
  next_rehash_ = batches_ + uint64_t(std::ceil(rehash_interval_));
  return true;
}

IndexStats NeuronIndex::Stats() const {
  IndexStats s;
  s.table_bytes = tables_.MemoryBytes();
  s.codes_bytes = buckets_.size() * sizeof(uint32_t);
  s.non_empty_buckets = tables_.NonEmptyBuckets();
  s.stored_ids = tables_.StoredIds();
  s.buckets_per_table = 1u << bucket_bits_;
  return s;
}

}  // namespace frugal::lsh
