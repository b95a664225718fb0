// Data-parallel training step costs: per step, compute time against
// gradient-exchange time and bytes, with the touched-row exchange against
// dense allreduces, for an Amazon-670K-shaped and a Criteo-shaped model.
// One process is one rank: run it under `frugal launch`, e.g.
//
//   build/apps/frugal launch -n 3 -- build/bench/frugal_dist_bench
//       --shape amazon --batch 256 --steps 8          (one command line)
//
// Options: --shape amazon|criteo, --batch N (per rank), --steps N (timed),
// --warmup N, --exchange auto|dense|sparse, --threads N (per rank, default
// 1), --hidden N, --sparsity F (amazon's output layer; default automatic). Rank 0 prints medians over the timed steps; every figure
// of bytes is what rank 0 sent (ring collectives send alike on every rank).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "kernels/hash_id.h"
#include "nn/data_parallel.h"
#include "nn/model.h"
#include "nn/synthetic.h"
#include "nn/trainer.h"

namespace {

using namespace frugal;

struct Settings {
  std::string shape = "amazon";
  size_t batch = 256, steps = 8, warmup = 2, threads = 1, hidden = 0;
  float sparsity = 0;  // output layer; 0: automatic (0.5% at 670K labels)
  nn::ExchangePolicy exchange = nn::ExchangePolicy::kAuto;
};

// Criteo-shaped samples: 13 numeric features (ids 0..12, values in
// [0, 1)) and 26 categorical ones hashed into [13, dim); the click label
// depends on a few of them, so the task is learnable.
nn::SparseDataset CriteoLike(size_t dim, size_t first, size_t count) {
  nn::SparseDataset d(dim, 2);
  std::vector<uint32_t> idx;
  std::vector<float> val;
  for (size_t i = first; i < first + count; ++i) {
    idx.clear();
    val.clear();
    for (uint32_t f = 0; f < 13; ++f) {
      idx.push_back(f);
      val.push_back(float(HashId(uint32_t(i), f + 1) % 1000) / 1000.0f);
    }
    for (uint32_t c = 0; c < 26; ++c) {
      // Column c takes one of ~dim/26 values, Zipf-skewed by squaring.
      const double u = double(HashId(uint32_t(i), 100 + c) % 1000000) / 1e6;
      const uint32_t v = uint32_t(u * u * double((dim - 13) / 26));
      idx.push_back(uint32_t(13 + (HashId(v, 1000 + c) % (dim - 13))));
      val.push_back(1.0f);
    }
    std::sort(idx.begin() + 13, idx.end());
    idx.erase(std::unique(idx.begin() + 13, idx.end()), idx.end());
    val.resize(idx.size());
    const uint32_t label = (HashId(idx[13], 7) + HashId(idx[14], 9)) % 4 == 0;
    d.Add(idx, val, std::vector<uint32_t>{label});
  }
  return d;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  Settings st;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--shape") st.shape = v;
    else if (a == "--batch") st.batch = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--steps") st.steps = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--warmup") st.warmup = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--threads") st.threads = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--hidden") st.hidden = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--sparsity") st.sparsity = std::strtof(v.c_str(), nullptr);
    else if (a == "--exchange")
      st.exchange = v == "dense"    ? nn::ExchangePolicy::kDense
                    : v == "sparse" ? nn::ExchangePolicy::kSparse
                                    : nn::ExchangePolicy::kAuto;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  dist::ConnectOptions co;
  dist::ApplyEnvironment(&co);
  co.timeout = std::chrono::milliseconds(600000);
  auto comm = dist::Connect(co);
  const int rank = comm->rank(), ranks = comm->size();
  const size_t samples = (st.warmup + st.steps) * st.batch;

  nn::SparseDataset data;
  nn::ModelConfig mc;
  if (st.shape == "amazon") {
    const nn::SyntheticConfig sc;  // 135,909 features, 670,091 labels
    data = nn::GenerateSynthetic(sc, size_t(rank) * samples, samples);
    mc = nn::AutoConfig(sc.num_features, sc.num_labels, st.hidden ? st.hidden : 128,
                        st.sparsity);
  } else if (st.shape == "criteo") {
    const size_t dim = size_t{1} << 20;
    data = CriteoLike(dim, size_t(rank) * samples, samples);
    mc = nn::AutoConfig(dim, 2, st.hidden ? st.hidden : 64);
  } else {
    std::fprintf(stderr, "--shape must be amazon or criteo\n");
    return 2;
  }
  nn::Model model(mc);
  nn::TrainConfig tc;
  tc.batch_size = st.batch;
  tc.threads = st.threads;
  tc.shuffle = false;
  tc.comm = comm.get();
  tc.exchange = st.exchange;
  nn::Trainer trainer(model, tc);

  std::vector<double> compute, exchange, bytes, dense_bytes;
  std::vector<std::vector<double>> layer_bytes(model.num_layers()),
      layer_dense(model.num_layers()), layer_rows(model.num_layers()),
      layer_union(model.num_layers()), layer_sparse(model.num_layers());
  std::vector<uint32_t> rows(st.batch);
  for (size_t s = 0; s < st.warmup + st.steps; ++s) {
    for (size_t i = 0; i < st.batch; ++i) rows[i] = uint32_t(s * st.batch + i);
    comm->Barrier();  // steps start together: exchange time is not skew
    const nn::BatchStats b = trainer.TrainBatch(data, rows.data(), st.batch, 0);
    if (s < st.warmup) continue;
    compute.push_back(b.forward_s + b.accumulate_s + b.update_s + b.index_s);
    exchange.push_back(b.exchange_s);
    bytes.push_back(double(b.exchange_bytes));
    dense_bytes.push_back(double(b.exchange_dense_bytes));
    const nn::ExchangeStats& x = trainer.last_exchange();
    for (size_t l = 0; l < x.layers.size(); ++l) {
      layer_bytes[l].push_back(double(x.layers[l].bytes));
      layer_dense[l].push_back(double(x.layers[l].dense_bytes));
      layer_rows[l].push_back(double(x.layers[l].touched_rows) / ranks);
      layer_union[l].push_back(double(x.layers[l].union_rows));
      layer_sparse[l].push_back(x.layers[l].sparse);
    }
  }
  nn::CheckReplicasIdentical(model, *comm);
  if (rank != 0) return 0;
  const char* policy = st.exchange == nn::ExchangePolicy::kDense    ? "dense"
                       : st.exchange == nn::ExchangePolicy::kSparse ? "sparse"
                                                                    : "auto";
  std::printf("%s ranks=%d batch=%zu/rank active=%zu threads=%zu exchange=%s steps=%zu: "
              "compute %.3f s, exchange %.3f s, sent %.2f MB (dense allreduces "
              "%.2f MB)\n",
              st.shape.c_str(), ranks, st.batch, model.active_size(), st.threads,
              policy, st.steps,
              Median(compute), Median(exchange), Median(bytes) / 1e6,
              Median(dense_bytes) / 1e6);
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const nn::Layer& L = model.layer(l);
    std::printf("  layer %zu (%zu x %zu): %s, touched rows/rank %.0f (%.2f%%), "
                "union %.0f (%.2f%%), sent %.2f MB vs dense %.2f MB (ratio %.3f)\n",
                l, L.w.rows, L.w.cols, Median(layer_sparse[l]) > 0.5 ? "sparse" : "dense",
                Median(layer_rows[l]), 100 * Median(layer_rows[l]) / double(L.w.rows),
                Median(layer_union[l]), 100 * Median(layer_union[l]) / double(L.w.rows),
                Median(layer_bytes[l]) / 1e6, Median(layer_dense[l]) / 1e6,
                Median(layer_bytes[l]) / std::max(1.0, Median(layer_dense[l])));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal_dist_bench: %s\n", e.what());
    return 1;
  }
}
