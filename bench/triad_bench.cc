// STREAM-style triad, the bandwidth yardstick for the memory-bound kernels:
//   Triad/1thread              a[i] = b[i] + s * c[i], 3 x 64M floats (256 MB
//                              each), one thread.
//   Triad/2threads/real_time   the same split in two static halves with oneTBB
//                              (wall-clock time: two threads run).
//   RowTriad/1thread           the same per 512-byte row (128 floats) over 3000
//                              random distinct rows per call, the DRAM access
//                              pattern of the row kernels; rows 4 ahead are
//                              software-prefetched, as the kernels do.
//   RandomRead/<bytes>         reads (sums) whole chunks of <bytes> of `b`
//                              at random chunk-aligned offsets, each chunk
//                              once per sweep, no software prefetch: what
//                              one core's plain loads reach on random
//                              contiguous chunks, the ceiling a row kernel's
//                              DRAM case is up against (512 bytes = a row of
//                              128 floats; 64 KB approaches the triad).
// Bytes counted follow the STREAM convention: 3 x 4 bytes per element (read
// b, read c, write a). Plain stores are used, so the hardware also reads each
// line of `a` before writing it (write-allocate): the DRAM traffic is 4 x 4
// bytes per element, 4/3 of the figure reported.
#include <benchmark/benchmark.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <vector>

namespace frugal::bench {
namespace {

constexpr size_t kTriadN = size_t{64} << 20;  // floats per array (256 MB)
constexpr size_t kRowDim = 128;               // floats per row (512 bytes)
constexpr size_t kRowsPerCall = 3000;
constexpr size_t kRowPrefetch = 4;  // rows ahead, as the row kernels
constexpr float kScalar = 3.0f;

float* AllocFloats(size_t n) {
  const size_t bytes = n * sizeof(float);
  const size_t align = size_t{2} << 20;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  const char* huge = std::getenv("FRUGAL_BENCH_HUGEPAGES");
  if (huge != nullptr && huge[0] == '1') madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<float*>(p);
}

// Three arrays, first touched by the threads that use them (halves), shared
// by every triad benchmark; allocated on first use and kept.
struct TriadArrays {
  float* a;
  float* b;
  float* c;
  std::vector<uint32_t> row_stream;  // permutations of the row ids
};

TriadArrays& Arrays() {
  static TriadArrays* arrays = [] {
    auto* t = new TriadArrays{AllocFloats(kTriadN), AllocFloats(kTriadN),
                              AllocFloats(kTriadN), {}};
    tbb::task_arena arena(2);
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, kTriadN, kTriadN / 2),
          [&](const tbb::blocked_range<size_t>& r) {
            for (size_t i = r.begin(); i < r.end(); ++i) {
              t->a[i] = 0.0f;
              t->b[i] = 1.0f + float(i & 1023) * 1e-3f;
              t->c[i] = 2.0f - float(i & 511) * 1e-3f;
            }
          },
          tbb::static_partitioner());
    });
    // Two random permutations of the rows, cut in whole calls: the rows of a
    // call are distinct, and a row comes back only after a full sweep, so
    // neither the caches nor the prefetchers can follow.
    const size_t rows = kTriadN / kRowDim;
    const size_t per_perm = rows / kRowsPerCall * kRowsPerCall;
    std::vector<uint32_t> perm(rows);
    std::iota(perm.begin(), perm.end(), 0u);
    std::mt19937_64 rng(0x7121ad);
    for (int p = 0; p < 2; ++p) {
      std::shuffle(perm.begin(), perm.end(), rng);
      t->row_stream.insert(t->row_stream.end(), perm.begin(),
                           perm.begin() + ptrdiff_t(per_perm));
    }
    return t;
  }();
  return *arrays;
}

// On x86-64 compiled for AVX-512 / AVX2 / baseline, chosen at load time
// (ifunc); on aarch64 the NEON baseline (GCC 12 has no target_clones there).
// The triad is memory-bound; the widths differ by a few percent at most.
#if defined(__x86_64__)
#define FRUGAL_TRIAD_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FRUGAL_TRIAD_CLONES
#endif

