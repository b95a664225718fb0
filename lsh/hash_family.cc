#include "lsh/hash_family.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include "dispatch/registry.h"
#include "kernels/hash_id.h"
#include "kernels/kernel_list.h"

namespace frugal::lsh {
namespace {

uint32_t Log2(uint32_t v) {
  uint32_t b = 0;
  while ((1u << b) < v) ++b;
  return b;
}

// Per-thread scratch of at least n elements of T, zero-filled on growth;
// one buffer per (T, Tag), allocated once per thread.
template <class T, int Tag = 0>
T* Scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.assign(n, T{});
  return buf.data();
}

// Features per SRP projection.
size_t SrpNnz(const HashConfig& c, size_t dim) {
  return std::max<size_t>(
      1, std::min<size_t>(dim, size_t(double(dim) * c.srp_density + 0.5)));
}

class SrpFamily final : public HashFamily {
 public:
  SrpFamily(const HashConfig& c, size_t dim) : HashFamily(c, dim) {
    const size_t num_proj = size_t{c.k} * c.l;
    nnz_ = SrpNnz(c, dim);
    proj_.resize(nnz_ * num_proj);
    std::mt19937_64 rng(c.seed);
    std::vector<uint32_t> features(dim);
    std::iota(features.begin(), features.end(), 0u);
    for (size_t p = 0; p < num_proj; ++p) {
      // nnz_ distinct features (partial Fisher-Yates), random signs.
      for (size_t t = 0; t < nnz_; ++t) {
        std::uniform_int_distribution<size_t> pick(t, dim - 1);
        std::swap(features[t], features[pick(rng)]);
        const uint32_t sign = (rng() & 1) ? kSrpNegative : 0u;
        proj_[t * num_proj + p] = features[t] | sign;
      }
    }
    kernel_ = dispatch::SrpHash();
  }

  uint32_t code_bits() const override { return config().k; }

  void HashDense(const float* x, uint32_t* codes) const override {
    kernel_(x, proj_.data(), nnz_, config().k, config().l, codes);
  }

 private:
  size_t nnz_ = 0;
  std::vector<uint32_t> proj_;  // term-major, see kernels/kernel_list.h
  kernels::SrpHashFn kernel_;
};

class DwtaFamily final : public HashFamily {
 public:
  DwtaFamily(const HashConfig& c, size_t dim)
      : HashFamily(c, dim), bits_per_hash_(Log2(c.bin_size)) {
    const size_t num_hashes = size_t{c.k} * c.l;
    bins_.resize(num_hashes * c.bin_size);
    // Bins are consecutive chunks of random permutations of the features,
    // so each feature lands in about the same number of bins.
    std::mt19937_64 rng(c.seed);
    std::vector<uint32_t> perm(dim);
    size_t used = dim;
    for (size_t j = 0; j < num_hashes; ++j) {
      for (size_t t = 0; t < c.bin_size; ++t) {
        if (used == dim) {
          std::iota(perm.begin(), perm.end(), 0u);
          std::shuffle(perm.begin(), perm.end(), rng);
          used = 0;
        }
        bins_[t * num_hashes + j] = perm[used++];
      }
    }
    if (num_hashes <= kMaxTabulatedHashes) {
      probes_.resize(num_hashes * kProbes);
      for (size_t j = 0; j < num_hashes; ++j) {
        for (uint32_t a = 0; a < kProbes; ++a) {
          probes_[j * kProbes + a] = Probe(j, a, num_hashes);
        }
      }
    }
    kernel_ = dispatch::DwtaBins();
  }

  uint32_t code_bits() const override { return config().k * bits_per_hash_; }

  void HashDense(const float* x, uint32_t* codes) const override {
    const size_t num_hashes = size_t{config().k} * config().l;
    uint32_t* winners = Scratch<uint32_t>(num_hashes);
    kernel_(x, bins_.data(), config().bin_size, num_hashes, winners);
    Densify(winners, num_hashes);
    Pack(winners, codes);
  }

