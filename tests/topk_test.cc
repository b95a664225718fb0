// TopK: every variant this CPU runs against the scalar reference (a full
// stable sort by kernels::RanksBefore).
//
// Tolerance: exact. TopK only compares and copies, so indices and values
// must equal the reference's bit for bit (NaN values: both NaN). Only
// min(k, n) entries of idx/val may be written (Guarded canaries, sized to
// exactly that count).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "kernels/topk_order.h"
#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::ForEachSupportedVariant;
using test::Guarded;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

bool SameValue(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, 4) == 0;
}

enum class Pattern { kRandom, kDuplicates, kNaNs, kAscending, kDescending };

const char* Name(Pattern p) {
  switch (p) {
    case Pattern::kRandom: return "random";
    case Pattern::kDuplicates: return "duplicates";
    case Pattern::kNaNs: return "NaNs";
    case Pattern::kAscending: return "ascending";
    case Pattern::kDescending: return "descending";
  }
  return "?";
}

std::vector<float> MakeInput(Pattern p, size_t n, std::mt19937& rng) {
  std::vector<float> x;
  switch (p) {
    case Pattern::kRandom:
      x = test::RandomFloats(n, rng, -1e3f, 1e3f);
      break;
    case Pattern::kDuplicates: {  // 5 distinct values: ties everywhere
      std::uniform_int_distribution<int> d(-2, 2);
      x.resize(n);
      for (auto& e : x) e = float(d(rng));
      for (size_t i = 0; i < n; i += 7) x[i] = 0.0f;
      for (size_t i = 3; i < n; i += 11) x[i] = -0.0f;  // equal to +0.0
      break;
    }
    case Pattern::kNaNs: {  // ~10% NaN, some infinities
      x = test::RandomFloats(n, rng, -1.0f, 1.0f);
      std::bernoulli_distribution nan(0.1), inf(0.02);
      for (auto& e : x) {
        if (nan(rng)) {
          e = kNaN;
        } else if (inf(rng)) {
          e = rng() & 1 ? kInf : -kInf;
        }
      }
      if (n > 0) x[n - 1] = kNaN;  // a NaN in the tail
      break;
    }
    case Pattern::kAscending:  // every element beats the current k-th best
      x.resize(n);
      for (size_t i = 0; i < n; ++i) x[i] = float(i) * 0.5f - 7.0f;
      break;
    case Pattern::kDescending:
      x.resize(n);
      for (size_t i = 0; i < n; ++i) x[i] = 7.0f - float(i) * 0.5f;
      break;
  }
  return x;
}

struct Case {
  Pattern pattern;
  std::vector<float> x;
  std::vector<uint32_t> order;  // the reference's full ranking
};

