// The checked API (frugal::ops): for every function of dispatch/ops.h, a
// correct call gives the reference kernel's answer, and every kind of bad
// argument throws std::invalid_argument naming the function and the sizes,
// before anything is written.
//
// Tolerance: the examples use small integers and dyadic fractions, so
// sums and products are exact in float whatever the summation order: the
// dispatched (vector) kernel must equal the reference exactly. Adam, SGD,
// Sigmoid, Softmax and LogSoftmax round, and are compared with relative
// 1e-6 (optimizers: same operation order, FMA contraction may differ) and
// absolute 2e-6 / 1e-5 (activations; see activation_test.cc for why).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dispatch/ops.h"
#include "kernels/hash_id.h"
#include "kernels/variant.h"
#include "test_util.h"

namespace frugal {
namespace {

using test::Near;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr uint32_t kBad = 0xffffffffu;

// True if `word` occurs in `s` as a whole name or number: "Dot" does not
// match inside "RowGatherDot", "5" not inside "15" (but does in "5x4").
bool ContainsWord(const std::string& s, const std::string& word) {
  const bool number =
      !word.empty() && std::isdigit(static_cast<unsigned char>(word[0]));
  auto ident = [number](char c) {
    const auto u = static_cast<unsigned char>(c);
    return number ? std::isdigit(u) != 0 : (std::isalnum(u) || c == '_');
  };
  for (size_t pos = s.find(word); pos != std::string::npos;
       pos = s.find(word, pos + 1)) {
    const bool left = pos == 0 || !ident(s[pos - 1]);
    const size_t end = pos + word.size();
    const bool right = end == s.size() || !ident(s[end]);
    if (left && right) return true;
  }
  return false;
}

// `call` must throw std::invalid_argument whose what() contains every word.
template <class F>
void ExpectInvalid(int line, const F& call,
                   std::initializer_list<std::string> words) {
  SCOPED_TRACE("called at ops_test.cc:" + std::to_string(line));
  try {
    call();
    ADD_FAILURE() << "no exception thrown";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const std::string& w : words) {
      EXPECT_TRUE(ContainsWord(what, w))
          << "what() = \"" << what << "\" lacks \"" << w << "\"";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type, what() = " << e.what();
  }
}
#define EXPECT_INVALID(call, ...) \
  ExpectInvalid(__LINE__, [&] { call; }, {__VA_ARGS__})

TEST(OpsTestHelpers, ContainsWord) {
  EXPECT_TRUE(ContainsWord("frugal::ops::Dot: a (3) != b (4)", "Dot"));
  EXPECT_TRUE(ContainsWord("frugal::ops::Dot: a (3) != b (4)", "4"));
  EXPECT_FALSE(ContainsWord("frugal::ops::RowGatherDot: x", "Dot"));
  EXPECT_FALSE(ContainsWord("rows (15)", "5"));
  EXPECT_TRUE(ContainsWord("m is 4x5 stride 6", "5"));
  EXPECT_FALSE(ContainsWord("m is 4x5 stride 6", "x5"));
}

std::vector<bf16> Bf16(const std::vector<float>& v) { return test::ToBf16(v); }

// A 5 x 4 matrix of small integers at stride 6 (padding 1000: never read).
constexpr size_t kRows = 5, kCols = 4, kStride = 6;
std::vector<float> SmallMatrix() {
  std::vector<float> w(kRows * kStride, 1000.0f);
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t c = 0; c < kCols; ++c) {
      w[r * kStride + c] = float(int(r * 3 + c * 5) % 7 - 3);
    }
  }
  return w;
}

// ---------------------------------------------------------------------------
// Dot

TEST(Ops, Dot) {
  const std::vector<float> a = {1, 2, 3, -4, 0.5f}, b = {4, 5, 6, 1, 2};
  EXPECT_EQ(ops::Dot(a, b), kernels::DotRef(a.data(), b.data(), a.size()));
  EXPECT_EQ(ops::Dot(a, b), 29.0f);
  EXPECT_EQ(ops::Dot(Span<const float>(), Span<const float>()), 0.0f);
  const std::vector<float> x37(37, 1.0f), x41(41, 1.0f);
  EXPECT_INVALID(ops::Dot(x37, x41), "Dot", "37", "41");
  EXPECT_INVALID(ops::Dot(Span<const float>(), x41), "Dot", "0", "41");
}