 private:
  // Empty hashes borrow the value of another hash chosen by a fixed probe
  // sequence (densification), so similar inputs still agree on them.
  void Densify(uint32_t* winners, size_t num_hashes) const {
    size_t filled = 0;
    for (size_t j = 0; j < num_hashes; ++j) filled += winners[j] != kDwtaEmpty;
    if (filled == num_hashes) return;
    if (filled == 0) {  // nothing to borrow: every hash is 0
      std::fill_n(winners, num_hashes, 0u);
      return;
    }
    for (size_t j = 0; j < num_hashes; ++j) {
      if (winners[j] != kDwtaEmpty) continue;
      const uint32_t* probes =
          probes_.empty() ? nullptr : probes_.data() + j * kProbes;
      uint32_t value = 0;
      for (uint32_t a = 0; a < kProbes; ++a) {
        const uint32_t w =
            winners[probes ? probes[a] : Probe(j, a, num_hashes)];
        // Borrowed values are marked so chains don't propagate them.
        if (w != kDwtaEmpty && (w & kBorrowed) == 0) {
          value = w | kBorrowed;
          break;
        }
      }
      winners[j] = value == 0 ? kBorrowed : value;
    }
    for (size_t j = 0; j < num_hashes; ++j) winners[j] &= ~kBorrowed;
  }

  // The hash that empty hash j probes at attempt a (0-based).
  static uint32_t Probe(size_t j, uint32_t a, size_t num_hashes) {
    return HashId(static_cast<uint32_t>(j), a + 1) % num_hashes;
  }

  void Pack(const uint32_t* winners, uint32_t* codes) const {
    const uint32_t k = config().k;
    for (uint32_t t = 0; t < config().l; ++t) {
      uint32_t code = 0;
      for (uint32_t b = 0; b < k; ++b) {
        code |= winners[size_t{t} * k + b] << (b * bits_per_hash_);
      }
      codes[t] = code;
    }
  }

  static constexpr uint32_t kBorrowed = 0x40000000u;
  static constexpr uint32_t kProbes = 64;  // attempts per empty hash
  // Up to this many hashes the probe sequences are tabulated (1 MB).
  static constexpr size_t kMaxTabulatedHashes = 4096;
  uint32_t bits_per_hash_;
  std::vector<uint32_t> bins_;  // bin-major, see kernels/kernel_list.h
  std::vector<uint32_t> probes_;  // [hash][attempt] -> Probe(); may be empty
  kernels::DwtaBinsFn kernel_;
};

class MinHashFamily final : public HashFamily {
 public:
  MinHashFamily(const HashConfig& c, size_t dim)
      : HashFamily(c, dim), bits_per_hash_(Log2(c.bin_size)) {
    std::mt19937_64 rng(c.seed);
    seeds_.resize(size_t{c.k} * c.l);
    for (auto& s : seeds_) s = static_cast<uint32_t>(rng());
    kernel_ = dispatch::HashIds();
  }

  uint32_t code_bits() const override { return config().k * bits_per_hash_; }

  void HashDense(const float* x, uint32_t* codes) const override {
    uint32_t* ids = Scratch<uint32_t>(input_dim());
    size_t nnz = 0;
    for (size_t i = 0; i < input_dim(); ++i) {
      if (x[i] != 0.0f) ids[nnz++] = static_cast<uint32_t>(i);
    }
    HashSet(ids, nnz, codes);
  }

  void HashSparse(const uint32_t* idx, const float* val, size_t nnz,
                  uint32_t* codes) const override {
    uint32_t* ids = Scratch<uint32_t>(nnz);
    size_t m = 0;
    for (size_t i = 0; i < nnz; ++i) {
      if (val[i] != 0.0f) ids[m++] = idx[i];
    }
    HashSet(ids, m, codes);
  }

 private:
  // codes from the minimum hash of the id set under each seed; an empty set
  // gives all-zero codes.
  void HashSet(const uint32_t* ids, size_t n, uint32_t* codes) const {
    uint32_t* hashed = Scratch<uint32_t, 1>(n);
    const uint32_t k = config().k;
    const uint32_t mask = (1u << bits_per_hash_) - 1;
    for (uint32_t t = 0; t < config().l; ++t) {
      uint32_t code = 0;
      for (uint32_t b = 0; b < k; ++b) {
        const uint32_t seed = seeds_[size_t{t} * k + b];
        uint32_t min = 0xffffffffu;
        if (n > 0) {
          kernel_(ids, n, seed, hashed);
          min = *std::min_element(hashed, hashed + n);
        }
        // Take the low bits of a re-hash of the minimum: well mixed.
        const uint32_t v = n > 0 ? HashId(min, seed) & mask : 0;
        code |= v << (b * bits_per_hash_);
      }
      codes[t] = code;
    }
  }

