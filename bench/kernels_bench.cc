// frugal_bench: one Google Benchmark per kernel x supported variant x size,
// named Kernel/variant/size (e.g. Dot/avx512/1024, AdamRows/scalar/dram), so
// --benchmark_filter selects. Every variant dispatch::SupportedVariants()
// returns is measured, including Highway's "scalar" target and the plain
// "reference" oracle. Counters: bytes_per_second (bytes the kernel reads
// plus writes, per call, as documented at each case) and GFLOPS (nominal
// flops per call; exp, sqrt, div, compare count 1 each; 0 for integer
// kernels). Plus Dot/Axpy written with xsimd (xsimd_baseline.cc) and the
// triads (triad_bench.cc). bench/run.sh runs it and prints a table.
//
// Inputs are random with fixed seeds. Big arrays are allocated once, lazily
// (only when a benchmark that needs them runs), filled (so every page is
// touched) before any timing, and shared between the variants. Random row
// ids come from streams of random permutations cut into calls: the rows of
// one call are distinct, and a row comes back only after a sweep over the
// whole matrix, so neither caches nor prefetchers can follow.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dispatch/cpu.h"
#include "dispatch/isa.h"
#include "dispatch/registry.h"
#include "kernels/kernel_list.h"
#include "kernels/types.h"
#include "kernels/variant.h"

namespace frugal::bench {

void RegisterTriadBenchmarks();  // triad_bench.cc
#if FRUGAL_BENCH_XSIMD
float XsimdDot(const float* a, const float* b, size_t n);  // xsimd_baseline.cc
void XsimdAxpy(float a, const float* x, float* y, size_t n);
const char* XsimdArchName();
#endif

namespace {

// ---------------------------------------------------------------- helpers

constexpr size_t kMi = size_t{1} << 20;

bool HugePagesRequested() {
  const char* huge = std::getenv("FRUGAL_BENCH_HUGEPAGES");
  return huge != nullptr && huge[0] == '1';
}

// 64-byte aligned (2 MiB for big arrays), never freed: the arrays live for
// the whole run and are shared between benchmarks.
template <typename T>
T* Alloc(size_t n) {
  const size_t bytes = std::max<size_t>(n * sizeof(T), 64);
  const size_t align = bytes >= 4 * kMi ? 2 * kMi : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  if (align > 64 && HugePagesRequested()) madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<T*>(p);
}

// splitmix64: fast enough to fill gigabytes at startup.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float Uniform(float lo, float hi) {
    return lo + (hi - lo) * float(Next() >> 40) * (1.0f / 16777216.0f);
  }
  uint32_t Below(uint32_t n) { return uint32_t((Next() >> 32) * n >> 32); }
};

void FillUniform(float* p, size_t n, float lo, float hi, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = rng.Uniform(lo, hi);
}

float* RandomFloats(size_t n, float lo, float hi, uint64_t seed) {
  float* p = Alloc<float>(n);
  FillUniform(p, n, lo, hi, seed);
  return p;
}

bf16* RandomBf16(size_t n, float lo, float hi, uint64_t seed) {
  bf16* p = Alloc<bf16>(n);
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = FloatToBf16(rng.Uniform(lo, hi));
  return p;
}

// Arrays shared between benchmarks (e.g. the 1 GB matrix of RowAccumulate
// and ScatterAddRows), created on first use.
template <typename T>
T* Shared(const std::string& key, size_t n, float lo, float hi) {
  static std::map<std::string, std::pair<T*, size_t>> arrays;
  auto it = arrays.find(key);
  if (it != arrays.end()) {
    if (it->second.second != n) std::abort();  // a key names one shape
    return it->second.first;
  }
  const uint64_t seed = std::hash<std::string>()(key);
  T* p;
  if constexpr (std::is_same_v<T, bf16>) {
    p = RandomBf16(n, lo, hi, seed);
  } else {
    p = RandomFloats(n, lo, hi, seed);
  }
  arrays.emplace(key, std::make_pair(p, n));
  return p;
}