TEST(Ops, DotBf16) {
  const auto w = Bf16({1, 2, 3, -4, 0.5f});
  const std::vector<float> h = {4, 5, 6, 1, 2};
  EXPECT_EQ(ops::Dot(w, h), kernels::DotBf16Ref(w.data(), h.data(), w.size()));
  EXPECT_EQ(ops::Dot(w, h), 29.0f);
  const auto w37 = Bf16(std::vector<float>(37, 1.0f));
  const std::vector<float> h41(41, 1.0f);
  EXPECT_INVALID(ops::Dot(w37, h41), "Dot", "37", "41");
}

// ---------------------------------------------------------------------------
// RowGatherDot (float and bf16)

template <class TW, class RefFn>
void CheckRowGatherDot(RefFn ref) {
  const auto wf = SmallMatrix();
  const std::vector<TW> w = test::FromFloats<TW>(wf);
  const MatrixView<const TW> mw(w.data(), kRows, kCols, kStride);
  const std::vector<uint32_t> rows = {4, 0, 2, 4};
  const std::vector<float> h = {1, -2, 0.5f, 3};
  std::vector<float> out(rows.size(), 777.0f), want(rows.size());
  ops::RowGatherDot(mw, rows, h, out);
  ref(w.data(), kStride, rows.data(), rows.size(), h.data(), kCols,
      want.data());
  EXPECT_EQ(out, want);
  // Row 0 is {-3, 2, 0, -2}: -3 - 4 + 0 - 6.
  EXPECT_EQ(out[1], -13.0f);

  const std::vector<float> sentinel(rows.size(), 777.0f);
  out = sentinel;
  const std::vector<float> h3(3, 1.0f);
  EXPECT_INVALID(ops::RowGatherDot(mw, rows, h3, out), "RowGatherDot", "3",
                 "4");
  std::vector<float> out2(2, 777.0f);
  EXPECT_INVALID(ops::RowGatherDot(mw, rows, h, out2), "RowGatherDot", "2",
                 "4");
  EXPECT_EQ(out2, std::vector<float>(2, 777.0f));
  // Out-of-range rows, the bad one last so a partial write would show.
  const std::vector<uint32_t> bad1 = {0, 1, kBad}, bad2 = {0, 1, 5};
  std::vector<float> out3(3, 777.0f);
  EXPECT_INVALID(ops::RowGatherDot(mw, bad1, h, out3), "RowGatherDot",
                 "4294967295", "5");
  EXPECT_INVALID(ops::RowGatherDot(mw, bad2, h, out3), "RowGatherDot", "5");
  EXPECT_EQ(out3, std::vector<float>(3, 777.0f));
  // stride < cols.
  const MatrixView<const TW> narrow(w.data(), kRows, kCols, 3);
  EXPECT_INVALID(ops::RowGatherDot(narrow, rows, h, out), "RowGatherDot", "3",
                 "4");
  // Null data with rows.
  const MatrixView<const TW> null_w(nullptr, kRows, kCols, kStride);
  EXPECT_INVALID(ops::RowGatherDot(null_w, rows, h, out), "RowGatherDot",
                 "null");
  EXPECT_EQ(out, sentinel);
}

TEST(Ops, RowGatherDot) {
  CheckRowGatherDot<float>(kernels::RowGatherDotRef);
}

TEST(Ops, RowGatherDotBf16) {
  CheckRowGatherDot<bf16>(kernels::RowGatherDotBf16Ref);
}

// ---------------------------------------------------------------------------
// RowAccumulate (float and bf16)

