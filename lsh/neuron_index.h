// NeuronIndex: given a layer input h, returns the few neurons (rows of a
// neuron-major weight matrix) whose weights have the largest inner product
// with h, by locality-sensitive hashing of the rows into L hash tables.
//
// Thread safety: Query() is const and may run concurrently from many threads
// (each with its own QueryScratch) while no Build/Rehash/Redraw runs.
// MarkChanged() may run concurrently with Query() and with itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/types.h"
#include "lsh/hash_family.h"
#include "lsh/hash_tables.h"

namespace frugal::lsh {

enum class Selection {
  kUnion,      // buckets' ids in table order until max_active
  kFrequency,  // ids found in the most tables first (counts saturate at 63)
};

// Defaults: the configuration measured at the extreme-classification shape
// (670,091 x 128) in bench/lsh_bench.cc: DWTA k=4 x 3 bits, 40 tables of
// 4096 buckets x 256 slots (169 MB).
struct IndexConfig {
  HashConfig hash;
  uint32_t bucket_capacity = 256;
  Replacement replacement = Replacement::kFifo;
  // Buckets per table = 2^min(code bits, range_bits); wider codes are folded
  // by hashing.
  uint32_t range_bits = 16;
  Selection selection = Selection::kFrequency;
  size_t max_active = 0;  // cap on the active set, forced ids included; 0: none
  size_t min_active = 0;  // pad with random neurons up to this size
  // Incremental rehash of changed neurons every `rehash_every` batches, the
  // interval multiplied by `rehash_growth` after each (SLIDE-style decay).
  uint32_t rehash_every = 4;
  float rehash_growth = 1.2f;
  uint32_t rehash_max_interval = 256;
  // New hash functions and a full rebuild every `redraw_every` batches (0:
  // never).
  uint32_t redraw_every = 0;
};

// Bytes (approximately) an index of this configuration takes for
// num_neurons rows of dim elements: hash functions, tables, each neuron's
// buckets. Computed without building it, to refuse absurd configurations
// read from files. Throws std::invalid_argument on an invalid configuration.
size_t IndexBytes(const IndexConfig& config, size_t num_neurons, size_t dim);

// Per-thread working memory for queries; sized for one index.
class QueryScratch {
 public:
  explicit QueryScratch(size_t num_neurons = 0) { Resize(num_neurons); }
  void Resize(size_t num_neurons);
  // The last query's forced ids that its buckets also returned (each
  // counted once): how many of a sample's labels the index found itself.
  size_t forced_found() const { return forced_found_; }

 private:
  friend class NeuronIndex;
  // Per neuron: (epoch << kCountBits) | tables that returned it this query.
  // 2 bytes a neuron keeps a 670K-neuron layer's marks in L2.
  static constexpr uint32_t kCountBits = 6;
  static constexpr uint32_t kMaxCount = (1u << kCountBits) - 1;
  static constexpr uint32_t kMaxEpoch = (1u << (16 - kCountBits)) - 1;
  std::vector<uint16_t> mark_;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> codes_;
  std::vector<uint32_t> candidates_;
  std::vector<uint32_t> histogram_;
  size_t forced_found_ = 0;
};

struct IndexStats {
  size_t table_bytes = 0;     // hash tables (ids and counters)
  size_t codes_bytes = 0;     // each neuron's bucket per table
  size_t non_empty_buckets = 0;
  size_t stored_ids = 0;
  uint32_t buckets_per_table = 0;
};

class NeuronIndex {
 public:
  // Throws std::invalid_argument on an invalid configuration.
  NeuronIndex(const IndexConfig& config, size_t num_neurons, size_t dim);
  ~NeuronIndex();

  const IndexConfig& config() const { return config_; }
  size_t num_neurons() const { return num_neurons_; }
  size_t dim() const { return dim_; }
  uint32_t buckets_per_table() const { return 1u << bucket_bits_; }

  // Hashes every neuron (row of w: num_neurons x dim) into fresh tables.
  // Parallel over neurons, then over tables; the result does not depend on
  // the thread count.
  void Build(MatrixView<const float> w);

  // The active set for input h (dim elements): `forced` ids first (each <
  // num_neurons; duplicates kept once), then neurons from h's buckets per
  // config().selection, capped at max_active, then random neurons (from
  // pad_seed) up to min_active. No allocation once scratch and active have
  // grown to their working sizes.
  // `limits` (optional) overrides config().max_active / min_active for this
  // query, e.g. a wider, unpadded set at inference.
  struct Limits {
    size_t max_active = 0;  // 0: no cap
    size_t min_active = 0;
  };
  void Query(const float* h, Span<const uint32_t> forced, uint64_t pad_seed,
             QueryScratch& scratch, std::vector<uint32_t>& active,
             const Limits* limits = nullptr) const;

  // Records that these neurons' weights changed (for the next rehash).
  void MarkChanged(Span<const uint32_t> ids);
  void MarkAllChanged();
  size_t ChangedCount() const;

  // Rehashes the changed neurons only: moves each to its new bucket in the
  // tables whose code changed (a full Build when a quarter or more changed,
  // which is cheaper). Returns how many neurons were rehashed.
  size_t RehashChanged(MatrixView<const float> w);

  // New hash functions (seed) and a full rebuild.
  void Redraw(MatrixView<const float> w, uint64_t seed);

  // Advances the rebuild schedule by one batch and rehashes or redraws when
  // due. Returns true if it did.
  bool OnBatchEnd(MatrixView<const float> w);

  IndexStats Stats() const;

 private:
  uint32_t BucketOf(uint32_t table, uint32_t code) const;
  void HashRows(MatrixView<const float> w, const uint32_t* ids, size_t count,
                uint32_t* buckets_out) const;
  void CheckWeights(MatrixView<const float> w) const;

  IndexConfig config_;
  size_t num_neurons_;
  size_t dim_;
  std::unique_ptr<HashFamily> family_;
  uint32_t bucket_bits_ = 0;
  HashTables tables_;
  std::vector<uint32_t> buckets_;  // [table][neuron]: current bucket
  std::unique_ptr<std::atomic<uint64_t>[]> changed_;  // bitset
  size_t changed_words_ = 0;
  uint64_t batches_ = 0;
  uint64_t next_rehash_ = 0;
  double rehash_interval_ = 0;
  uint64_t redraws_ = 0;
};

}  // namespace frugal::lsh