// Row ids for successive calls, `per_call` each. distinct: random
// permutations of [0, rows) cut in whole calls (needs per_call <= rows).
// Otherwise independent uniform ids (repeats allowed), `calls` calls.
class RowStream {
 public:
  RowStream(uint32_t rows, size_t per_call, bool distinct, size_t perms_or_calls,
            uint64_t seed)
      : per_call_(per_call) {
    std::mt19937_64 rng(seed);
    if (distinct) {
      std::vector<uint32_t> perm(rows);
      std::iota(perm.begin(), perm.end(), 0u);
      calls_per_sweep_ = rows / per_call;
      for (size_t p = 0; p < perms_or_calls; ++p) {
        std::shuffle(perm.begin(), perm.end(), rng);
        ids_.insert(ids_.end(), perm.begin(),
                    perm.begin() + ptrdiff_t(calls_per_sweep_ * per_call));
      }
    } else {
      Rng r(seed);
      ids_.resize(perms_or_calls * per_call);
      for (uint32_t& id : ids_) id = r.Below(rows);
      calls_per_sweep_ = perms_or_calls;
    }
    calls_ = ids_.size() / per_call;
  }
  const uint32_t* Next() {
    const uint32_t* p = ids_.data() + next_ * per_call_;
    next_ = next_ + 1 == calls_ ? 0 : next_ + 1;
    return p;
  }
  size_t calls_per_sweep() const { return calls_per_sweep_; }

 private:
  size_t per_call_;
  size_t calls_ = 0;
  size_t calls_per_sweep_ = 0;
  size_t next_ = 0;
  std::vector<uint32_t> ids_;
};

void SetCounters(benchmark::State& state, double bytes_per_call,
                 double flops_per_call) {
  const double iters = double(state.iterations());
  state.SetBytesProcessed(int64_t(bytes_per_call * iters));
  state.counters["GFLOPS"] = benchmark::Counter(
      flops_per_call * iters * 1e-9, benchmark::Counter::kIsRate);
}

// Registers Kernel/variant/size for every variant this CPU supports.
// make_body(fn) returns the benchmark function for one variant; the case's
// data is shared between variants through what make_body captures.
template <class Fn, class MakeBody>
void RegisterVariants(const char* kernel,
                      const std::vector<kernels::Variant<Fn>>& all,
                      const std::string& size, const MakeBody& make_body) {
  for (const auto& v : dispatch::SupportedVariants(all)) {
    const std::string name = std::string(kernel) + "/" + v.name + "/" + size;
    benchmark::RegisterBenchmark(name.c_str(), make_body(v.fn));
  }
}

// Lazily built case data shared by the variants of one case.
template <class T>
class Lazy {
 public:
  template <class Make>
  explicit Lazy(Make make) : make_(std::move(make)) {}
  T& Get() {
    if (!value_) value_ = make_();
    return *value_;
  }

 private:
  std::function<std::unique_ptr<T>()> make_;
  std::unique_ptr<T> value_;
};

template <class T, class Make>
std::shared_ptr<Lazy<T>> MakeLazy(Make make) {
  return std::make_shared<Lazy<T>>(std::move(make));
}

std::string SizeName(size_t n) {
  if (n >= kMi && n % kMi == 0) return std::to_string(n / kMi) + "M";
  return std::to_string(n);
}

// ---------------------------------------------------------------- dense

// Dot, DotBf16 (and the xsimd Dot): a, b of n elements. bytes: n *
// (sizeof(W) + 4); flops: 2n. 128..1024 are L1-resident. 4M (2 x 16 MB)
// turned out to fit in this machine's L3 (sequential reads of 32 MB run at
// twice the DRAM rate), so 64M (2 x 256 MB) is the DRAM case.
constexpr size_t kDotSizes[] = {128, 256, 512, 1024, 4 * kMi, 64 * kMi};
struct DotCase {
  size_t n;
  float* a;  // also h of DotBf16
  float* b;
  bf16* w;
};

