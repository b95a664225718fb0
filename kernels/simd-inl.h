// Per-target helpers shared by the kernel files. Included after
// foreach_target.h, once per target (toggle guard below).
#if defined(FRUGAL_KERNELS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FRUGAL_KERNELS_SIMD_INL_H_
#undef FRUGAL_KERNELS_SIMD_INL_H_
#else
#define FRUGAL_KERNELS_SIMD_INL_H_
#endif

#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace frugal::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// True where a masked load/store never touches memory of inactive lanes.
#undef FRUGAL_SAFE_MASKED_MEMORY
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 ||      \
    HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
#define FRUGAL_SAFE_MASKED_MEMORY 1
#else
#define FRUGAL_SAFE_MASKED_MEMORY 0
#endif

// Loads p[0, count) into the low lanes, zeros above; count < Lanes(d).
// Never reads past p + count.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::VFromD<D> LoadTail(D d, const T* HWY_RESTRICT p,
                                  size_t count) {
#if FRUGAL_SAFE_MASKED_MEMORY
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
  std::memcpy(buf, p, count * sizeof(T));
  return hn::Load(d, buf);
#endif
}

// Stores the low `count` lanes of v to p; count < Lanes(d). Never writes past
// p + count.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StoreTail(hn::VFromD<D> v, D d, T* HWY_RESTRICT p,
                          size_t count) {
#if FRUGAL_SAFE_MASKED_MEMORY
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, count * sizeof(T));
#endif
}

// Loads Lanes(df) bf16 values from p as float.
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadBf16(DF df, const hwy::bfloat16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, p));
}

// Loads p[0, count) bf16 values as float, zeros above; count < Lanes(df).
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadTailBf16(DF df,
                                       const hwy::bfloat16_t* HWY_RESTRICT p,
                                       size_t count) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, LoadTail(dbf, p, count));
}

// Float loads from either float or bf16 storage, so one kernel body serves
// both weight types.
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadF(DF df, const float* HWY_RESTRICT p) {
  return hn::LoadU(df, p);
}
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadF(DF df, const hwy::bfloat16_t* HWY_RESTRICT p) {
  return LoadBf16(df, p);
}
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadTailF(DF df, const float* HWY_RESTRICT p,
                                    size_t count) {
  return LoadTail(df, p, count);
}
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadTailF(DF df,
                                    const hwy::bfloat16_t* HWY_RESTRICT p,
                                    size_t count) {
  return LoadTailBf16(df, p, count);
}

// Prefetches `bytes` bytes starting at p into all cache levels.
template <typename T>
HWY_INLINE void PrefetchBytes(const T* p, size_t bytes) {
  const char* c = reinterpret_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) hwy::Prefetch(c + off);
}

// Calls body(i, row(rows[i])) for i in [0, count) in order, prefetching the
// rows `ahead` positions later (row r at base + r * stride, row_bytes long).
template <typename T, class Body>
HWY_INLINE void ForEachRowPrefetched(T* base, size_t stride,
                                     const uint32_t* HWY_RESTRICT rows,
                                     size_t count, size_t row_bytes,
                                     size_t ahead, const Body& body) {
  for (size_t i = 0; i < count && i < ahead; ++i) {
    PrefetchBytes(base + size_t{rows[i]} * stride, row_bytes);
  }
  for (size_t i = 0; i < count; ++i) {
    if (i + ahead < count) {
      PrefetchBytes(base + size_t{rows[i + ahead]} * stride, row_bytes);
    }
    body(i, base + size_t{rows[i]} * stride);
  }
}

// sum_i w[i] * h[i] over n elements, W float or bf16; four accumulators.
template <typename TW>
HWY_INLINE float DotImpl(const TW* HWY_RESTRICT w, const float* HWY_RESTRICT h,
                         size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(LoadF(d, w + i), hn::LoadU(d, h + i), s0);
    s1 = hn::MulAdd(LoadF(d, w + i + N), hn::LoadU(d, h + i + N), s1);
    s2 = hn::MulAdd(LoadF(d, w + i + 2 * N), hn::LoadU(d, h + i + 2 * N), s2);
    s3 = hn::MulAdd(LoadF(d, w + i + 3 * N), hn::LoadU(d, h + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) {
    s0 = hn::MulAdd(LoadF(d, w + i), hn::LoadU(d, h + i), s0);
  }
  if (i < n) {
    s1 = hn::MulAdd(LoadTailF(d, w + i, n - i), LoadTail(d, h + i, n - i), s1);
  }
  const auto s = hn::Add(hn::Add(s0, s1), hn::Add(s2, s3));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// out[d] += scale * w[d] over n elements, W float or bf16.
template <typename TW>
HWY_INLINE void AxpyImpl(float scale, const TW* HWY_RESTRICT w,
                         float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto a = hn::Set(d, scale);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto o0 = hn::MulAdd(a, LoadF(d, w + i), hn::LoadU(d, out + i));
    const auto o1 =
        hn::MulAdd(a, LoadF(d, w + i + N), hn::LoadU(d, out + i + N));
    hn::StoreU(o0, d, out + i);
    hn::StoreU(o1, d, out + i + N);
  }
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::MulAdd(a, LoadF(d, w + i), hn::LoadU(d, out + i)), d,
               out + i);
  }
  if (i < n) {
    const auto o =
        hn::MulAdd(a, LoadTailF(d, w + i, n - i), LoadTail(d, out + i, n - i));
    StoreTail(o, d, out + i, n - i);
  }
}

}  // namespace frugal::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // FRUGAL_KERNELS_SIMD_INL_H_