  uint32_t bits_per_hash_;
  std::vector<uint32_t> seeds_;
  kernels::HashIdsFn kernel_;
};

}  // namespace

void HashFamily::HashSparse(const uint32_t* idx, const float* val, size_t nnz,
                            uint32_t* codes) const {
  float* dense = Scratch<float>(input_dim());
  for (size_t i = 0; i < nnz; ++i) dense[idx[i]] += val[i];
  HashDense(dense, codes);
  for (size_t i = 0; i < nnz; ++i) dense[idx[i]] = 0.0f;
}

HashKind ParseHashKind(const std::string& name) {
  if (name == "srp") return HashKind::kSrp;
  if (name == "dwta") return HashKind::kDwta;
  if (name == "minhash") return HashKind::kMinHash;
  throw std::invalid_argument("unknown hash family '" + name +
                              "' (expected srp|dwta|minhash)");
}

const char* HashKindName(HashKind kind) {
  switch (kind) {
    case HashKind::kSrp:
      return "srp";
    case HashKind::kDwta:
      return "dwta";
    case HashKind::kMinHash:
      return "minhash";
  }
  return "?";
}

uint32_t CheckHashConfig(const HashConfig& c, size_t input_dim) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("HashConfig: " + what);
  };
  if (input_dim == 0 || input_dim >= kSrpNegative) {
    fail("input_dim " + std::to_string(input_dim) + " not in [1, 2^31)");
  }
  if (c.k == 0 || c.l == 0) fail("k and l must be positive");
  if (c.l > 4096) fail("l " + std::to_string(c.l) + " > 4096");
  const bool binned = c.kind != HashKind::kSrp;
  if (binned && (c.bin_size < 2 || (c.bin_size & (c.bin_size - 1)) != 0 ||
                 c.bin_size > 1024)) {
    fail("bin_size " + std::to_string(c.bin_size) +
         " is not a power of two in [2, 1024]");
  }
  // Also keeps k * log2(bin_size) below from wrapping around.
  if (c.k > 32) fail("k " + std::to_string(c.k) + " > 32");
  const uint32_t bits = binned ? c.k * Log2(c.bin_size) : c.k;
  if (bits > 32) {
    fail("code bits k * log2(bin_size) = " + std::to_string(bits) + " > 32");
  }
  if (c.kind == HashKind::kSrp && !(c.srp_density > 0 && c.srp_density <= 1)) {
    fail("srp_density must be in (0, 1]");
  }
  if (c.kind == HashKind::kDwta && c.bin_size > input_dim) {
    fail("bin_size " + std::to_string(c.bin_size) + " > input_dim " +
         std::to_string(input_dim));
  }
  if (c.kind != HashKind::kSrp && c.kind != HashKind::kDwta &&
      c.kind != HashKind::kMinHash) {
    fail("unknown hash kind " + std::to_string(int(c.kind)));
  }
  return bits;
}

size_t HashFamilyBytes(const HashConfig& c, size_t input_dim) {
  const size_t num_hashes = size_t{c.k} * c.l;
  switch (c.kind) {
    case HashKind::kSrp:
      return num_hashes * SrpNnz(c, input_dim) * sizeof(uint32_t);
    case HashKind::kDwta:
      return num_hashes * c.bin_size * sizeof(uint32_t);
    case HashKind::kMinHash:
      return num_hashes * sizeof(uint32_t);
  }
  return 0;
}

std::unique_ptr<HashFamily> MakeHashFamily(const HashConfig& c,
                                           size_t input_dim) {
  CheckHashConfig(c, input_dim);
  switch (c.kind) {
    case HashKind::kSrp:
      return std::make_unique<SrpFamily>(c, input_dim);
    case HashKind::kDwta:
      return std::make_unique<DwtaFamily>(c, input_dim);
    case HashKind::kMinHash:
      return std::make_unique<MinHashFamily>(c, input_dim);
  }
  return nullptr;  // unreachable: CheckHashConfig refuses other kinds
}

}  // namespace frugal::lsh