std::shared_ptr<Lazy<DotCase>> DotData(size_t n) {
  return MakeLazy<DotCase>([n] {
    const std::string k = "dot" + std::to_string(n);
    return std::make_unique<DotCase>(
        DotCase{n, Shared<float>(k + "a", n, -1, 1),
                Shared<float>(k + "b", n, -1, 1),
                Shared<bf16>(k + "w", n, -1, 1)});
  });
}

void RegisterDot() {
  for (size_t n : kDotSizes) {
    auto data = DotData(n);
    RegisterVariants("Dot", kernels::DotVariants(), SizeName(n),
                     [data](kernels::DotFn fn) {
                       return [data, fn](benchmark::State& st) {
                         DotCase& c = data->Get();
                         for (auto _ : st) {
                           float r = fn(c.a, c.b, c.n);
                           benchmark::DoNotOptimize(r);
                         }
                         SetCounters(st, 8.0 * c.n, 2.0 * c.n);
                       };
                     });
#if FRUGAL_BENCH_XSIMD
    if (DetectCpu().isa & kIsaAvx512) {
      benchmark::RegisterBenchmark(
          ("Dot/xsimd/" + SizeName(n)).c_str(), [data](benchmark::State& st) {
            DotCase& c = data->Get();
            for (auto _ : st) {
              float r = XsimdDot(c.a, c.b, c.n);
              benchmark::DoNotOptimize(r);
            }
            SetCounters(st, 8.0 * c.n, 2.0 * c.n);
          });
    }
#endif
  }
  for (size_t n : kDotSizes) {
    auto data = DotData(n);
    RegisterVariants("DotBf16", kernels::DotBf16Variants(), SizeName(n),
                     [data](kernels::DotBf16Fn fn) {
                       return [data, fn](benchmark::State& st) {
                         DotCase& c = data->Get();
                         for (auto _ : st) {
                           float r = fn(c.w, c.a, c.n);
                           benchmark::DoNotOptimize(r);
                         }
                         SetCounters(st, 6.0 * c.n, 2.0 * c.n);
                       };
                     });
  }
}

// Axpy (and the xsimd Axpy): y += a x. bytes 12n (x, y read; y written);
// flops 2n. Scale: x *= a, alternately 2 and 0.5 so values stay put; bytes
// 8n, flops n. SgdMomentum: bytes 20n (w, mom, g read; w, mom written),
// flops 6n. The 16M arrays are shared by the three.
void RegisterStreaming() {
  for (size_t n : {size_t{1024}, 16 * kMi}) {
    const std::string k = "vec" + std::to_string(n);
    auto x = [k, n] { return Shared<float>(k + "x", n, -1, 1); };
    auto y = [k, n] { return Shared<float>(k + "y", n, -1, 1); };
    auto z = [k, n] { return Shared<float>(k + "z", n, -1, 1); };
    RegisterVariants("Axpy", kernels::AxpyVariants(), SizeName(n),
                     [=](kernels::AxpyFn fn) {
                       return [=](benchmark::State& st) {
                         const float* px = x();
                         float* py = y();
                         for (auto _ : st) {
                           fn(1e-3f, px, py, n);
                           benchmark::ClobberMemory();
                         }
                         SetCounters(st, 12.0 * n, 2.0 * n);
                       };
                     });
#if FRUGAL_BENCH_XSIMD
    if (DetectCpu().isa & kIsaAvx512) {
      benchmark::RegisterBenchmark(
          ("Axpy/xsimd/" + SizeName(n)).c_str(), [=](benchmark::State& st) {
            const float* px = x();
            float* py = y();
            for (auto _ : st) {
              XsimdAxpy(1e-3f, px, py, n);
              benchmark::ClobberMemory();
            }
            SetCounters(st, 12.0 * n, 2.0 * n);
          });
    }
#endif
    auto flip = std::make_shared<bool>(false);
    RegisterVariants("Scale", kernels::ScaleVariants(), SizeName(n),
                     [=](kernels::ScaleFn fn) {
                       return [=](benchmark::State& st) {
                         float* pz = z();
                         for (auto _ : st) {
                           *flip = !*flip;
                           fn(*flip ? 2.0f : 0.5f, pz, n);
                           benchmark::ClobberMemory();
                         }
                         SetCounters(st, 8.0 * n, 1.0 * n);
                       };
                     });
    RegisterVariants("SgdMomentum", kernels::SgdMomentumVariants(),
                     SizeName(n), [=](kernels::SgdMomentumFn fn) {
                       return [=](benchmark::State& st) {
                         float* pw = y();
                         float* pm = z();
                         const float* pg = x();
                         SgdParams p;
                         p.weight_decay = 1e-4f;
                         for (auto _ : st) {
                           fn(pw, pm, pg, n, p);
                           benchmark::ClobberMemory();
                         }
                         SetCounters(st, 20.0 * n, 6.0 * n);
                       };
                     });
  }
}

