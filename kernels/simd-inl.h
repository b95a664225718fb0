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
// Loads the bits as uint16 (Highway 1.0.3 has no bf16 FirstN on SVE) and
// widens them exactly: a bf16 is the high half of its float.
template <class DF>
HWY_INLINE hn::VFromD<DF> LoadTailBf16(DF df,
                                       const hwy::bfloat16_t* HWY_RESTRICT p,
                                       size_t count) {
  const hn::RebindToUnsigned<DF> du32;
  const hn::Rebind<uint16_t, DF> du16;
  const auto bits =
      LoadTail(du16, reinterpret_cast<const uint16_t*>(p), count);
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, bits)));
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

// Prefetches the cache lines of [p, p + bytes): kWrite 1 for a line about to
// be written; kLocality 3 brings it to L1, 2 to L2.
template <int kWrite, int kLocality, typename T>
HWY_INLINE void PrefetchBytes(const T* p, size_t bytes) {
  const char* c = reinterpret_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) {
    __builtin_prefetch(c + off, kWrite, kLocality);
  }
}

// Rows a row loop prefetches ahead: far into L2 (enough misses in flight to
// cover DRAM latency), near into L1 (so loads hit when the row is used).
// Chosen by sweeping bench/ DRAM cases (see bench/RESULTS.md).
constexpr size_t kFarRows = 16;
constexpr size_t kNearRows = 2;
// Of a far row only the first lines are prefetched: the L2 streamer
// follows with the rest of the row without holding L1 fill buffers.
constexpr size_t kFarBytes = 128;

// Software prefetch for step i of a loop over rows[0, count) of one or more
// matrices `bases` sharing `stride` (elements) and `row_bytes`: call before
// processing row i, for every i from 0.
template <int kWrite, typename... T>
HWY_INLINE void PrefetchRowsFor(size_t i, const uint32_t* HWY_RESTRICT rows,
                                size_t count, size_t stride, size_t row_bytes,
                                const T*... bases) {
  auto row = [&](size_t j, auto base) { return base + size_t{rows[j]} * stride; };
  const size_t far_bytes = row_bytes < kFarBytes ? row_bytes : kFarBytes;
  if (i == 0) {
    for (size_t j = 0; j < count && j < kFarRows; ++j) {
      (PrefetchBytes<kWrite, 2>(row(j, bases), far_bytes), ...);
    }
    for (size_t j = 0; j < count && j < kNearRows; ++j) {
      (PrefetchBytes<kWrite, 3>(row(j, bases), row_bytes), ...);
    }
  }
  if (i + kFarRows < count) {
    (PrefetchBytes<kWrite, 2>(row(i + kFarRows, bases), far_bytes), ...);
  }
  if (i + kNearRows < count) {
    (PrefetchBytes<kWrite, 3>(row(i + kNearRows, bases), row_bytes), ...);
  }
}

// Calls body(i, row(rows[i])) for i in [0, count) in order, with the rows
// prefetched ahead (row r at base + r * stride, row_bytes long).
template <int kWrite, typename T, class Body>
HWY_INLINE void ForEachRowPrefetched(T* base, size_t stride,
                                     const uint32_t* HWY_RESTRICT rows,
                                     size_t count, size_t row_bytes,
                                     const Body& body) {
  for (size_t i = 0; i < count; ++i) {
    PrefetchRowsFor<kWrite>(i, rows, count, stride, row_bytes,
                            static_cast<const T*>(base));
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
