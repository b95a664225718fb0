// A fast 32-bit hash of integer ids (the finalizer of MurmurHash3), seeded.
// Bijective in `id` for a fixed seed. The HashIds kernel computes the same.
#pragma once

#include <cstdint>

namespace frugal {

inline constexpr uint32_t HashId(uint32_t id, uint32_t seed) {
  uint32_t h = id ^ seed;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

}  // namespace frugal