// ---------------------------------------------------------------- rows

// RowGatherDot(+Bf16): out[j] = row(ids[j]) . h. bytes per call: num_rows *
// (dim * sizeof(W) + 4 id + 4 out) + 4 dim (h); flops 2 num_rows dim.
//   dim 128..1024: a 64-row matrix (32-256 KB float, L1/L2), 3000 uniform
//   random ids per call (repeats allowed).
//   dram: 670,091 x 128 (343 MB float, 172 MB bf16), 3000 distinct ids.
constexpr size_t kGatherRows = 3000;
constexpr uint32_t kXcRows = 670091;  // Amazon-670K output layer

template <typename W>
struct GatherCase {
  const W* w;
  size_t dim;
  const float* h;
  float* out;
  RowStream ids;
};

template <typename W>
std::shared_ptr<Lazy<GatherCase<W>>> GatherData(uint32_t rows, size_t dim,
                                                bool dram) {
  return MakeLazy<GatherCase<W>>([=] {
    const std::string k = std::string(sizeof(W) == 2 ? "gather16_" : "gather_") +
                          std::to_string(rows) + "x" + std::to_string(dim);
    return std::make_unique<GatherCase<W>>(GatherCase<W>{
        Shared<W>(k, size_t{rows} * dim, -1, 1), dim,
        RandomFloats(dim, -1, 1, dim), Alloc<float>(kGatherRows),
        dram ? RowStream(rows, kGatherRows, true, 2, 11)
             : RowStream(rows, kGatherRows, false, 4, 12)});
  });
}

template <typename W, typename Fn>
void RegisterGather(const char* kernel, const std::vector<kernels::Variant<Fn>>& all) {
  struct Shape {
    uint32_t rows;
    size_t dim;
    bool dram;
  };
  for (const Shape s : {Shape{64, 128, false}, Shape{64, 256, false},
                        Shape{64, 512, false}, Shape{64, 1024, false},
                        Shape{kXcRows, 128, true}}) {
    auto data = GatherData<W>(s.rows, s.dim, s.dram);
    RegisterVariants(
        kernel, all, s.dram ? "dram" : std::to_string(s.dim), [data](Fn fn) {
          return [data, fn](benchmark::State& st) {
            GatherCase<W>& c = data->Get();
            for (auto _ : st) {
              fn(c.w, c.dim, c.ids.Next(), kGatherRows, c.h, c.dim, c.out);
              benchmark::ClobberMemory();
            }
            SetCounters(st,
                        double(kGatherRows) * (double(c.dim) * sizeof(W) + 8) +
                            4.0 * c.dim,
                        2.0 * kGatherRows * c.dim);
          };
        });
  }
}

// RowAccumulate(+Bf16): out += sum_i val[i] row(idx[i]), dim 128, 76 distinct
// random rows per call (the sparse input of an Amazon-670K sample). bytes:
// nnz * (dim * sizeof(W) + 8 for idx, val) + 8 dim (out read and written);
// flops 2 nnz dim. ScatterAddRows: row(idx[i]) += val[i] g, the same shapes
// on the float matrix; bytes nnz * (8 dim + 8) + 4 dim (g); flops 2 nnz dim.
//   l2: 2048 x 128 (1 MB float, 512 KB bf16).
//   dram: 2,000,000 x 128 (1 GB float, 512 MB bf16); the measured L3 reach
//   is far below (see RESULTS.md), so rows come from DRAM.
constexpr size_t kAccNnz = 76;
constexpr size_t kAccDim = 128;
constexpr uint32_t kAccL2Rows = 2048;
constexpr uint32_t kAccDramRows = 2000000;

