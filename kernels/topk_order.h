// The order TopK ranks by, and the bounded heap it keeps the best in. Shared
// by the vector kernel and the reference so both rank identically.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace frugal::kernels {

// True when (va, ia) ranks before (vb, ib): larger value first, NaN above
// every number, ties (and NaN vs NaN) by smaller index.
inline bool RanksBefore(float va, uint32_t ia, float vb, uint32_t ib) {
  const bool na = std::isnan(va), nb = std::isnan(vb);
  if (na != nb) return na;
  if (!na && va != vb) return va > vb;
  return ia < ib;
}

// A min-heap (by RanksBefore) of at most `capacity` entries stored in the
// caller's idx/val arrays.
class TopKHeap {
 public:
  TopKHeap(uint32_t* idx, float* val, size_t capacity)
      : idx_(idx), val_(val), cap_(capacity) {}

  bool full() const { return size_ == cap_; }
  // The value of the worst kept entry; only valid when full().
  float worst() const { return val_[0]; }

  void Offer(float v, uint32_t i) {
    if (size_ < cap_) {
      size_t c = size_++;
      while (c > 0) {  // sift up: parent must rank after the child
        const size_t p = (c - 1) / 2;
        if (!RanksBefore(val_[p], idx_[p], v, i)) break;
        val_[c] = val_[p];
        idx_[c] = idx_[p];
        c = p;
      }
      val_[c] = v;
      idx_[c] = i;
      return;
    }
    if (!RanksBefore(v, i, val_[0], idx_[0])) return;
    SiftDown(v, i, size_);
  }

  // Leaves idx/val sorted best first (heap-sort in place).
  void SortDescending() {
    for (size_t end = size_; end > 1; --end) {
      const float v = val_[end - 1];
      const uint32_t i = idx_[end - 1];
      val_[end - 1] = val_[0];
      idx_[end - 1] = idx_[0];
      SiftDown(v, i, end - 1);
    }
    // The worst-first heap pops into ascending rank from the back, i.e. the
    // array now runs best first.
  }

 private:
  // Places (v, i) at the root of the heap of `n` entries and sifts it down.
  void SiftDown(float v, uint32_t i, size_t n) {
    size_t c = 0;
    for (;;) {
      size_t child = 2 * c + 1;
      if (child >= n) break;
      // The child that ranks after the other (the worse one).
      if (child + 1 < n &&
          RanksBefore(val_[child], idx_[child], val_[child + 1],
                      idx_[child + 1])) {
        ++child;
      }
      if (!RanksBefore(v, i, val_[child], idx_[child])) break;
      val_[c] = val_[child];
      idx_[c] = idx_[child];
      c = child;
    }
    val_[c] = v;
    idx_[c] = i;
  }

  uint32_t* idx_;
  float* val_;
  size_t cap_;
  size_t size_ = 0;
};

}  // namespace frugal::kernels
