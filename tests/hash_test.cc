// Hashing kernels (HashIds, SrpHash, DwtaBins): every variant this CPU runs
// against the scalar reference, plus known answers and sanity checks.
//
// Tolerances:
//  HashIds and DwtaBins are integer or comparison-only: exact.
//  SrpHash: bit for bit, except bits whose exact projection sum (computed in
//    double here) has |sum| < 1e-4. The vector code sums the +/-x terms in
//    float in a different order (two interleaved accumulators) than the
//    reference's double sum; with |x| <= 1 and at most 43 terms its rounding
//    error is below 43 * 43 * 2^-24 ~ 1.1e-4 in the very worst case and
//    ~1e-6 in practice, so only sums that close to 0 may flip. Those bits are
//    counted and must be rare (< 1% of all bits).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "kernels/hash_id.h"
#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::ForEachSupportedVariant;
using test::Guarded;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<uint32_t> RandomIds(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<uint32_t> dist;  // full 32-bit range
  std::vector<uint32_t> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// ---------------------------------------------------------------------------
// HashId / HashIds

TEST(HashId, KnownAnswers) {
  // MurmurHash3's fmix32 known answers.
  EXPECT_EQ(Fmix32(0), 0u);
  EXPECT_EQ(Fmix32(1), 0x514e28b7u);
  EXPECT_EQ(Fmix32(0x12345678u), 0xe37cd1bcu);
  EXPECT_EQ(Fmix32(0xffffffffu), 0x81f16f39u);
  // HashId = fmix32(fmix32(id ^ seed) + seed).
  EXPECT_EQ(HashId(1, 0), Fmix32(0x514e28b7u));
  EXPECT_EQ(HashId(0x12345678u, 7), Fmix32(Fmix32(0x12345678u ^ 7u) + 7u));
  // Seeds are not relabellings: id ^ s1 ^ s2 under s2 differs from id under
  // s1 (it would be equal with a single XOR of the seed).
  EXPECT_NE(HashId(1, 0x12345678u ^ 1u), HashId(0x12345678u, 0));
  static_assert(HashId(0, 0) == 0u, "usable in constant expressions");
}

TEST(HashIds, EqualsHashIdAtEveryLengthAndAlignment) {
  std::mt19937 rng(21);
  ForEachSupportedVariant(kernels::HashIdsVariants(), [&](const auto& v) {
    for (size_t n : test::TestLengths()) {
      for (size_t mis : test::TestMisalignments()) {
        for (uint32_t seed : {0u, 1u, 0x9e3779b9u, 0xffffffffu}) {
          Guarded<uint32_t> ids(n, mis), out(n, (mis + 2) % 4);
          auto ids_v = RandomIds(n, rng);
          if (n > 0) ids_v[0] = 0;
          if (n > 1) ids_v[n - 1] = 0xffffffffu;
          ids.Assign(ids_v);
          v.fn(ids.data(), n, seed, out.data());
          ASSERT_TRUE(out.Intact()) << "wrote outside out, n=" << n;
          EXPECT_TRUE(ids.Intact());
          EXPECT_EQ(ids.ToVector(), ids_v) << "ids modified, n=" << n;
          size_t bad = 0;
          for (size_t i = 0; i < n; ++i) {
            if (out[i] != HashId(ids_v[i], seed) && bad++ == 0) {
              ADD_FAILURE() << "n=" << n << " seed=" << seed << " i=" << i
                            << ": got " << out[i] << ", want "
                            << HashId(ids_v[i], seed);
            }
          }
          EXPECT_EQ(bad, 0u) << "n=" << n << " misalign=" << mis;
        }
      }
    }
  });
}

TEST(HashIds, Deterministic) {
  // Two calls on the same ids give the same output (no hidden state).
  std::mt19937 rng(22);
  const auto ids = RandomIds(1000, rng);
  ForEachSupportedVariant(kernels::HashIdsVariants(), [&](const auto& v) {
    std::vector<uint32_t> a(ids.size()), b(ids.size());
    v.fn(ids.data(), ids.size(), 7, a.data());
    v.fn(ids.data(), ids.size(), 7, b.data());
    EXPECT_EQ(a, b);
  });
}

TEST(HashIds, DifferentSeedsGiveDifferentOutputs) {
  std::vector<uint32_t> ids(4099);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = uint32_t(i);
  ForEachSupportedVariant(kernels::HashIdsVariants(), [&](const auto& v) {
    std::vector<uint32_t> a(ids.size()), b(ids.size()), c(ids.size());
    v.fn(ids.data(), ids.size(), 0, a.data());
    v.fn(ids.data(), ids.size(), 1, b.data());
    v.fn(ids.data(), ids.size(), 0xdeadbeefu, c.data());
    // The hash is a bijection of id ^ seed, so for the same id two seeds
    // never collide.
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_NE(a[i], b[i]) << "i=" << i;
      EXPECT_NE(a[i], c[i]) << "i=" << i;
      EXPECT_NE(b[i], c[i]) << "i=" << i;
    }
  });
}