template <typename W>
struct AccCase {
  W* w;
  const float* val;
  float* out;  // also g of ScatterAddRows
  RowStream ids;
};

template <typename W>
std::shared_ptr<Lazy<AccCase<W>>> AccData(uint32_t rows) {
  return MakeLazy<AccCase<W>>([=] {
    const std::string k =
        std::string(sizeof(W) == 2 ? "acc16_" : "acc_") + std::to_string(rows);
    return std::make_unique<AccCase<W>>(AccCase<W>{
        Shared<W>(k, size_t{rows} * kAccDim, -1, 1),
        RandomFloats(kAccNnz, -0.5f, 0.5f, 21),
        RandomFloats(kAccDim, -1e-3f, 1e-3f, 22),
        RowStream(rows, kAccNnz, true, rows > kAccL2Rows ? 2 : 16, rows)});
  });
}

// RowAccumulate over float or bf16 rows (W): bytes read are the rows, the
// ids and values, and out read and written.
template <class W, class Fn>
void RegisterRowAccumulateFor(const char* name,
                              const std::vector<kernels::Variant<Fn>>& variants) {
  for (const uint32_t rows : {kAccL2Rows, kAccDramRows}) {
    const std::string size = rows == kAccL2Rows ? "l2" : "dram";
    auto data = AccData<W>(rows);
    RegisterVariants(name, variants, size, [data](Fn fn) {
      return [data, fn](benchmark::State& st) {
        AccCase<W>& c = data->Get();
        for (auto _ : st) {
          fn(c.w, kAccDim, c.ids.Next(), c.val, kAccNnz, c.out, kAccDim);
          benchmark::ClobberMemory();
        }
        SetCounters(st,
                    kAccNnz * (double(sizeof(W)) * kAccDim + 8) + 8.0 * kAccDim,
                    2.0 * kAccNnz * kAccDim);
      };
    });
  }
}

void RegisterRowAccumulate() {
  RegisterRowAccumulateFor<float>("RowAccumulate",
                                  kernels::RowAccumulateVariants());
  RegisterRowAccumulateFor<bf16>("RowAccumulateBf16",
                                 kernels::RowAccumulateBf16Variants());
  for (const uint32_t rows : {kAccL2Rows, kAccDramRows}) {
    const std::string size = rows == kAccL2Rows ? "l2" : "dram";
    // Its own id stream and g; the matrix is RowAccumulate's (values drift
    // by val * g, |g| <= 1e-3: harmless).
    auto data = AccData<float>(rows);
    RegisterVariants("ScatterAddRows", kernels::ScatterAddRowsVariants(), size,
                     [data](kernels::ScatterAddRowsFn fn) {
                       return [data, fn](benchmark::State& st) {
                         AccCase<float>& c = data->Get();
                         for (auto _ : st) {
                           fn(c.w, kAccDim, c.ids.Next(), c.val, kAccNnz, c.out,
                              kAccDim);
                           benchmark::ClobberMemory();
                         }
                         SetCounters(st, kAccNnz * (8.0 * kAccDim + 8) + 4.0 * kAccDim,
                                     2.0 * kAccNnz * kAccDim);
                       };
                     });
  }
}

// ---------------------------------------------------------------- optimizer

// Nominal flops per Adam element: m (3), v (4), step (mul, sqrt, add, div:
// 4), w (2).
constexpr double kAdamFlops = 13.0;

// AdamRows: dim 128, rows distinct per call. bytes per row: w, m, v, g read
// and written (8 x 4 x dim) + the 4-byte id; flops 13 dim per row.
//   dram: w, m, v, g each 670,091 x 128 (4 x 343 MB), 3000 rows per call.
//   l2: each 512 x 128 (4 x 256 KB), 256 rows per call.
// The kernel zeroes the gradient rows it consumes; g is refilled (untimed)
// after every 64 sweeps, so that m never decays into denormals.
struct AdamRowsCase {
  uint32_t rows;
  size_t per_call;
  float *w, *m, *v, *g;
  RowStream ids;
  size_t calls_since_refill = 0;
};

