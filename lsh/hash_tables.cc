#include "lsh/hash_tables.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/hash_id.h"

namespace frugal::lsh {

HashTables::HashTables(uint32_t num_tables, uint32_t bits,
                       uint32_t bucket_capacity, Replacement replacement,
                       uint64_t seed)
    : num_tables_(num_tables),
      bits_(bits),
      capacity_(bucket_capacity),
      replacement_(replacement),
      seed_(seed) {
  if (num_tables == 0 || bucket_capacity == 0) {
    throw std::invalid_argument("HashTables: num_tables and bucket_capacity "
                                "must be positive");
  }
  if (bits > 24) {
    throw std::invalid_argument("HashTables: bits " + std::to_string(bits) +
                                " > 24");
  }
  const size_t buckets = size_t{num_tables} << bits;
  const size_t slots = buckets * bucket_capacity;
  if (slots > (size_t{1} << 34)) {
    throw std::invalid_argument(
        "HashTables: " + std::to_string(num_tables) + " tables x 2^" +
        std::to_string(bits) + " buckets x " + std::to_string(bucket_capacity) +
        " slots is too large");
  }
  ids_.reset(new uint32_t[slots]);
  num_slots_ = slots;
  sizes_.assign(buckets, 0);
  offers_.assign(buckets, 0);
}

bool HashTables::Insert(uint32_t table, uint32_t code, uint32_t id) {
  const size_t b = BucketIndex(table, code);
  uint32_t* slots = ids_.get() + b * capacity_;
  const uint32_t offered = offers_[b]++;
  if (sizes_[b] < capacity_) {
    slots[sizes_[b]++] = id;
    return true;
  }
  if (replacement_ == Replacement::kFifo) {
    slots[offered % capacity_] = id;
    return true;
  }
  // Reservoir: keep with probability capacity / (offered + 1). The random
  // draw is a hash of (bucket, offer count) so runs are reproducible.
  const uint32_t r = HashId(offered, HashId(uint32_t(b), uint32_t(seed_))) %
                     (uint64_t{offered} + 1);
  if (r < capacity_) {
    slots[r] = id;
    return true;
  }
  return false;
}

bool HashTables::Remove(uint32_t table, uint32_t code, uint32_t id) {
  const size_t b = BucketIndex(table, code);
  uint32_t* slots = ids_.get() + b * capacity_;
  const uint32_t n = sizes_[b];
  for (uint32_t i = 0; i < n; ++i) {
    if (slots[i] == id) {
      slots[i] = slots[n - 1];
      sizes_[b] = n - 1;
      return true;
    }
  }
  return false;
}

void HashTables::Clear() {
  std::fill(sizes_.begin(), sizes_.end(), 0u);
  std::fill(offers_.begin(), offers_.end(), 0u);
}

void HashTables::ClearTable(uint32_t table) {
  const size_t begin = size_t{table} << bits_, end = begin + (size_t{1} << bits_);
  std::fill(sizes_.begin() + begin, sizes_.begin() + end, 0u);
  std::fill(offers_.begin() + begin, offers_.begin() + end, 0u);
}

size_t HashTables::MemoryBytes() const {
  return (num_slots_ + sizes_.size() + offers_.size()) * sizeof(uint32_t);
}

size_t HashTables::NonEmptyBuckets() const {
  return size_t(std::count_if(sizes_.begin(), sizes_.end(),
                              [](uint32_t s) { return s != 0; }));
}

size_t HashTables::StoredIds() const {
  size_t n = 0;
  for (uint32_t s : sizes_) n += s;
  return n;
}

}  // namespace frugal::lsh
