// Hashing kernels: signed random projections (SimHash) with sparse +/-1
// projections, densified winner-take-all bins, and a 32-bit id hash. All
// vectorize across hashes (one lane per projection or bin), so there are no
// horizontal reductions.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hash.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <limits>

#include "hwy/highway.h"
#include "kernels/hash_id.h"
#include "kernels/simd-inl.h"
#include "kernels/variant.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {

void SrpHash(const float* HWY_RESTRICT x, const uint32_t* HWY_RESTRICT proj,
             size_t nnz_per_proj, size_t k, size_t l,
             uint32_t* HWY_RESTRICT codes) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t N = hn::Lanes(df);
  const size_t num_proj = k * l;
  const auto index_mask = hn::Set(du, ~kSrpNegative);
  const auto sign_mask = hn::Set(du, kSrpNegative);
  for (size_t j = 0; j < l; ++j) codes[j] = 0;
  for (size_t p0 = 0; p0 < num_proj; p0 += N) {
    const size_t lanes = num_proj - p0 < N ? num_proj - p0 : N;
    auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
    size_t t = 0;
    auto term = [&](size_t tt) {
      const uint32_t* e = proj + tt * num_proj + p0;
      const auto entry = lanes == N ? hn::LoadU(du, e) : LoadTail(du, e, lanes);
      const auto idx = hn::BitCast(di, hn::And(entry, index_mask));
      const auto xv = hn::BitCast(du, hn::GatherIndex(df, x, idx));
      // Flip the sign bit of x where the projection weight is -1.
      return hn::BitCast(df, hn::Xor(xv, hn::And(entry, sign_mask)));
    };
    for (; t + 2 <= nnz_per_proj; t += 2) {
      acc0 = hn::Add(acc0, term(t));
      acc1 = hn::Add(acc1, term(t + 1));
    }
    if (t < nnz_per_proj) acc0 = hn::Add(acc0, term(t));
    const auto positive = hn::Gt(hn::Add(acc0, acc1), hn::Zero(df));
    uint8_t bits[(HWY_MAX_BYTES / 4 + 7) / 8 + 8];
    hn::StoreMaskBits(df, positive, bits);
    for (size_t i = 0; i < lanes; ++i) {
      if ((bits[i >> 3] >> (i & 7)) & 1) {
        const size_t p = p0 + i;
        codes[p / k] |= 1u << (p % k);
      }
    }
  }
}

void DwtaBins(const float* HWY_RESTRICT x, const uint32_t* HWY_RESTRICT bins,
              size_t bin_size, size_t num_hashes,
              uint32_t* HWY_RESTRICT winners) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t N = hn::Lanes(df);
  for (size_t j = 0; j < num_hashes; j += N) {
    const size_t lanes = num_hashes - j < N ? num_hashes - j : N;
    auto best = hn::Set(df, -std::numeric_limits<float>::infinity());
    auto arg = hn::Set(du, kDwtaEmpty);
    for (size_t t = 0; t < bin_size; ++t) {
      const uint32_t* e = bins + t * num_hashes + j;
      const auto idx = hn::BitCast(
          di, lanes == N ? hn::LoadU(du, e) : LoadTail(du, e, lanes));
      const auto v = hn::GatherIndex(df, x, idx);
      // Strict: the first wins ties; zeros are absent and never win.
      const auto better = hn::And(hn::Gt(v, best), hn::Ne(v, hn::Zero(df)));
      best = hn::IfThenElse(better, v, best);
      arg = hn::IfThenElse(hn::RebindMask(du, better),
                           hn::Set(du, static_cast<uint32_t>(t)), arg);
    }
    if (lanes == N) {
      hn::StoreU(arg, du, winners + j);
    } else {
      StoreTail(arg, du, winners + j, lanes);
    }
  }
}

void HashIds(const uint32_t* HWY_RESTRICT ids, size_t n, uint32_t seed,
             uint32_t* HWY_RESTRICT out) {
  const hn::ScalableTag<uint32_t> d;
  const size_t N = hn::Lanes(d);
  const auto vseed = hn::Set(d, seed);
  const auto c1 = hn::Set(d, 0x85ebca6bu), c2 = hn::Set(d, 0xc2b2ae35u);
  auto fmix = [&](auto h) {
    h = hn::Xor(h, hn::ShiftRight<16>(h));
    h = hn::Mul(h, c1);
    h = hn::Xor(h, hn::ShiftRight<13>(h));
    h = hn::Mul(h, c2);
    return hn::Xor(h, hn::ShiftRight<16>(h));
  };
  auto mix = [&](auto id) {  // HashId(): fmix(fmix(id ^ seed) + seed)
    return fmix(hn::Add(fmix(hn::Xor(id, vseed)), vseed));
  };
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(mix(hn::LoadU(d, ids + i)), d, out + i);
  if (i < n) StoreTail(mix(LoadTail(d, ids + i, n - i)), d, out + i, n - i);
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/hwy_variants.h"
namespace frugal::kernels {
FRUGAL_HWY_VARIANTS(SrpHash)
FRUGAL_HWY_VARIANTS(DwtaBins)
FRUGAL_HWY_VARIANTS(HashIds)
}  // namespace frugal::kernels
#endif