template <class TW, class RefFn>
void CheckRowAccumulate(RefFn ref) {
  const auto wf = SmallMatrix();
  const std::vector<TW> w = test::FromFloats<TW>(wf);
  const MatrixView<const TW> mw(w.data(), kRows, kCols, kStride);
  const std::vector<uint32_t> idx = {4, 0, 4, 1};
  const std::vector<float> val = {0.5f, -2.0f, 1.0f, 0.25f};
  const std::vector<float> out0 = {1, 2, 3, 4};
  std::vector<float> out = out0, want = out0;
  ops::RowAccumulate(mw, idx, val, out);
  ref(w.data(), kStride, idx.data(), val.data(), idx.size(), want.data(),
      kCols);
  EXPECT_EQ(out, want);
  EXPECT_NE(out, out0);

  out = out0;
  std::vector<float> out3(3, 777.0f);
  EXPECT_INVALID(ops::RowAccumulate(mw, idx, val, out3), "RowAccumulate", "3",
                 "4");
  EXPECT_EQ(out3, std::vector<float>(3, 777.0f));
  const std::vector<float> val3 = {1, 2, 3};
  EXPECT_INVALID(ops::RowAccumulate(mw, idx, val3, out), "RowAccumulate", "3",
                 "4");
  const std::vector<uint32_t> bad1 = {0, 1, 2, kBad}, bad2 = {0, 1, 2, 5};
  EXPECT_INVALID(ops::RowAccumulate(mw, bad1, val, out), "RowAccumulate",
                 "4294967295", "5");
  EXPECT_INVALID(ops::RowAccumulate(mw, bad2, val, out), "RowAccumulate", "5");
  const MatrixView<const TW> narrow(w.data(), kRows, kCols, 3);
  EXPECT_INVALID(ops::RowAccumulate(narrow, idx, val, out), "RowAccumulate",
                 "3", "4");
  EXPECT_EQ(out, out0);
}

TEST(Ops, RowAccumulate) { CheckRowAccumulate<float>(kernels::RowAccumulateRef); }

TEST(Ops, RowAccumulateBf16) {
  CheckRowAccumulate<bf16>(kernels::RowAccumulateBf16Ref);
}

// ---------------------------------------------------------------------------
// ScatterAddRows

TEST(Ops, ScatterAddRows) {
  const auto w0 = SmallMatrix();
  const std::vector<uint32_t> idx = {3, 1, 3};
  const std::vector<float> val = {0.5f, -1.0f, 2.0f};
  const std::vector<float> g = {1, 2, -4, 0.25f};
  auto w = w0, want = w0;
  ops::ScatterAddRows(MatrixView<float>(w.data(), kRows, kCols, kStride), idx,
                      val, g);
  kernels::ScatterAddRowsRef(want.data(), kStride, idx.data(), val.data(),
                             idx.size(), g.data(), kCols);
  EXPECT_EQ(w, want);
  EXPECT_EQ(w[3 * kStride + 2], w0[3 * kStride + 2] - 10.0f);

  w = w0;
  const MatrixView<float> mw(w.data(), kRows, kCols, kStride);
  const std::vector<float> g3 = {1, 2, 3};
  EXPECT_INVALID(ops::ScatterAddRows(mw, idx, val, g3), "ScatterAddRows", "3",
                 "4");
  const std::vector<float> val2 = {1, 2};
  EXPECT_INVALID(ops::ScatterAddRows(mw, idx, val2, g), "ScatterAddRows", "2",
                 "3");
  const std::vector<uint32_t> bad1 = {0, 1, kBad}, bad2 = {0, 1, 5};
  EXPECT_INVALID(ops::ScatterAddRows(mw, bad1, val, g), "ScatterAddRows",
                 "4294967295", "5");
  EXPECT_INVALID(ops::ScatterAddRows(mw, bad2, val, g), "ScatterAddRows", "5");
  EXPECT_INVALID(
      ops::ScatterAddRows(MatrixView<float>(w.data(), kRows, kCols, 2), idx,
                          val, g),
      "ScatterAddRows", "2", "4");
  EXPECT_EQ(w, w0) << "w modified by a rejected call";
}

// ---------------------------------------------------------------------------
// Axpy, Scale

TEST(Ops, Axpy) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> y0 = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  auto y = y0, want = y0;
  ops::Axpy(-0.5f, x, y);
  kernels::AxpyRef(-0.5f, x.data(), want.data(), x.size());
  EXPECT_EQ(y, want);
  EXPECT_EQ(y[0], 8.5f);

  y = y0;
  const std::vector<float> x37(37, 1.0f);
  std::vector<float> y41(41, 777.0f);
  EXPECT_INVALID(ops::Axpy(1.0f, x37, y41), "Axpy", "37", "41");
  EXPECT_EQ(y41, std::vector<float>(41, 777.0f));
  EXPECT_INVALID(ops::Axpy(1.0f, x, Span<float>(y.data(), 4)), "Axpy", "9",
                 "4");
  EXPECT_EQ(y, y0);
}