std::vector<Case> MakeCases() {
  std::mt19937 rng(51);
  std::vector<size_t> lengths = test::TestLengths();
  if (!test::ShortTests()) lengths.push_back(100000);
  std::vector<Case> cases;
  for (Pattern p : {Pattern::kRandom, Pattern::kDuplicates, Pattern::kNaNs,
                    Pattern::kAscending, Pattern::kDescending}) {
    for (size_t n : lengths) {
      Case c{p, MakeInput(p, n, rng), std::vector<uint32_t>(n)};
      std::vector<float> val(n);
      EXPECT_EQ(kernels::TopKRef(c.x.data(), n, n, c.order.data(), val.data()),
                n);
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = MakeCases();
  return cases;
}

TEST(TopK, ReferenceRanksByTheContract) {
  // The oracle itself: descending, NaN first, ties by smaller index.
  for (const Case& c : Cases()) {
    if (c.x.size() > 5000) continue;
    for (size_t j = 1; j < c.order.size(); ++j) {
      const uint32_t a = c.order[j - 1], b = c.order[j];
      const float va = c.x[a], vb = c.x[b];
      const bool ok = std::isnan(va) ? (!std::isnan(vb) || a < b)
                                     : (!std::isnan(vb) &&
                                        (va > vb || (va == vb && a < b)));
      ASSERT_TRUE(ok) << Name(c.pattern) << " n=" << c.x.size() << " at " << j
                      << ": x[" << a << "]=" << va << " before x[" << b
                      << "]=" << vb;
    }
  }
}

TEST(TopK, MatchesReference) {
  ForEachSupportedVariant(kernels::TopKVariants(), [&](const auto& v) {
    for (const Case& c : Cases()) {
      const size_t n = c.x.size();
      std::vector<size_t> ks = {0, 1, 5, n, n + 10};
      if (n > 0) ks.push_back(n - 1);
      const std::vector<size_t> misalignments =
          n > 5000 ? std::vector<size_t>{1} : test::TestMisalignments();
      for (size_t mis : misalignments) {
        Guarded<float> x(n, mis);
        x.Assign(c.x);
        for (size_t k : ks) {
          const size_t count = std::min(k, n);
          Guarded<uint32_t> idx(count, (mis + 1) % 4);
          Guarded<float> val(count, (mis + 2) % 4);
          const size_t got = v.fn(x.data(), n, k, idx.data(), val.data());
          ASSERT_TRUE(idx.Intact() && val.Intact())
              << "wrote outside idx/val: " << Name(c.pattern) << " n=" << n
              << " k=" << k;
          ASSERT_EQ(got, count) << Name(c.pattern) << " n=" << n << " k=" << k;
          size_t bad = 0;
          for (size_t j = 0; j < count; ++j) {
            const uint32_t want_i = c.order[j];
            if ((idx[j] != want_i || !SameValue(val[j], c.x[want_i])) &&
                bad++ == 0) {
              ADD_FAILURE() << Name(c.pattern) << " n=" << n << " k=" << k
                            << " misalign=" << mis << " rank " << j
                            << ": got (" << idx[j] << ", " << val[j]
                            << "), want (" << want_i << ", " << c.x[want_i]
                            << ")";
            }
          }
          EXPECT_EQ(bad, 0u) << Name(c.pattern) << " n=" << n << " k=" << k;
        }
        EXPECT_TRUE(test::SameBytes(x.data(), c.x.data(), n * 4))
            << "x modified";
        EXPECT_TRUE(x.Intact());
      }
    }
  });
}

TEST(TopK, KnownAnswers) {
  ForEachSupportedVariant(kernels::TopKVariants(), [&](const auto& v) {
    // Ties: smaller index first; NaN above +inf; -0.0 ties with +0.0.
    const std::vector<float> x = {1.0f, 3.0f, kNaN, 3.0f, kInf, -0.0f,
                                  0.0f, kNaN, 1.0f, -kInf};
    const std::vector<uint32_t> want = {2, 7, 4, 1, 3, 0, 8, 5, 6, 9};
    std::vector<uint32_t> idx(x.size(), 99);
    std::vector<float> val(x.size(), 99.0f);
    ASSERT_EQ(v.fn(x.data(), x.size(), 100, idx.data(), val.data()),
              x.size());
    EXPECT_EQ(idx, want);
    for (size_t j = 0; j < x.size(); ++j) {
      EXPECT_TRUE(SameValue(val[j], x[want[j]])) << "rank " << j;
    }
    // k = 3 of the same.
    std::fill(idx.begin(), idx.end(), 99u);
    ASSERT_EQ(v.fn(x.data(), x.size(), 3, idx.data(), val.data()), 3u);
    EXPECT_EQ(idx[0], 2u);
    EXPECT_EQ(idx[1], 7u);
    EXPECT_EQ(idx[2], 4u);
    EXPECT_EQ(idx[3], 99u) << "wrote past the count";
    // All equal: the first k indices.
    std::vector<float> same(50, 2.0f);
    std::vector<uint32_t> idx5(5);
    std::vector<float> val5(5);
    ASSERT_EQ(v.fn(same.data(), same.size(), 5, idx5.data(), val5.data()), 5u);
    EXPECT_EQ(idx5, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
    // k = 0 and n = 0 write nothing and accept null outputs.
    EXPECT_EQ(v.fn(x.data(), x.size(), 0, nullptr, nullptr), 0u);
    EXPECT_EQ(v.fn(nullptr, 0, 5, nullptr, nullptr), 0u);
  });
}

TEST(TopK, LateWinnerAfterManyLosers) {
  // The best values sit at the very end, after a long run that fills the
  // heap: the block filter must not skip them, also in the vector tail.
  ForEachSupportedVariant(kernels::TopKVariants(), [&](const auto& v) {
    for (size_t n : {size_t{100}, size_t{1001}, size_t{4099}}) {
      std::vector<float> x(n, -1.0f);
      x[n - 1] = 5.0f;
      x[n - 2] = kNaN;
      x[n / 2] = 4.0f;
      std::vector<uint32_t> idx(3);
      std::vector<float> val(3);
      ASSERT_EQ(v.fn(x.data(), n, 3, idx.data(), val.data()), 3u);
      EXPECT_EQ(idx, (std::vector<uint32_t>{uint32_t(n - 2), uint32_t(n - 1),
                                            uint32_t(n / 2)}))
          << "n=" << n;
    }
  });
}

}  // namespace
}  // namespace frugal
