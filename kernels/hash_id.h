// A fast 32-bit hash of integer ids (two rounds of the MurmurHash3
// finalizer), seeded. Bijective in `id` for a fixed seed. The HashIds kernel computes the same.
#pragma once

#include <cstdint>

namespace frugal {

// One round of the MurmurHash3 finalizer: a bijection on 32 bits.
inline constexpr uint32_t Fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// The seed enters twice (before and between two rounds), so different seeds
// are not mere relabellings of the ids (as with a single XOR).
inline constexpr uint32_t HashId(uint32_t id, uint32_t seed) {
  return Fmix32(Fmix32(id ^ seed) + seed);
}

}  // namespace frugal