TEST(Ops, Scale) {
  // Scale has one span: every length is valid.
  std::vector<float> x = {1, -2, 3, 0.5f, 7, 8, 9, 10, 11};
  auto want = x;
  ops::Scale(-3.0f, x);
  kernels::ScaleRef(-3.0f, want.data(), want.size());
  EXPECT_EQ(x, want);
  EXPECT_EQ(x[1], 6.0f);
  EXPECT_NO_THROW(ops::Scale(2.0f, Span<float>()));
}

// ---------------------------------------------------------------------------
// SrpHash

TEST(Ops, SrpHash) {
  const uint32_t N = kSrpNegative;
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f, -0.25f};
  // k = 3, l = 2, two terms per projection (see hash_test.cc's known
  // answer): codes {2, 5}.
  const std::vector<uint32_t> proj = {0, 2, N | 0, 3, N | 2, 2,
                                      1, N | 1, 3, N | 4, N | 4, 1};
  ops::SrpProjections p{proj, 2, 3, 2, x.size()};
  std::vector<uint32_t> codes(2, 777), want(2);
  ops::SrpHash(x, p, codes);
  kernels::SrpHashRef(x.data(), proj.data(), 2, 3, 2, want.data());
  EXPECT_EQ(codes, want);
  EXPECT_EQ(codes, (std::vector<uint32_t>{2, 5}));

  const std::vector<uint32_t> sentinel(2, 777);
  codes = sentinel;
  {  // k out of [1, 32]
    auto q = p;
    q.k = 0;
    q.proj = Span<const uint32_t>();
    EXPECT_INVALID(ops::SrpHash(x, q, codes), "SrpHash", "0");
    q.k = 33;
    EXPECT_INVALID(ops::SrpHash(x, q, codes), "SrpHash", "33");
  }
  {  // x.size() != input_dim
    auto q = p;
    q.input_dim = 6;
    EXPECT_INVALID(ops::SrpHash(x, q, codes), "SrpHash", "5", "6");
  }
  {  // codes.size() != l
    std::vector<uint32_t> codes3(3, 777);
    EXPECT_INVALID(ops::SrpHash(x, p, codes3), "SrpHash", "3", "2");
    EXPECT_EQ(codes3, std::vector<uint32_t>(3, 777));
  }
  {  // proj.size() != k * l * nnz_per_proj
    auto q = p;
    q.nnz_per_proj = 3;
    EXPECT_INVALID(ops::SrpHash(x, q, codes), "SrpHash", "12", "18");
  }
  {  // Out-of-range feature indices, with and without the sign bit. The last
     // entry, so a partial run would already have written codes.
    for (uint32_t bad : {uint32_t(5), uint32_t(5 | N), kBad, 0x7fffffffu}) {
      auto proj_bad = proj;
      proj_bad.back() = bad;
      auto q = p;
      q.proj = proj_bad;
      EXPECT_INVALID(ops::SrpHash(x, q, codes), "SrpHash",
                     std::to_string(bad & ~N), "5");
    }
    // The largest valid index, negative: accepted.
    auto proj_ok = proj;
    proj_ok.back() = 4 | N;
    auto q = p;
    q.proj = proj_ok;
    std::vector<uint32_t> c(2);
    EXPECT_NO_THROW(ops::SrpHash(x, q, c));
  }
  EXPECT_EQ(codes, sentinel);
}

// ---------------------------------------------------------------------------
// DwtaBins

TEST(Ops, DwtaBins) {
  const std::vector<float> x = {-1.0f, 2.0f, 0.5f, 2.0f, kNaN};
  // 3 hashes, bins of 2, bin-major: {1, 3} -> 0 (tie), {0, 4} -> 0 (-1 is
  // the only non-NaN, non-zero value), {2, 1} -> 1.
  const std::vector<uint32_t> bins = {1, 0, 2, 3, 4, 1};
  std::vector<uint32_t> winners(3, 777), want(3);
  ops::DwtaBins(x, bins, 2, winners);
  kernels::DwtaBinsRef(x.data(), bins.data(), 2, 3, want.data());
  EXPECT_EQ(winners, want);
  EXPECT_EQ(winners, (std::vector<uint32_t>{0, 0, 1}));

  const std::vector<uint32_t> sentinel(3, 777);
  winners = sentinel;
  EXPECT_INVALID(ops::DwtaBins(x, bins, 3, winners), "DwtaBins", "6", "9");
  std::vector<uint32_t> w4(4, 777);
  EXPECT_INVALID(ops::DwtaBins(x, bins, 2, w4), "DwtaBins", "6", "8");
  EXPECT_EQ(w4, std::vector<uint32_t>(4, 777));
  for (uint32_t bad : {uint32_t(5), kBad}) {
    auto bins_bad = bins;
    bins_bad.back() = bad;
    EXPECT_INVALID(ops::DwtaBins(x, bins_bad, 2, winners), "DwtaBins",
                   std::to_string(bad), "5");
  }
  EXPECT_EQ(winners, sentinel);
}