std::shared_ptr<Lazy<AdamRowsCase>> AdamRowsData(uint32_t rows,
                                                 size_t per_call) {
  return MakeLazy<AdamRowsCase>([=] {
    const std::string k = "adam_" + std::to_string(rows);
    const size_t n = size_t{rows} * kAccDim;
    return std::make_unique<AdamRowsCase>(AdamRowsCase{
        rows, per_call, Shared<float>(k + "w", n, -0.1f, 0.1f),
        Shared<float>(k + "m", n, -1e-2f, 1e-2f),
        Shared<float>(k + "v", n, 0.0f, 1e-4f),
        Shared<float>(k + "g", n, -0.1f, 0.1f),
        RowStream(rows, per_call, true, 2, rows + 1)});
  });
}

void RegisterAdam() {
  struct Shape {
    uint32_t rows;
    size_t per_call;
    const char* name;
  };
  for (const Shape s : {Shape{512, 256, "l2"}, Shape{kXcRows, 3000, "dram"}}) {
    auto data = AdamRowsData(s.rows, s.per_call);
    RegisterVariants(
        "AdamRows", kernels::AdamRowsVariants(), s.name,
        [data](kernels::AdamRowsFn fn) {
          return [data, fn](benchmark::State& st) {
            AdamRowsCase& c = data->Get();
            const AdamParams p =
                AdamParams::ForStep(1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 10);
            const size_t refill_every = 64 * c.ids.calls_per_sweep();
            for (auto _ : st) {
              fn(c.w, c.m, c.v, c.g, kAccDim, c.ids.Next(), c.per_call, kAccDim,
                 p);
              benchmark::ClobberMemory();
              if (++c.calls_since_refill == refill_every) {
                st.PauseTiming();
                FillUniform(c.g, size_t{c.rows} * kAccDim, -0.1f, 0.1f,
                            c.calls_since_refill);
                c.calls_since_refill = 0;
                st.ResumeTiming();
              }
            }
            SetCounters(st, double(c.per_call) * (32.0 * kAccDim + 4),
                        kAdamFlops * double(c.per_call) * kAccDim);
          };
        });
  }
  // AdamDense: bytes 28n (w, m, v, g read; w, m, v written); flops 13n.
  for (size_t n : {size_t{1024}, 32 * kMi}) {
    const std::string k = "adamdense" + std::to_string(n);
    RegisterVariants(
        "AdamDense", kernels::AdamDenseVariants(), SizeName(n),
        [k, n](kernels::AdamDenseFn fn) {
          return [k, n, fn](benchmark::State& st) {
            float* w = Shared<float>(k + "w", n, -0.1f, 0.1f);
            float* m = Shared<float>(k + "m", n, -1e-2f, 1e-2f);
            float* v = Shared<float>(k + "v", n, 0.0f, 1e-4f);
            const float* g = Shared<float>(k + "g", n, -0.1f, 0.1f);
            const AdamParams p =
                AdamParams::ForStep(1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 10);
            for (auto _ : st) {
              fn(w, m, v, g, n, p);
              benchmark::ClobberMemory();
            }
            SetCounters(st, 28.0 * n, kAdamFlops * n);
          };
        });
  }
}

// ---------------------------------------------------------------- hashing