TEST(HashId, BijectiveOnARange) {
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < 65536; ++i) seen.insert(HashId(i, 0x5bd1e995u));
  EXPECT_EQ(seen.size(), 65536u);
}

TEST(HashId, BucketsAreUniform) {
  for (uint32_t seed : {0u, 0x9e3779b9u}) {
    std::vector<int> low(64, 0), high(64, 0);
    for (uint32_t i = 0; i < 64000; ++i) {
      const uint32_t h = HashId(i, seed);
      ++low[h % 64];
      ++high[h >> 26];
    }
    for (int b = 0; b < 64; ++b) {
      EXPECT_GE(low[b], 800) << "seed " << seed << " bucket " << b;
      EXPECT_LE(low[b], 1200) << "seed " << seed << " bucket " << b;
      EXPECT_GE(high[b], 800) << "seed " << seed << " high bucket " << b;
      EXPECT_LE(high[b], 1200) << "seed " << seed << " high bucket " << b;
    }
  }
}

TEST(HashId, Avalanche) {
  // Flipping any one input bit flips each output bit with probability ~1/2.
  std::mt19937 rng(23);
  const auto ids = RandomIds(2000, rng);
  double total_flips = 0;
  for (int in_bit = 0; in_bit < 32; ++in_bit) {
    std::vector<int> flips(32, 0);
    for (uint32_t id : ids) {
      const uint32_t d = HashId(id, 0) ^ HashId(id ^ (1u << in_bit), 0);
      for (int ob = 0; ob < 32; ++ob) flips[ob] += (d >> ob) & 1;
      total_flips += __builtin_popcount(d);
    }
    for (int ob = 0; ob < 32; ++ob) {
      const double p = flips[ob] / double(ids.size());
      EXPECT_GT(p, 0.4) << "input bit " << in_bit << " output bit " << ob;
      EXPECT_LT(p, 0.6) << "input bit " << in_bit << " output bit " << ob;
    }
  }
  const double mean = total_flips / (32.0 * ids.size());
  EXPECT_GT(mean, 15.5);
  EXPECT_LT(mean, 16.5);
}

// ---------------------------------------------------------------------------
// SrpHash

struct SrpCase {
  size_t k, l, nnz;
};

// Exact projection sums (double; exact enough for |x| <= 1 and <= 43 terms).
std::vector<double> ProjectionSums(const std::vector<float>& x,
                                   const std::vector<uint32_t>& proj,
                                   size_t nnz, size_t num_proj) {
  std::vector<double> sums(num_proj, 0.0);
  for (size_t p = 0; p < num_proj; ++p) {
    for (size_t t = 0; t < nnz; ++t) {
      const uint32_t e = proj[t * num_proj + p];
      const double xv = x[e & ~kSrpNegative];
      sums[p] += (e & kSrpNegative) ? -xv : xv;
    }
  }
  return sums;
}