// ---------------------------------------------------------------------------
// HashIds

TEST(Ops, HashIds) {
  const std::vector<uint32_t> ids = {0, 1, 2, 0x12345678u, kBad, 77, 5, 6, 9};
  std::vector<uint32_t> out(ids.size(), 777), want(ids.size());
  ops::HashIds(ids, 42, out);
  kernels::HashIdsRef(ids.data(), ids.size(), 42, want.data());
  EXPECT_EQ(out, want);
  EXPECT_EQ(out[3], HashId(0x12345678u, 42));

  std::vector<uint32_t> out8(8, 777);
  EXPECT_INVALID(ops::HashIds(ids, 42, out8), "HashIds", "8", "9");
  EXPECT_EQ(out8, std::vector<uint32_t>(8, 777));
}

// ---------------------------------------------------------------------------
// Optimizers

void ExpectAllNear(const std::vector<float>& got, const std::vector<float>& want,
                   double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(Near(got[i], want[i], std::fabs(want[i]) + 1e-3, rel))
        << what << "[" << i << "]";
  }
}

TEST(Ops, AdamDense) {
  const AdamParams p = AdamParams::ForStep(0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 4);
  const std::vector<float> w0 = {1, -2, 0.5f, 3, 0, -1, 2, 4, -3};
  const std::vector<float> m0 = {0.1f, 0, -0.2f, 0.05f, 0, 0, 0.1f, 0, 0};
  const std::vector<float> v0 = {0.01f, 0, 0.04f, 0.1f, 0, 0.2f, 0, 0.3f, 0};
  const std::vector<float> g = {0.5f, -1, 0.25f, 2, 0, -0.5f, 1, 0, 3};
  auto w = w0, m = m0, v = v0, rw = w0, rm = m0, rv = v0;
  ops::AdamDense(w, m, v, g, p);
  kernels::AdamDenseRef(rw.data(), rm.data(), rv.data(), g.data(), g.size(),
                        p);
  ExpectAllNear(w, rw, 1e-6, "w");
  ExpectAllNear(m, rm, 1e-6, "m");
  ExpectAllNear(v, rv, 1e-6, "v");
  EXPECT_NE(w, w0);

  w = w0, m = m0, v = v0;
  std::vector<float> short8(8, 0.0f);
  EXPECT_INVALID(ops::AdamDense(w, short8, v, g, p), "AdamDense", "8", "9");
  EXPECT_INVALID(ops::AdamDense(w, m, short8, g, p), "AdamDense", "8", "9");
  EXPECT_INVALID(ops::AdamDense(w, m, v, short8, p), "AdamDense", "8", "9");
  EXPECT_INVALID(ops::AdamDense(short8, m, v, g, p), "AdamDense", "8", "9");
  EXPECT_EQ(w, w0);
  EXPECT_EQ(m, m0);
  EXPECT_EQ(v, v0);
  EXPECT_EQ(short8, std::vector<float>(8, 0.0f));
}

