// L hash tables of 2^bits buckets each, with a fixed capacity per bucket, in
// one contiguous block of neuron ids plus per-bucket counters.
//
// Thread safety: any number of concurrent readers (Bucket) while no writer
// (Insert, Remove, Clear) runs. Writers to different tables may run
// concurrently; writers to the same table may not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/types.h"

namespace frugal::lsh {

enum class Replacement {
  kFifo,       // a full bucket overwrites its oldest slot
  kReservoir,  // a full bucket keeps a uniform sample of everything offered
};

class HashTables {
 public:
  // Throws std::invalid_argument if bits > 24 or the block would exceed
  // 2^34 slots.
  HashTables(uint32_t num_tables, uint32_t bits, uint32_t bucket_capacity,
             Replacement replacement, uint64_t seed);

  uint32_t num_tables() const { return num_tables_; }
  uint32_t bits() const { return bits_; }
  uint32_t bucket_capacity() const { return capacity_; }

  // Offers id to bucket `code` (< 2^bits) of `table`. Returns false if the
  // bucket was full and the id was dropped (reservoir) or overwrote another
  // (FIFO returns true).
  bool Insert(uint32_t table, uint32_t code, uint32_t id);
  // Removes one occurrence of id from the bucket; false if absent.
  bool Remove(uint32_t table, uint32_t code, uint32_t id);
  void Clear();
  void ClearTable(uint32_t table);

  // The ids in a bucket (valid until the next write to that table).
  Span<const uint32_t> Bucket(uint32_t table, uint32_t code) const {
    const size_t b = BucketIndex(table, code);
    return Span<const uint32_t>(ids_.get() + b * capacity_, sizes_[b]);
  }

  // Bytes held by ids and counters.
  size_t MemoryBytes() const;
  // Non-empty buckets and stored ids, over all tables.
  size_t NonEmptyBuckets() const;
  size_t StoredIds() const;

 private:
  size_t BucketIndex(uint32_t table, uint32_t code) const {
    return (size_t{table} << bits_) + code;
  }

  uint32_t num_tables_;
  uint32_t bits_;
  uint32_t capacity_;
  Replacement replacement_;
  uint64_t seed_;
  // [table][bucket][slot]; left uninitialised so untouched pages of a
  // sparsely filled block are never committed.
  std::unique_ptr<uint32_t[]> ids_;
  size_t num_slots_ = 0;
  std::vector<uint32_t> sizes_;  // ids stored per bucket, <= capacity
  std::vector<uint32_t> offers_;  // ids offered since the bucket was cleared
};

}  // namespace frugal::lsh