// SrpHash: x of dim 128; k = 9 bits, l = 50 tables, 43 terms per projection.
// bytes: the projection table (43 x 450 x 4) + x + codes; flops: one signed
// add per term (43 x 450).
// DwtaBins: x of dim 128, 300 hashes of 8-element bins. bytes: bins (8 x 300
// x 4) + x + winners; flops: one compare per element (2400).
// HashIds: 1024 ids. bytes 8n; integer only (GFLOPS 0; items_per_second).
void RegisterHash() {
  constexpr size_t kDim = 128, kK = 9, kL = 50, kNnz = 43;
  struct Srp {
    float* x;
    std::vector<uint32_t> proj;
    std::vector<uint32_t> codes;
  };
  auto srp = MakeLazy<Srp>([] {
    auto s = std::make_unique<Srp>();
    s->x = RandomFloats(kDim, -1, 1, 31);
    Rng rng(32);
    s->proj.resize(kNnz * kK * kL);
    for (uint32_t& e : s->proj) {
      e = rng.Below(kDim) | ((rng.Next() & 1) ? kSrpNegative : 0u);
    }
    s->codes.resize(kL);
    return s;
  });
  RegisterVariants("SrpHash", kernels::SrpHashVariants(), "d128_k9_l50",
                   [srp](kernels::SrpHashFn fn) {
                     return [srp, fn](benchmark::State& st) {
                       Srp& s = srp->Get();
                       for (auto _ : st) {
                         fn(s.x, s.proj.data(), kNnz, kK, kL, s.codes.data());
                         benchmark::ClobberMemory();
                       }
                       SetCounters(st, 4.0 * (kNnz * kK * kL + kDim + kL),
                                   double(kNnz * kK * kL));
                     };
                   });

  constexpr size_t kBin = 8, kHashes = 300;
  struct Dwta {
    float* x;
    std::vector<uint32_t> bins;
    std::vector<uint32_t> winners;
  };
  auto dwta = MakeLazy<Dwta>([] {
    auto s = std::make_unique<Dwta>();
    s->x = RandomFloats(kDim, -1, 1, 41);
    Rng rng(42);
    s->bins.resize(kBin * kHashes);
    for (uint32_t& e : s->bins) e = rng.Below(kDim);
    s->winners.resize(kHashes);
    return s;
  });
  RegisterVariants("DwtaBins", kernels::DwtaBinsVariants(), "d128_b8_h300",
                   [dwta](kernels::DwtaBinsFn fn) {
                     return [dwta, fn](benchmark::State& st) {
                       Dwta& s = dwta->Get();
                       for (auto _ : st) {
                         fn(s.x, s.bins.data(), kBin, kHashes, s.winners.data());
                         benchmark::ClobberMemory();
                       }
                       SetCounters(st, 4.0 * (kBin * kHashes + kDim + kHashes),
                                   double(kBin * kHashes));
                     };
                   });

  constexpr size_t kIds = 1024;
  struct Ids {
    std::vector<uint32_t> ids, out;
  };
  auto ids = MakeLazy<Ids>([] {
    auto s = std::make_unique<Ids>();
    Rng rng(51);
    s->ids.resize(kIds);
    for (uint32_t& e : s->ids) e = uint32_t(rng.Next());
    s->out.resize(kIds);
    return s;
  });
  RegisterVariants("HashIds", kernels::HashIdsVariants(), "1024",
                   [ids](kernels::HashIdsFn fn) {
                     return [ids, fn](benchmark::State& st) {
                       Ids& s = ids->Get();
                       for (auto _ : st) {
                         fn(s.ids.data(), kIds, 0x5eedu, s.out.data());
                         benchmark::ClobberMemory();
                       }
                       SetCounters(st, 8.0 * kIds, 0.0);
                       st.SetItemsProcessed(int64_t(kIds) * st.iterations());
                     };
                   });
}

// ---------------------------------------------------------------- activations