TEST(Ops, AdamRows) {
  const AdamParams p = AdamParams::ForStep(0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 2);
  const auto w0 = SmallMatrix();
  std::vector<float> m0(w0.size(), 0.05f), v0(w0.size(), 0.01f), g0(w0.size());
  for (size_t i = 0; i < g0.size(); ++i) g0[i] = float(int(i % 9) - 4) * 0.25f;
  auto w = w0, m = m0, v = v0, g = g0;
  auto rw = w0, rm = m0, rv = v0, rg = g0;
  const std::vector<uint32_t> rows = {4, 1};
  auto view = [](std::vector<float>& a, size_t r = kRows, size_t c = kCols,
                 size_t s = kStride) { return MatrixView<float>(a.data(), r, c, s); };
  ops::AdamRows(view(w), view(m), view(v), view(g), rows, p);
  kernels::AdamRowsRef(rw.data(), rm.data(), rv.data(), rg.data(), kStride,
                       rows.data(), rows.size(), kCols, p);
  ExpectAllNear(w, rw, 1e-6, "w");
  ExpectAllNear(m, rm, 1e-6, "m");
  ExpectAllNear(v, rv, 1e-6, "v");
  EXPECT_EQ(g, rg);
  for (size_t c = 0; c < kCols; ++c) {
    EXPECT_EQ(g[4 * kStride + c], 0.0f);
    EXPECT_EQ(g[1 * kStride + c], 0.0f);
    EXPECT_EQ(w[0 * kStride + c], w0[c]) << "row 0 is not listed";
  }

  w = w0, m = m0, v = v0, g = g0;
  // Each of m, v, g with a different shape: rows, cols, stride.
  EXPECT_INVALID(ops::AdamRows(view(w), view(m, 4), view(v), view(g), rows, p),
                 "AdamRows", "4", "5");
  EXPECT_INVALID(ops::AdamRows(view(w), view(m), view(v, kRows, 3), view(g),
                               rows, p),
                 "AdamRows", "3", "4");
  EXPECT_INVALID(ops::AdamRows(view(w), view(m), view(v),
                               view(g, kRows, kCols, 5), rows, p),
                 "AdamRows", "5", "6");
  // stride < cols for w (and the others, to keep shapes equal).
  EXPECT_INVALID(ops::AdamRows(view(w, kRows, kCols, 3),
                               view(m, kRows, kCols, 3),
                               view(v, kRows, kCols, 3),
                               view(g, kRows, kCols, 3), rows, p),
                 "AdamRows", "3", "4");
  // Out-of-range rows, the bad one last.
  const std::vector<uint32_t> bad1 = {0, kBad}, bad2 = {0, 5};
  EXPECT_INVALID(ops::AdamRows(view(w), view(m), view(v), view(g), bad1, p),
                 "AdamRows", "4294967295", "5");
  EXPECT_INVALID(ops::AdamRows(view(w), view(m), view(v), view(g), bad2, p),
                 "AdamRows", "5");
  EXPECT_EQ(w, w0);
  EXPECT_EQ(m, m0);
  EXPECT_EQ(v, v0);
  EXPECT_EQ(g, g0) << "gradient consumed by a rejected call";
}

TEST(Ops, SgdMomentum) {
  SgdParams p;
  p.lr = 0.125f;
  p.momentum = 0.5f;
  p.weight_decay = 0.25f;
  const std::vector<float> w0 = {4, -2, 1, 0, 8, 2, -4, 1, 3};
  const std::vector<float> mom0 = {2, 0, -1, 1, 0, 0.5f, 0, 4, -2};
  const std::vector<float> g = {1, 0.5f, -2, 0, 1, 0.25f, -1, 2, 0};
  auto w = w0, mom = mom0, rw = w0, rmom = mom0;
  ops::SgdMomentum(w, mom, g, p);
  kernels::SgdMomentumRef(rw.data(), rmom.data(), g.data(), g.size(), p);
  ExpectAllNear(w, rw, 1e-6, "w");
  ExpectAllNear(mom, rmom, 1e-6, "mom");
  EXPECT_EQ(w[0], 3.625f);

  w = w0, mom = mom0;
  std::vector<float> short8(8, 0.0f);
  EXPECT_INVALID(ops::SgdMomentum(w, short8, g, p), "SgdMomentum", "8", "9");
  EXPECT_INVALID(ops::SgdMomentum(w, mom, short8, p), "SgdMomentum", "8", "9");
  EXPECT_EQ(w, w0);
  EXPECT_EQ(mom, mom0);
}

// ---------------------------------------------------------------------------
// Activations

TEST(Ops, Relu) {
  const std::vector<float> x = {-1, 2, -0.5f, 0, 3, -4, 5, 6, -7};
  std::vector<float> y(x.size(), 777.0f), want(x.size());
  ops::Relu(x, y);
  kernels::ReluRef(x.data(), want.data(), x.size());
  EXPECT_EQ(y, want);
  EXPECT_EQ(y, (std::vector<float>{0, 2, 0, 0, 3, 0, 5, 6, 0}));
  auto z = x;  // in place
  ops::Relu(z, z);
  EXPECT_EQ(z, want);

  std::vector<float> y8(8, 777.0f);
  EXPECT_INVALID(ops::Relu(x, y8), "Relu", "8", "9");
  EXPECT_EQ(y8, std::vector<float>(8, 777.0f));
}

