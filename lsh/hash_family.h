// Locality-sensitive hash families over dense (and sparse) float vectors.
// Each computes L codes (one per table) of code_bits() bits from K hash
// values, through the kernels of dispatch/. Seeded and deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace frugal::lsh {

enum class HashKind {
  kSrp,      // signed random projections (SimHash), sparse +/-1 matrix
  kDwta,     // densified winner-take-all
  kMinHash,  // densified MinHash of the set of non-zero features
};

// Parses "srp" | "dwta" | "minhash"; throws std::invalid_argument otherwise.
HashKind ParseHashKind(const std::string& name);
const char* HashKindName(HashKind kind);

struct HashConfig {
  HashKind kind = HashKind::kDwta;
  uint32_t k = 4;          // hash values per code
  uint32_t l = 40;         // codes (tables)
  uint32_t bin_size = 8;   // DWTA: features per bin; MinHash: 2^bits per value
  float srp_density = 1.0f / 3;  // SRP: fraction of features per projection
  uint64_t seed = 1;
};

class HashFamily {
 public:
  virtual ~HashFamily() = default;

  const HashConfig& config() const { return config_; }
  size_t input_dim() const { return input_dim_; }
  uint32_t l() const { return config_.l; }
  // Bits of one code: every code is < 2^code_bits().
  virtual uint32_t code_bits() const = 0;

  // codes[0, l) for a dense x of input_dim() elements. Thread-safe; uses a
  // per-thread scratch buffer that is allocated once.
  virtual void HashDense(const float* x, uint32_t* codes) const = 0;
  // The same for a sparse x: nnz (index, value) pairs, indices < input_dim().
  virtual void HashSparse(const uint32_t* idx, const float* val, size_t nnz,
                          uint32_t* codes) const;

 protected:
  HashFamily(const HashConfig& config, size_t input_dim)
      : config_(config), input_dim_(input_dim) {}

 private:
  HashConfig config_;
  size_t input_dim_;
};

// Validates the configuration (k, l, bin_size a power of two, code bits
// <= 32, input_dim > 0) and throws std::invalid_argument naming the field.
std::unique_ptr<HashFamily> MakeHashFamily(const HashConfig& config,
                                           size_t input_dim);

// The validation of MakeHashFamily alone; returns the family's code_bits().
uint32_t CheckHashConfig(const HashConfig& config, size_t input_dim);

// Bytes a family's hash functions (projections, bins or seeds) take, for a
// configuration CheckHashConfig accepts; computed without building it.
size_t HashFamilyBytes(const HashConfig& config, size_t input_dim);

}  // namespace frugal::lsh