TEST(SrpHash, MatchesReferenceExceptNearZeroSums) {
  std::mt19937 rng(24);
  const size_t input_dim = 997;
  size_t total_bits = 0, near_zero = 0;
  ForEachSupportedVariant(kernels::SrpHashVariants(), [&](const auto& v) {
    for (size_t k : {size_t{1}, size_t{6}, size_t{9}, size_t{32}}) {
      for (size_t l : {size_t{1}, size_t{3}, size_t{50}}) {
        for (size_t nnz : {size_t{0}, size_t{1}, size_t{7}, size_t{43}}) {
          for (size_t mis : test::TestMisalignments()) {
            const size_t num_proj = k * l;
            Guarded<float> x(input_dim, mis);
            const auto x_v = test::RandomFloats(input_dim, rng);
            x.Assign(x_v);
            auto proj_v = test::RandomIndices(nnz * num_proj, input_dim, rng);
            std::bernoulli_distribution negative(0.5);
            for (auto& e : proj_v) {
              if (negative(rng)) e |= kSrpNegative;
            }
            if (!proj_v.empty()) {  // the extreme feature indices
              proj_v[0] = 0;
              proj_v.back() = (input_dim - 1) | kSrpNegative;
            }
            Guarded<uint32_t> proj(proj_v.size(), (mis + 1) % 4);
            proj.Assign(proj_v);
            Guarded<uint32_t> codes(l, (mis + 2) % 4);
            std::vector<uint32_t> want(l);
            kernels::SrpHashRef(x.data(), proj.data(), nnz, k, l, want.data());
            // Stale bits in codes must be cleared.
            for (size_t j = 0; j < l; ++j) codes[j] = 0xdeadbeefu;
            v.fn(x.data(), proj.data(), nnz, k, l, codes.data());
            ASSERT_TRUE(codes.Intact())
                << "wrote outside codes, k=" << k << " l=" << l;
            EXPECT_EQ(x.ToVector(), x_v);
            const auto sums = ProjectionSums(x_v, proj_v, nnz, num_proj);
            size_t bad = 0;
            for (size_t p = 0; p < num_proj; ++p) {
              const bool got = (codes[p / k] >> (p % k)) & 1;
              const bool ref = (want[p / k] >> (p % k)) & 1;
              if (nnz > 0) ++total_bits;
              // Empty sums are exactly 0 in any order: compared below.
              if (nnz > 0 && std::fabs(sums[p]) < 1e-4) {
                ++near_zero;
                continue;
              }
              // The reference itself follows the contract...
              EXPECT_EQ(ref, sums[p] > 0) << "reference, p=" << p;
              // ...and so does every variant.
              if (got != ref && bad++ == 0) {
                ADD_FAILURE() << "k=" << k << " l=" << l << " nnz=" << nnz
                              << " projection " << p << " (sum " << sums[p]
                              << "): got bit " << got << ", want " << ref;
              }
            }
            EXPECT_EQ(bad, 0u) << "k=" << k << " l=" << l << " nnz=" << nnz
                               << " misalign=" << mis;
            if (k < 32) {
              for (size_t j = 0; j < l; ++j) {
                EXPECT_EQ(codes[j] >> k, 0u)
                    << "bits above k set: k=" << k << " code " << j;
              }
            }
            if (nnz == 0) {  // empty sums are 0, never > 0
              for (size_t j = 0; j < l; ++j) EXPECT_EQ(codes[j], 0u);
            }
          }
        }
      }
    }
  });
  EXPECT_GT(total_bits, 0u);
  EXPECT_LE(near_zero * 100, total_bits)
      << near_zero << " of " << total_bits << " bits had |sum| < 1e-4";
}

TEST(SrpHash, KnownAnswer) {
  const uint32_t N = kSrpNegative;
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f, -0.25f};
  // k = 3, l = 2: projections p = 0..5, two terms each, term-major.
  //  p0 = +x0 + x1 = -1     -> 0      p3 = +x3 - x4 =  0.75 -> 1
  //  p1 = +x2 - x1 =  5     -> 1      p4 = -x2 - x4 = -2.75 -> 0
  //  p2 = -x0 + x3 = -0.5   -> 0      p5 = +x2 + x1 =  1    -> 1
  // codes[0] = 0b010 = 2, codes[1] = 0b101 = 5.
  const std::vector<uint32_t> proj = {
      0, 2, N | 0, 3, N | 2, 2,       // t = 0
      1, N | 1, 3, N | 4, N | 4, 1};  // t = 1
  // k = 1, l = 4, two terms: +x0 - x0 == 0 exactly (not > 0), +x0 + x0,
  // -x1 - x1, +x4 + x3.
  const std::vector<uint32_t> proj2 = {0, 0, N | 1, 4,   // t = 0
                                       N | 0, 0, N | 1, 3};
  ForEachSupportedVariant(kernels::SrpHashVariants(), [&](const auto& v) {
    uint32_t codes[2] = {~0u, ~0u};
    v.fn(x.data(), proj.data(), 2, 3, 2, codes);
    EXPECT_EQ(codes[0], 2u);
    EXPECT_EQ(codes[1], 5u);
    uint32_t codes2[4] = {~0u, ~0u, ~0u, ~0u};
    v.fn(x.data(), proj2.data(), 2, 1, 4, codes2);
    EXPECT_EQ(codes2[0], 0u);
    EXPECT_EQ(codes2[1], 1u);
    EXPECT_EQ(codes2[2], 1u);
    EXPECT_EQ(codes2[3], 1u);
  });
}