TEST(Ops, Sigmoid) {
  const std::vector<float> x = {-1, 2, -0.5f, 0, 3, -4, 5, 6, -7};
  std::vector<float> y(x.size(), 777.0f), want(x.size());
  ops::Sigmoid(x, y);
  kernels::SigmoidRef(x.data(), want.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_TRUE(Near(y[i], want[i], 0, 0, 2e-6)) << "i=" << i;
  }
  std::vector<float> y8(8, 777.0f);
  EXPECT_INVALID(ops::Sigmoid(x, y8), "Sigmoid", "8", "9");
  EXPECT_EQ(y8, std::vector<float>(8, 777.0f));
}

template <class Op, class Ref>
void CheckSoftmaxOp(Op op, Ref ref, const char* name, bool log) {
  const std::vector<float> x = {-1, 2, -0.5f, 0, 3, -4, 5, 6, -7};
  std::vector<float> y(x.size(), 777.0f), want(x.size());
  const float lse = op(x, y);
  const float want_lse = ref(x.data(), want.data(), x.size());
  EXPECT_TRUE(Near(lse, want_lse, std::fabs(want_lse), 1e-5));
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_TRUE(log ? Near(y[i], want[i], std::max(1.0f, std::fabs(x[i])), 1e-5)
                    : Near(y[i], want[i], std::fabs(want[i]), 1e-5, 1e-6))
        << name << " i=" << i;
  }
  const float empty = op(Span<const float>(), Span<float>());
  EXPECT_TRUE(std::isinf(empty) && empty < 0) << name << " of nothing";
  std::vector<float> y8(8, 777.0f);
  EXPECT_INVALID(op(x, y8), name, "8", "9");
  EXPECT_EQ(y8, std::vector<float>(8, 777.0f));
  std::vector<float> y10(10, 777.0f);
  EXPECT_INVALID(op(x, y10), name, "10", "9");
  EXPECT_EQ(y10, std::vector<float>(10, 777.0f));
}

TEST(Ops, Softmax) {
  CheckSoftmaxOp(
      [](Span<const float> x, Span<float> y) { return ops::Softmax(x, y); },
      kernels::SoftmaxRef, "Softmax", false);
}

TEST(Ops, LogSoftmax) {
  CheckSoftmaxOp(
      [](Span<const float> x, Span<float> y) { return ops::LogSoftmax(x, y); },
      kernels::LogSoftmaxRef, "LogSoftmax", true);
}

// ---------------------------------------------------------------------------
// TopK

TEST(Ops, TopK) {
  const std::vector<float> x = {1, 3, kNaN, 3, 7, -2, 0, 5};
  std::vector<uint32_t> idx(4, 777), want_idx(4);
  std::vector<float> val(4, 777.0f), want_val(4);
  EXPECT_EQ(ops::TopK(x, 4, idx, val), 4u);
  kernels::TopKRef(x.data(), x.size(), 4, want_idx.data(), want_val.data());
  EXPECT_EQ(idx, want_idx);
  EXPECT_EQ(idx, (std::vector<uint32_t>{2, 4, 7, 1}));
  EXPECT_TRUE(std::isnan(val[0]));
  EXPECT_EQ(val[1], 7.0f);
  // k > n: min(k, n) entries, so outputs of x.size() suffice.
  std::vector<uint32_t> idx8(8);
  std::vector<float> val8(8);
  EXPECT_EQ(ops::TopK(x, 100, idx8, val8), 8u);
  EXPECT_EQ(idx8.back(), 5u);
  EXPECT_EQ(ops::TopK(x, 0, Span<uint32_t>(), Span<float>()), 0u);

  std::fill(idx.begin(), idx.end(), 777u);
  std::fill(val.begin(), val.end(), 777.0f);
  std::vector<uint32_t> idx2(2, 777);
  std::vector<float> val2(2, 777.0f);
  EXPECT_INVALID(ops::TopK(x, 3, idx2, val), "TopK", "2", "3");
  EXPECT_INVALID(ops::TopK(x, 3, idx, val2), "TopK", "2", "3");
  // k > n: the requirement is min(k, n) = 8.
  EXPECT_INVALID(ops::TopK(x, 100, idx, val), "TopK", "4", "8");
  EXPECT_EQ(idx2, std::vector<uint32_t>(2, 777));
  EXPECT_EQ(val2, std::vector<float>(2, 777.0f));
  EXPECT_EQ(idx, std::vector<uint32_t>(4, 777));
  EXPECT_EQ(val, std::vector<float>(4, 777.0f));
  // More than 2^32 - 1 elements cannot be indexed by uint32_t. (k = 0, so
  // the bogus span would never be read even if the check were missing.)
  const Span<const float> huge(x.data(), size_t{1} << 32);
  EXPECT_INVALID(ops::TopK(huge, 0, Span<uint32_t>(), Span<float>()), "TopK",
                 "4294967296");
}