// n = 3000 (an active set). Relu, Sigmoid: bytes 8n (x read, y written);
// flops n and 4n (neg, exp, add, div). Softmax: bytes 20n (max pass reads x;
// exp pass reads x, writes y; scale pass reads and writes y); flops 5n.
// LogSoftmax: bytes 16n (x read three times, y written once); flops 5n.
// y is a separate buffer.
void RegisterActivations() {
  constexpr size_t kN = 3000;
  struct Act {
    float* x;
    float* y;
  };
  auto data = MakeLazy<Act>([] {
    return std::make_unique<Act>(
        Act{RandomFloats(kN, -8, 8, 61), Alloc<float>(kN)});
  });
  auto reg = [&](const char* name, const auto& variants, double bytes,
                 double flops) {
    using Fn = decltype(variants[0].fn);
    RegisterVariants(name, variants, std::to_string(kN), [=](Fn fn) {
      return [=](benchmark::State& st) {
        Act& a = data->Get();
        for (auto _ : st) {
          benchmark::DoNotOptimize(fn(a.x, a.y, kN));
          benchmark::ClobberMemory();
        }
        SetCounters(st, bytes * kN, flops * kN);
      };
    });
  };
  // Relu and Sigmoid return nothing: ClobberMemory keeps y.
  RegisterVariants("Relu", kernels::ReluVariants(), std::to_string(kN),
                   [=](kernels::ReluFn fn) {
                     return [=](benchmark::State& st) {
                       Act& a = data->Get();
                       for (auto _ : st) {
                         fn(a.x, a.y, kN);
                         benchmark::ClobberMemory();
                       }
                       SetCounters(st, 8.0 * kN, 1.0 * kN);
                     };
                   });
  RegisterVariants("Sigmoid", kernels::SigmoidVariants(), std::to_string(kN),
                   [=](kernels::SigmoidFn fn) {
                     return [=](benchmark::State& st) {
                       Act& a = data->Get();
                       for (auto _ : st) {
                         fn(a.x, a.y, kN);
                         benchmark::ClobberMemory();
                       }
                       SetCounters(st, 8.0 * kN, 4.0 * kN);
                     };
                   });
  reg("Softmax", kernels::SoftmaxVariants(), 20.0, 5.0);
  reg("LogSoftmax", kernels::LogSoftmaxVariants(), 16.0, 5.0);
}

// TopK, k = 5: n = 3000 (an active set) and 670,091 (a full output layer).
// bytes 4n + 8k; flops: one compare per element.
void RegisterTopK() {
  constexpr size_t kK = 5;
  for (size_t n : {size_t{3000}, size_t{kXcRows}}) {
    auto data = MakeLazy<std::vector<float>>([n] {
      auto x = std::make_unique<std::vector<float>>(n);
      FillUniform(x->data(), n, 0, 1, n);
      return x;
    });
    RegisterVariants("TopK", kernels::TopKVariants(), std::to_string(n),
                     [=](kernels::TopKFn fn) {
                       return [=](benchmark::State& st) {
                         const std::vector<float>& x = data->Get();
                         uint32_t idx[kK];
                         float val[kK];
                         for (auto _ : st) {
                           benchmark::DoNotOptimize(
                               fn(x.data(), n, kK, idx, val));
                           benchmark::ClobberMemory();
                         }
                         SetCounters(st, 4.0 * n + 8.0 * kK, double(n));
                       };
                     });
  }
}

}  // namespace
}  // namespace frugal::bench

int main(int argc, char** argv) {
  using namespace frugal;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const CpuInfo& cpu = DetectCpu();
  benchmark::AddCustomContext("frugal_cpu", cpu.name);
  benchmark::AddCustomContext("frugal_isa", IsaMaskToString(cpu.isa));
  std::string targets;
  for (const std::string& t : dispatch::CompiledTargets()) {
    targets += (targets.empty() ? "" : " ") + t;
  }
  benchmark::AddCustomContext("frugal_compiled_targets", targets);
  benchmark::AddCustomContext("frugal_hugepages",
                              bench::HugePagesRequested() ? "madvise" : "off");
#if FRUGAL_BENCH_XSIMD
  benchmark::AddCustomContext("xsimd_arch", bench::XsimdArchName());
#endif

  // FRUGAL_KERNEL_LIST order; the triads last.
  bench::RegisterDot();
  bench::RegisterGather<float>("RowGatherDot", kernels::RowGatherDotVariants());
  bench::RegisterGather<bf16>("RowGatherDotBf16",
                              kernels::RowGatherDotBf16Variants());
  bench::RegisterRowAccumulate();
  bench::RegisterStreaming();
  bench::RegisterHash();
  bench::RegisterAdam();
  bench::RegisterActivations();
  bench::RegisterTopK();
  bench::RegisterTriadBenchmarks();

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