FRUGAL_TRIAD_CLONES void TriadSpan(
    float* __restrict a, const float* __restrict b,
    const float* __restrict c, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

FRUGAL_TRIAD_CLONES void RowTriad(
    float* __restrict a, const float* __restrict b,
    const float* __restrict c, float s, const uint32_t* rows,
    size_t num_rows) {
  constexpr size_t kRowBytes = kRowDim * sizeof(float);
  auto prefetch = [&](size_t j) {
    const size_t off = size_t{rows[j]} * kRowDim;
    for (size_t byte = 0; byte < kRowBytes; byte += 64) {
      __builtin_prefetch(reinterpret_cast<const char*>(b + off) + byte, 0);
      __builtin_prefetch(reinterpret_cast<const char*>(c + off) + byte, 0);
      __builtin_prefetch(reinterpret_cast<const char*>(a + off) + byte, 1);
    }
  };
  for (size_t j = 0; j < num_rows && j < kRowPrefetch; ++j) prefetch(j);
  for (size_t j = 0; j < num_rows; ++j) {
    if (j + kRowPrefetch < num_rows) prefetch(j + kRowPrefetch);
    const size_t off = size_t{rows[j]} * kRowDim;
    for (size_t i = 0; i < kRowDim; ++i) {
      a[off + i] = b[off + i] + s * c[off + i];
    }
  }
}

// sum of the chunk_floats-float chunks chunks[0, count) of b.
FRUGAL_TRIAD_CLONES float SumChunks(const float* __restrict b,
                                    const uint32_t* chunks, size_t count,
                                    size_t chunk_floats) {
  float acc[16] = {};
  for (size_t j = 0; j < count; ++j) {
    const float* p = b + size_t{chunks[j]} * chunk_floats;
    for (size_t i = 0; i < chunk_floats; i += 16) {
      for (size_t k = 0; k < 16; ++k) acc[k] += p[i + k];
    }
  }
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}

void SetTriadCounters(benchmark::State& state, double bytes_per_iter,
                      double flops_per_iter) {
  const double iters = double(state.iterations());
  state.SetBytesProcessed(int64_t(bytes_per_iter * iters));
  state.counters["GFLOPS"] =
      benchmark::Counter(flops_per_iter * iters * 1e-9,
                         benchmark::Counter::kIsRate);
}

void BM_Triad1(benchmark::State& state) {
  TriadArrays& t = Arrays();
  for (auto _ : state) {
    TriadSpan(t.a, t.b, t.c, kScalar, kTriadN);
    benchmark::ClobberMemory();
  }
  SetTriadCounters(state, 3.0 * sizeof(float) * kTriadN, 2.0 * kTriadN);
}

void BM_Triad2(benchmark::State& state) {
  TriadArrays& t = Arrays();
  tbb::task_arena arena(2);
  arena.initialize();
  for (auto _ : state) {
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, kTriadN, kTriadN / 2),
          [&](const tbb::blocked_range<size_t>& r) {
            TriadSpan(t.a + r.begin(), t.b + r.begin(), t.c + r.begin(),
                      kScalar, r.size());
          },
          tbb::static_partitioner());
    });
    benchmark::ClobberMemory();
  }
  SetTriadCounters(state, 3.0 * sizeof(float) * kTriadN, 2.0 * kTriadN);
}

void BM_RowTriad1(benchmark::State& state) {
  TriadArrays& t = Arrays();
  const size_t calls = t.row_stream.size() / kRowsPerCall;
  size_t next = 0;
  for (auto _ : state) {
    RowTriad(t.a, t.b, t.c, kScalar, t.row_stream.data() + next * kRowsPerCall,
             kRowsPerCall);
    benchmark::ClobberMemory();
    next = next + 1 == calls ? 0 : next + 1;
  }
  // Rows plus the 4-byte row ids.
  SetTriadCounters(state,
                   double(kRowsPerCall) * (3.0 * sizeof(float) * kRowDim + 4),
                   2.0 * double(kRowsPerCall) * kRowDim);
}

// One random permutation of b's chunks of `chunk_bytes` per size, kept.
const std::vector<uint32_t>& ChunkStream(size_t chunk_bytes) {
  static std::map<size_t, std::vector<uint32_t>> streams;
  std::vector<uint32_t>& s = streams[chunk_bytes];
  if (s.empty()) {
    s.resize(kTriadN * sizeof(float) / chunk_bytes);
    std::iota(s.begin(), s.end(), 0u);
    std::mt19937_64 rng(0x5eed + chunk_bytes);
    std::shuffle(s.begin(), s.end(), rng);
  }
  return s;
}

// Each iteration reads 1 MB in chunks of state.range(0) bytes.
void BM_RandomRead(benchmark::State& state) {
  TriadArrays& t = Arrays();
  const size_t chunk_bytes = size_t(state.range(0));
  const std::vector<uint32_t>& chunks = ChunkStream(chunk_bytes);
  const size_t per_iter = (size_t{1} << 20) / chunk_bytes;
  const size_t calls = chunks.size() / per_iter;
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(SumChunks(t.b, chunks.data() + next * per_iter,
                                       per_iter, chunk_bytes / sizeof(float)));
    next = next + 1 == calls ? 0 : next + 1;
  }
  SetTriadCounters(state, double(per_iter * chunk_bytes),
                   double(per_iter * chunk_bytes / sizeof(float)));
}

}  // namespace

// Called by main() in kernels_bench.cc after the kernel benchmarks, so the
// two-thread run comes last (its TBB workers never overlap another timing).
void RegisterTriadBenchmarks() {
  benchmark::RegisterBenchmark("Triad/1thread", BM_Triad1);
  benchmark::RegisterBenchmark("RowTriad/1thread", BM_RowTriad1);
  for (const int64_t bytes : {512, 2048, 4096, 65536}) {
    benchmark::RegisterBenchmark("RandomRead", BM_RandomRead)->Arg(bytes);
  }
  benchmark::RegisterBenchmark("Triad/2threads", BM_Triad2)->UseRealTime();
}

}  // namespace frugal::bench