// ---------------------------------------------------------------------------
// NaN inputs propagate to the outputs (dispatch/ops.h).

TEST(Ops, NaNInputsPropagate) {
  std::vector<float> x(9, 1.0f);
  x[8] = kNaN;
  const std::vector<float> ones(9, 1.0f);
  EXPECT_TRUE(std::isnan(ops::Dot(x, ones)));
  {
    std::vector<float> y(9, 0.0f);
    ops::Axpy(1.0f, x, y);
    EXPECT_TRUE(std::isnan(y[8]));
  }
  {
    auto y = x;
    ops::Scale(2.0f, y);
    EXPECT_TRUE(std::isnan(y[8]));
  }
  {
    const std::vector<uint32_t> idx = {0};
    const std::vector<float> val = {1.0f};
    std::vector<float> out(9, 0.0f);
    ops::RowAccumulate(MatrixView<const float>(x.data(), 1, 9), idx, val, out);
    EXPECT_TRUE(std::isnan(out[8]));
    std::vector<float> dots(1);
    ops::RowGatherDot(MatrixView<const float>(x.data(), 1, 9), idx, ones,
                      dots);
    EXPECT_TRUE(std::isnan(dots[0]));
  }
  std::vector<float> y(9);
  ops::Relu(x, y);
  EXPECT_TRUE(std::isnan(y[8])) << "Relu";
  ops::Sigmoid(x, y);
  EXPECT_TRUE(std::isnan(y[8])) << "Sigmoid(NaN) = " << y[8];
  EXPECT_TRUE(std::isnan(ops::Softmax(x, y)));
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_TRUE(std::isnan(ops::LogSoftmax(x, y)));
  EXPECT_TRUE(std::isnan(y[0]));
  {
    std::vector<float> w(9, 1.0f), m(9, 0.0f), v(9, 0.0f);
    ops::AdamDense(w, m, v, x, AdamParams());
    EXPECT_TRUE(std::isnan(w[8]));
    std::vector<float> mom(9, 0.0f);
    ops::SgdMomentum(w, mom, x, SgdParams());
    EXPECT_TRUE(std::isnan(mom[8]));
  }
}

// ---------------------------------------------------------------------------
// Size products must not wrap around: the checks compare bins.size() with
// bin_size * winners.size() and proj.size() with k * l * nnz_per_proj. With
// values whose product overflows size_t, a short array passes the check and
// the kernel then reads far past it. These run in a child process (a crash
// only fails the test): the call must throw std::invalid_argument.

TEST(OpsDeathTest, SrpHashSizeProductDoesNotWrap) {
  const std::vector<float> x = {1.0f, 2.0f};
  const std::vector<uint32_t> proj = {0, 1, 0, 1};
  ops::SrpProjections p;
  p.proj = proj;
  p.k = 2;
  p.l = 2;
  p.nnz_per_proj = (size_t{1} << 62) + 1;  // 2 * 2 * (2^62 + 1) == 4 mod 2^64
  p.input_dim = x.size();
  std::vector<uint32_t> codes(2);
  EXPECT_EXIT(
      {
        try {
          ops::SrpHash(x, p, codes);
        } catch (const std::invalid_argument&) {
          std::_Exit(0);
        }
        std::_Exit(1);  // returned without complaint
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(OpsDeathTest, DwtaBinsSizeProductDoesNotWrap) {
  const std::vector<float> x = {1.0f, 2.0f};
  const std::vector<uint32_t> bins = {0, 1};
  std::vector<uint32_t> winners(2);
  const size_t bin_size = (size_t{1} << 63) + 1;  // * 2 == 2 mod 2^64
  EXPECT_EXIT(
      {
        try {
          ops::DwtaBins(x, bins, bin_size, winners);
        } catch (const std::invalid_argument&) {
          std::_Exit(0);
        }
        std::_Exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace frugal