TEST(SrpHash, KnownAnswer32Bits) {
  // k = 32, l = 2, one term each: bit p of a code is set where the weight is
  // +1 on x0 = 1. Exercises bit 31 and more projections than one vector.
  const std::vector<float> x = {1.0f};
  std::vector<uint32_t> proj(64);
  const uint32_t want[2] = {0x80000000u | 0x55555555u, 0x0000ffffu};
  for (size_t p = 0; p < 64; ++p) {
    const bool bit = (want[p / 32] >> (p % 32)) & 1;
    proj[p] = bit ? 0u : kSrpNegative;
  }
  ForEachSupportedVariant(kernels::SrpHashVariants(), [&](const auto& v) {
    uint32_t codes[2] = {0, 0};
    v.fn(x.data(), proj.data(), 1, 32, 2, codes);
    EXPECT_EQ(codes[0], want[0]);
    EXPECT_EQ(codes[1], want[1]);
  });
}

TEST(SrpHash, NaNFeatureGivesZeroBit) {
  // sum > 0 is false for NaN: projections touching a NaN give bit 0, the
  // others are unaffected.
  const uint32_t N = kSrpNegative;
  const std::vector<float> x = {1.0f, kNaN, 2.0f};
  const size_t k = 20, l = 1;
  std::vector<uint32_t> proj(k);
  for (size_t p = 0; p < k; ++p) {
    // x1 (NaN) with either sign, else +x2.
    proj[p] = p % 3 == 1 ? ((p & 1) ? (1u | N) : 1u) : 2u;
  }
  ForEachSupportedVariant(kernels::SrpHashVariants(), [&](const auto& v) {
    uint32_t code = ~0u;
    v.fn(x.data(), proj.data(), 1, k, l, &code);
    for (size_t p = 0; p < k; ++p) {
      EXPECT_EQ((code >> p) & 1, p % 3 == 1 ? 0u : 1u) << "p=" << p;
    }
  });
}

// ---------------------------------------------------------------------------
// DwtaBins

// The contract, independently of the reference: the first position of the
// largest non-zero value (NaN and -inf never win), or kDwtaEmpty.
uint32_t ExpectedWinner(const float* x, const uint32_t* bins, size_t bin_size,
                        size_t num_hashes, size_t j) {
  uint32_t arg = kDwtaEmpty;
  float best = 0.0f;
  for (size_t t = 0; t < bin_size; ++t) {
    const float v = x[bins[t * num_hashes + j]];
    if (std::isnan(v) || v == 0.0f || v == -std::numeric_limits<float>::infinity()) {
      continue;
    }
    if (arg == kDwtaEmpty || v > best) {
      arg = uint32_t(t);
      best = v;
    }
  }
  return arg;
}

