// NeuronIndex at the extreme-classification shape: build time, incremental
// rehash time, query latency (one core), active-set size, recall of the true
// top-10 on the synthetic clustered benchmark, and memory.
//
//   frugal_lsh_bench [--neurons N] [--dim D] [--clusters C] [--noise S]
//                    [--kind dwta|srp|minhash] [--k K] [--l L] [--cap B]
//                    [--range-bits R] [--active-frac F] [--queries Q]
#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "clustered_data.h"
#include "lsh/neuron_index.h"

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace frugal;
  using namespace frugal::lsh;
  size_t neurons = 670091, dim = 128, clusters = 13400, queries = 100;
  float noise = 0.7f, active_frac = 0.01f;
  IndexConfig c;
  c.hash.kind = HashKind::kDwta;
  c.hash.k = 4;
  c.hash.l = 40;
  c.hash.bin_size = 8;
  c.bucket_capacity = 256;
  c.range_bits = 16;
  c.selection = Selection::kFrequency;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--neurons") neurons = std::strtoull(v, nullptr, 10);
    else if (a == "--dim") dim = std::strtoull(v, nullptr, 10);
    else if (a == "--clusters") clusters = std::strtoull(v, nullptr, 10);
    else if (a == "--noise") noise = std::strtof(v, nullptr);
    else if (a == "--kind") c.hash.kind = ParseHashKind(v);
    else if (a == "--k") c.hash.k = uint32_t(std::atoi(v));
    else if (a == "--l") c.hash.l = uint32_t(std::atoi(v));
    else if (a == "--cap") c.bucket_capacity = uint32_t(std::atoi(v));
    else if (a == "--range-bits") c.range_bits = uint32_t(std::atoi(v));
    else if (a == "--active-frac") active_frac = std::strtof(v, nullptr);
    else if (a == "--queries") queries = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  c.max_active = size_t(active_frac * float(neurons));

  std::printf("config: %zu neurons x %zu, %zu clusters, noise %.2f; %s k=%u "
              "l=%u bin=%u cap=%u range_bits=%u, max_active %zu\n",
              neurons, dim, clusters, noise, HashKindName(c.hash.kind),
              c.hash.k, c.hash.l, c.hash.bin_size, c.bucket_capacity,
              c.range_bits, c.max_active);
  auto t0 = Clock::now();
  Clustered data(neurons, dim, clusters, noise, queries, 11);
  std::printf("generated in %.1f s\n", Seconds(t0, Clock::now()));

  NeuronIndex index(c, neurons, dim);
  std::vector<double> builds;
  for (int r = 0; r < 3; ++r) {
    auto b0 = Clock::now();
    index.Build(data.view());
    builds.push_back(Seconds(b0, Clock::now()));
  }
  const IndexStats st = index.Stats();
  std::printf("build (all threads): median %.3f s of 3\n",
              Percentile(builds, 0.5));
  std::printf("memory: tables %.1f MB (%.2f MB per table), bucket codes "
              "%.1f MB; %u buckets/table, %zu ids stored, %zu non-empty\n",
              st.table_bytes / 1e6, st.table_bytes / 1e6 / c.hash.l,
              st.codes_bytes / 1e6, st.buckets_per_table, st.stored_ids,
              st.non_empty_buckets);

  // Query latency on one core.
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    QueryScratch scratch(neurons);
    std::vector<uint32_t> active;
    active.reserve(c.max_active + 16);
    std::vector<double> lat;
    double active_sum = 0;
    for (int rep = 0; rep < 10; ++rep) {
      for (const auto& q : data.queries) {
        auto q0 = Clock::now();
        index.Query(q.data(), {}, 0, scratch, active);
        lat.push_back(Seconds(q0, Clock::now()) * 1e6);
        active_sum += double(active.size());
      }
    }
    std::printf("query (1 core, %zu queries): median %.1f us, p90 %.1f us, "
                "p99 %.1f us; mean active %.0f (%.2f%% of layer)\n",
                lat.size(), Percentile(lat, 0.5), Percentile(lat, 0.9),
                Percentile(lat, 0.99), active_sum / double(lat.size()),
                100.0 * active_sum / double(lat.size()) / double(neurons));
  }

  size_t max_seen = 0;
  const double recall = Recall(index, data, &max_seen);
  std::printf("recall of exact top-10: %.3f (largest active set %zu = "
              "%.2f%%)\n",
              recall, max_seen, 100.0 * double(max_seen) / double(neurons));

  // Incremental rehash after an update touched a fraction of the neurons.
  std::mt19937 rng(5);
  for (double frac : {0.01, 0.1}) {
    std::vector<uint32_t> ids;
    std::normal_distribution<float> g(0.0f, 0.05f);
    for (size_t i = 0; i < size_t(frac * double(neurons)); ++i) {
      const uint32_t id = uint32_t(rng() % neurons);
      for (size_t d = 0; d < dim; ++d) data.w[id * dim + d] += g(rng);
      ids.push_back(id);
    }
    index.MarkChanged(ids);
    auto r0 = Clock::now();
    const size_t n = index.RehashChanged(data.view());
    std::printf("incremental rehash of %zu changed neurons (%.0f%%): %.3f s\n",
                n, frac * 100, Seconds(r0, Clock::now()));
  }
  return 0;
}