TEST(DwtaBins, MatchesReferenceAtEveryLength) {
  std::mt19937 rng(25);
  const size_t input_dim = 61;
  // Few distinct values, so ties and empty bins are common; a few NaNs.
  const std::vector<float> kValues = {-2.0f, -1.0f, -0.0f, 0.0f, 0.25f,
                                      0.5f,  1.0f,  2.0f,  kNaN};
  ForEachSupportedVariant(kernels::DwtaBinsVariants(), [&](const auto& v) {
    for (size_t num_hashes : test::TestLengths()) {
      for (size_t bin_size = 1; bin_size <= 8; ++bin_size) {
        for (size_t mis : test::TestMisalignments()) {
          std::vector<float> x_v(input_dim);
          std::uniform_int_distribution<size_t> pick(0, kValues.size() - 1);
          for (auto& e : x_v) e = kValues[pick(rng)];
          Guarded<float> x(input_dim, mis);
          x.Assign(x_v);
          Guarded<uint32_t> bins(bin_size * num_hashes, (mis + 1) % 4);
          bins.Assign(
              test::RandomIndices(bin_size * num_hashes, input_dim, rng));
          Guarded<uint32_t> winners(num_hashes, (mis + 2) % 4);
          std::vector<uint32_t> want(num_hashes);
          kernels::DwtaBinsRef(x.data(), bins.data(), bin_size, num_hashes,
                               want.data());
          v.fn(x.data(), bins.data(), bin_size, num_hashes, winners.data());
          ASSERT_TRUE(winners.Intact())
              << "wrote outside winners, num_hashes=" << num_hashes
              << " bin_size=" << bin_size;
          size_t bad = 0;
          for (size_t j = 0; j < num_hashes; ++j) {
            const uint32_t expect =
                ExpectedWinner(x.data(), bins.data(), bin_size, num_hashes, j);
            EXPECT_EQ(want[j], expect) << "reference, hash " << j;
            if (winners[j] != want[j] && bad++ == 0) {
              ADD_FAILURE() << "num_hashes=" << num_hashes
                            << " bin_size=" << bin_size << " hash " << j
                            << ": got " << winners[j] << ", want " << want[j];
            }
          }
          EXPECT_EQ(bad, 0u) << "num_hashes=" << num_hashes
                             << " bin_size=" << bin_size << " misalign=" << mis;
        }
      }
    }
  });
}

TEST(DwtaBins, EmptyTiesAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  // x index:                0     1     2      3     4     5    6     7
  const std::vector<float> x = {-1.0f, 0.0f, -0.0f, -inf, 0.5f, 2.0f, kNaN,
                                inf};
  // Bins of 4 (bin_size = 4), written bin by bin, then transposed.
  const std::vector<std::vector<uint32_t>> bin_list = {
      {0, 1, 2, 3},  // -1 largest non-zero  -> 0
      {5, 4, 5, 1},  // tie of 2.0 at 0, 2   -> 0
      {4, 5, 4, 5},  // tie of 2.0 at 1, 3   -> 1
      {6, 4, 6, 0},  // NaN ignored          -> 1
      {6, 6, 6, 6},  // only NaN             -> empty
      {6, 2, 3, 6},  // NaN, -0, -inf        -> empty
      {4, 7, 5, 7},  // +inf wins, first     -> 1
      {4, 4, 4, 4},  // all equal            -> 0
      {1, 1, 1, 4},  // last position wins   -> 3
  };
  const std::vector<uint32_t> expect = {0, 0, 1, 1, kDwtaEmpty,
                                        kDwtaEmpty, 1, 0, 3};
  ForEachSupportedVariant(kernels::DwtaBinsVariants(), [&](const auto& v) {
    // Repeat the pattern so the special bins land in every lane position,
    // the vector tail included.
    for (size_t reps : {size_t{1}, size_t{2}, size_t{5}}) {
      const size_t num_hashes = bin_list.size() * reps;
      std::vector<uint32_t> bins(4 * num_hashes);
      for (size_t j = 0; j < num_hashes; ++j) {
        for (size_t t = 0; t < 4; ++t) {
          bins[t * num_hashes + j] = bin_list[j % bin_list.size()][t];
        }
      }
      Guarded<uint32_t> winners(num_hashes, 1);
      v.fn(x.data(), bins.data(), 4, num_hashes, winners.data());
      ASSERT_TRUE(winners.Intact());
      for (size_t j = 0; j < num_hashes; ++j) {
        EXPECT_EQ(winners[j], expect[j % expect.size()])
            << "bin " << j % bin_list.size() << " at hash " << j
            << " of " << num_hashes;
      }
    }
    // bin_size 0: every bin is empty.
    std::vector<uint32_t> winners(37, 0);
    v.fn(x.data(), nullptr, 0, winners.size(), winners.data());
    for (uint32_t w : winners) EXPECT_EQ(w, kDwtaEmpty);
  });
}

}  // namespace
}  // namespace frugal
